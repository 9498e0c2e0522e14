"""Persistent-homology backends on the RTD loss's R-Cross matrix, side by side in one run.

The ensembles' RTD loss (thesis B's SSE–RTD) needs, at every training step, the dimension-1 persistence pairs of
the Rips filtration of the 2P×2P matrix M(P points) *with their generating edges* (to gather the gradient). This
times one such computation per backend on the same matrices, P = 64, 128, 256 points of 2048-d features (thesis B's
ResNet-50 pooled features) against a noisy copy:

- ``gudhi``: ``RipsComplex`` + ``flag_persistence_generators`` (what ``persistence_pairs`` uses; generators);
- ``giotto-ph``: ``ripser_parallel(..., return_generators=True)`` with 1 and 2 threads (generators);
- ``ripser``: ripser.py (bars only, no generators: the RTD *metric*'s backend, for reference).

It also checks that the backends give the same H1 bars (sorted (birth, death) values). No GPU
persistent-homology package installs from the registries here (ripser++ needs a CUDA build from source), so the
loss stays on the CPU whatever the device of the features.

Usage: python benchmarks/bench_ph_backends.py [--points 64 128 256] [--dim 2048] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from transferscope.ensembles.losses.similarity import cross_matrices, feature_distances  # noqa: E402


def r_cross(points: int, dim: int, seed: int) -> np.ndarray:
    """The loss's first-direction matrix M(D_R, D_Z) for random ReLU features and a noisy copy (float64)."""
    g = torch.Generator().manual_seed(seed)
    reference = torch.randn(points, dim, generator=g).relu()
    features = (reference + 0.3 * torch.randn(points, dim, generator=g)).relu()
    M, _ = cross_matrices(feature_distances(reference), feature_distances(features), immovable=1)
    return M.double().numpy()


def gudhi_bars(M: np.ndarray) -> np.ndarray:
    import gudhi

    tree = gudhi.RipsComplex(distance_matrix=M).create_simplex_tree(max_dimension=2)
    tree.compute_persistence(homology_coeff_field=2, persistence_dim_max=False)
    pairs = np.asarray(tree.flag_persistence_generators()[1][0], dtype=np.int64).reshape(-1, 4)
    return np.stack([M[pairs[:, 0], pairs[:, 1]], M[pairs[:, 2], pairs[:, 3]]], axis=1)


def giotto_bars(M: np.ndarray, threads: int) -> np.ndarray:
    from gph import ripser_parallel

    out = ripser_parallel(M, metric="precomputed", maxdim=1, n_threads=threads, return_generators=True)
    pairs = np.asarray(out["gens"][1][0], dtype=np.int64).reshape(-1, 4)  # finite H1: birth edge, death edge
    return np.stack([M[pairs[:, 0], pairs[:, 1]], M[pairs[:, 2], pairs[:, 3]]], axis=1)


def ripser_bars(M: np.ndarray) -> np.ndarray:
    from ripser import ripser

    bars = np.asarray(ripser(M, distance_matrix=True, maxdim=1)["dgms"][1], dtype=np.float64).reshape(-1, 2)
    return bars[np.isfinite(bars).all(axis=1)]


BACKENDS = {
    "gudhi (generators)": gudhi_bars,
    "giotto-ph 1 thread (generators)": lambda M: giotto_bars(M, 1),
    "giotto-ph 2 threads (generators)": lambda M: giotto_bars(M, 2),
    "ripser.py (bars only)": ripser_bars,
}


def canonical(bars: np.ndarray) -> np.ndarray:
    """Non-zero bars, float32-rounded (the backends' own precision), sorted."""
    bars = np.asarray(bars, dtype=np.float32)
    bars = bars[bars[:, 1] > bars[:, 0]]
    return bars[np.lexsort((bars[:, 1], bars[:, 0]))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    names = list(BACKENDS)
    print(f"| points | {' | '.join(names)} | same H1 bars |")
    print("|---:|" + "---:|" * len(names) + "---|")
    for points in args.points:
        M = r_cross(points, args.dim, seed=points)
        times, differ = [], []
        reference = canonical(BACKENDS[names[0]](M))
        for name in names:
            best = float("inf")
            for _ in range(args.repeats):  # every repeat's bars are checked: a threaded backend may vary
                start = time.perf_counter()
                result = canonical(BACKENDS[name](M))
                best = min(best, time.perf_counter() - start)
                if result.shape != reference.shape or not np.allclose(result, reference, atol=1e-5):
                    differ.append(name)
            times.append(best)
        same = "yes" if not differ else "NO: " + ", ".join(sorted(set(differ)))
        print(f"| {points} | " + " | ".join(f"{t:.3f} s" for t in times) + f" | {same} ({len(reference)} bars) |",
              flush=True)


if __name__ == "__main__":
    main()
