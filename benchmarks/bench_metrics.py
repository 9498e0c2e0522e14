"""Benchmark transferscope.metrics against public reference implementations.

Compares, on random-but-structured activations (low-rank class structure + isotropic noise, with labels):
  * twonn            vs scikit-dimension ``skdim.id.TwoNN(discard_fraction=1 - fraction)``
  * rdm              vs rsatoolbox ``calc_rdm(Dataset(X), method="correlation")`` (max |ΔD| over all entries)
  * rsa              vs the masked class contrast computed from rsatoolbox's RDM (time includes calc_rdm)
  * linear_cka       vs three plain numpy CKAs: the feature-space form and the Gram form with mean-based
                     centring of Kornblith et al.'s reference code (``feature_space_linear_cka``,
                     ``cka(gram_linear(X), gram_linear(Y))``), and the Gram form centred with an explicit n×n
                     matrix H (HKH inside every HSIC call, the form of widely copied numpy snippets); the
                     unbiased variant vs a numpy Gram-form unbiased HSIC (Song et al. 2012). Ours runs in float64
                     and with ``precision="float32"``, on the n×d arrays and on a wide n×D pair (flattened conv
                     maps: D > n), where the feature-space form needs D×D products.

TwoNN semantics: skdim ≥ 0.5 drops points with r1 = 0, sorts μ = r2/r1, uses F_i = i/N and fits the first
int(N·(1 − discard_fraction)) points through the origin. Ours (Ansuini et al.) also drops r1 = r2 and the
last two points, and fits the first ⌊fraction·N⌋ points. With continuous data (no ties, no duplicates) and
discard_fraction = 1 − fraction both fit the same points with the same F, so the values must agree up to
rounding of the distances.

Usage: python benchmarks/bench_metrics.py [--n 5000] [--d 2048] [--wide-n 1000] [--wide-d 8192] [--seed 0]
       [--repeats 1]
Needs ``pip install scikit-dimension rsatoolbox`` (not needed by the tests).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata as md
import os
import platform
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from transferscope.metrics import linear_cka, rdm, rsa, twonn  # noqa: E402


def structured_data(n: int, d: int, seed: int, n_classes: int = 10, rank: int = 20):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    basis = rng.normal(size=(rank, d)) / np.sqrt(rank)
    class_means = rng.normal(size=(n_classes, rank)) * 1.5
    latent = class_means[y] + rng.normal(size=(n, rank))
    X = latent @ basis + 0.3 * rng.normal(size=(n, d))
    # a second "layer": a non-linear map of the same latent plus other noise
    W = rng.normal(size=(rank, d)) / np.sqrt(rank)
    Y = np.maximum(latent @ W, 0.0) + 0.3 * rng.normal(size=(n, d))
    return X, Y, y


REPEATS = 1


def timed(fn, *args, **kwargs):
    """Run fn REPEATS times; return its (last) result and the best wall time in seconds."""
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return out, best


def numpy_cka(X, Y):
    """Feature-space biased linear CKA in float64 (as ``feature_space_linear_cka`` of Kornblith et al.)."""
    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    return float(np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))


def numpy_cka_gram(X, Y):
    """Gram-form biased linear CKA with mean-based centring (``cka(gram_linear(X), gram_linear(Y))``)."""

    def center(G):
        means = G.mean(axis=0)
        means -= means.mean() / 2
        G = G - means[:, None]
        G -= means[None, :]
        return G

    K, L = center(X @ X.T), center(Y @ Y.T)
    return float(K.ravel() @ L.ravel() / (np.linalg.norm(K) * np.linalg.norm(L)))


def numpy_cka_centering_matrix(X, Y):
    """Gram-form biased linear CKA centred with an explicit H = I − 11ᵀ/n inside every HSIC call."""
    n = X.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n

    def hsic(K, L):
        return np.sum((H @ K @ H) * (H @ L @ H))

    K, L = X @ X.T, Y @ Y.T
    return float(hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L)))


def numpy_unbiased_cka(X, Y):
    def hsic(K, L):
        n = K.shape[0]
        K = K.copy()
        L = L.copy()
        np.fill_diagonal(K, 0.0)
        np.fill_diagonal(L, 0.0)
        k1, l1 = K.sum(axis=1), L.sum(axis=1)
        return ((K * L).sum() + k1.sum() * l1.sum() / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * k1 @ l1) / (n * (n - 3))

    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    K, L = X @ X.T, Y @ Y.T
    return float(hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L)))


def masked_contrast(D, y):
    same = y[:, None] == y[None, :]
    off = ~np.eye(len(y), dtype=bool)
    return float(abs(D[same & off].mean() - D[~same].mean()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--d", type=int, default=2048)
    ap.add_argument("--wide-n", type=int, default=1000, help="samples of the wide CKA pair")
    ap.add_argument("--wide-d", type=int, default=8192, help="features of the wide CKA pair (> wide-n)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fraction", type=float, default=0.9)
    ap.add_argument("--repeats", type=int, default=1, help="best-of-k timing for every entry")
    args = ap.parse_args()
    global REPEATS
    REPEATS = max(1, args.repeats)

    import skdim
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm

    # warm-up on tiny data so one-off start-up costs (thread pools, lazy imports) are not timed
    Xw, Yw, yw = structured_data(64, 16, 1)
    twonn(Xw), rdm(Xw), rsa(Xw, yw), linear_cka(Xw, Yw), linear_cka(Xw, Yw, unbiased=True)
    skdim.id.TwoNN().fit(Xw), calc_rdm(Dataset(Xw), method="correlation"), numpy_cka(Xw, Yw)
    linear_cka(Xw, Yw, precision="float32"), numpy_cka_gram(Xw, Yw), numpy_cka_centering_matrix(Xw, Yw)

    X, Y, y = structured_data(args.n, args.d, args.seed)
    rows = []

    ours, t_ours = timed(twonn, X, fraction=args.fraction)
    est, t_ref = timed(lambda: skdim.id.TwoNN(discard_fraction=1.0 - args.fraction).fit(X))
    rows.append(("twonn (ID)", ours, float(est.dimension_), t_ours, t_ref, "skdim.id.TwoNN"))

    D_ours, t_ours = timed(rdm, X)
    rdms, t_ref = timed(lambda: calc_rdm(Dataset(X), method="correlation"))
    D_ref = rdms.get_matrices()[0]
    iu = np.triu_indices(args.n, k=1)
    diff = float(np.abs(D_ours[iu] - D_ref[iu]).max())
    rows.append(("rdm (mean D, max abs diff)", float(D_ours[iu].mean()), float(D_ref[iu].mean()), t_ours, t_ref,
                 "rsatoolbox calc_rdm correlation", diff))
    del D_ours

    ours, t_ours = timed(rsa, X, y)
    ref, t_mask = timed(masked_contrast, D_ref, y)
    rows.append(("rsa (class contrast)", ours, ref, t_ours, t_ref + t_mask, "rsatoolbox RDM + label masks"))
    del D_ref, rdms

    cka_refs = [
        (numpy_cka, "numpy feature-space CKA (float64)"),
        (numpy_cka_gram, "numpy Gram-form CKA, mean centring"),
        (numpy_cka_centering_matrix, "numpy Gram-form CKA, H·K·H"),
    ]
    for tag, (A, B) in (("", (X, Y)), (f", wide {args.wide_n}×{args.wide_d}", structured_data(
            args.wide_n, args.wide_d, args.seed + 1)[:2])):
        ours64, t64 = timed(linear_cka, A, B)
        ours32, t32 = timed(linear_cka, A, B, precision="float32")
        for ref_fn, ref_name in cka_refs:
            ref, t_ref = timed(ref_fn, A, B)
            rows.append((f"linear_cka{tag}", ours64, ref, t64, t_ref, ref_name))
            rows.append((f"linear_cka{tag}, precision=float32", ours32, ref, t32, t_ref, ref_name))
    ours, t_ours = timed(linear_cka, X, Y, unbiased=True)
    ref, t_ref = timed(numpy_unbiased_cka, X, Y)
    rows.append(("linear_cka (unbiased)", ours, ref, t_ours, t_ref, "numpy Gram-form unbiased HSIC"))
    ours, t_ours = timed(linear_cka, X, Y, unbiased=True, precision="float32")
    rows.append(("linear_cka (unbiased), precision=float32", ours, ref, t_ours, t_ref,
                 "numpy Gram-form unbiased HSIC"))

    print(f"date: {datetime.date.today().isoformat()}  n={args.n} d={args.d} wide CKA pair {args.wide_n}×"
          f"{args.wide_d} seed={args.seed} "
          f"timing: best of {REPEATS}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"scikit-dimension {md.version('scikit-dimension')}, rsatoolbox {md.version('rsatoolbox')}")
    print()
    print("| metric | reference | value_ours | value_ref | abs diff | time_ours (s) | time_ref (s) | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        name, vo, vr, to, tr, refname = row[:6]
        diff = row[6] if len(row) > 6 else abs(vo - vr)
        print(f"| {name} | {refname} | {vo:.6f} | {vr:.6f} | {diff:.2e} | {to:.2f} | {tr:.2f} | {tr / to:.1f}× |")


if __name__ == "__main__":
    main()
