"""Class-stratified bootstrap of the class-separation metrics, computed from weighted sums (no resampled copies).

A bootstrap replicate redraws, within every class c, m_c of its m_c samples with replacement; it is described by
the count vector w (w_i = how often sample i was drawn; Σ_{i∈c} w_i = m_c, so class sizes stay fixed). For B
replicates the counts form a B×n matrix W, and every replicate's statistic follows from the products W·X
restricted to each class: O(B·n·d) in all, with no B×n×d tensor.

Both statistics are written over pairs of samples and a replicate weights the pair of *distinct* samples (i, j)
by w_i·w_j: a sample drawn twice is never paired with itself, whose zero distance would bias the replicate.

* :func:`sum_of_squares_bootstrap`: SSW/TSS in pair form, SSW = Σ_c (m_c − 1)/2 · mean_{i≠j∈c} ‖x_i − x_j‖² and
  TSS = (n − 1)/2 · mean_{i≠j} ‖x_i − x_j‖². (Plain SSW/TSS of the resampled rows ``X[idx]`` is biased low,
  by about (m_c − 1)/m_c, because duplicates shrink the within-class spread.)
* :func:`rsa_bootstrap`: the RDM class contrast, mean correlation distance within minus between classes.

With all weights 1 both equal the point estimates.

:func:`percentile_interval` turns the replicate values into a percentile interval.
"""

from __future__ import annotations

import numpy as np

from ._arrays import as_labels, as_matrix
from .rsa import _standardise_rows

__all__ = ["stratified_bootstrap_counts", "sum_of_squares_bootstrap", "rsa_bootstrap", "percentile_interval"]


def stratified_bootstrap_counts(y, n_boot: int, seed: int = 0) -> np.ndarray:
    """B×n float64 counts of ``n_boot`` class-stratified bootstrap replicates of the n samples labelled ``y``.

    Row b holds how often each sample was drawn in replicate b; within every class the counts sum to the class
    size. Deterministic for a given ``seed``.
    """
    codes, n_classes = as_labels(y)
    codes = codes.numpy()
    n = len(codes)
    rng = np.random.default_rng(seed)
    W = np.zeros(n_boot * n)
    offsets = (np.arange(n_boot) * n)[:, None]
    for c in range(n_classes):
        members = np.flatnonzero(codes == c)
        draws = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
        W += np.bincount((offsets + draws).ravel(), minlength=n_boot * n)
    return W.reshape(n_boot, n)


def _class_blocks(codes: np.ndarray, n_classes: int) -> list[np.ndarray]:
    return [np.flatnonzero(codes == c) for c in range(n_classes)]


def sum_of_squares_bootstrap(X, y, n_boot: int = 200, seed: int = 0, weights: np.ndarray | None = None) -> np.ndarray:
    """SSW/TSS (see :func:`sum_of_squares`) of ``n_boot`` class-stratified bootstrap replicates.

    Args:
        X: n×d activations; y: n labels; seed: replicate draws; weights: a B×n count matrix to use instead of
            drawing one (e.g. all ones: the point estimate).

    Returns:
        float64 array of B replicate values (0 where a replicate's TSS is 0, as the point estimate).
    """
    X = as_matrix(X).cpu().numpy()
    codes, n_classes = as_labels(y, X.shape[0])
    codes = codes.numpy()
    W = stratified_bootstrap_counts(codes, n_boot, seed) if weights is None else np.asarray(weights, np.float64)
    Xc = X - X.mean(axis=0)
    n = X.shape[0]
    tss = (n - 1) / 2.0 * _mean_pair_sq_dist(Xc, W)
    ssw = np.zeros(W.shape[0])
    for idx in _class_blocks(codes, n_classes):
        if len(idx) > 1:  # the residuals' pair distances equal the rows' (shift invariance), better conditioned
            ssw += (len(idx) - 1) / 2.0 * _mean_pair_sq_dist(Xc[idx] - Xc[idx].mean(axis=0), W[:, idx])
    return np.where(tss > 0, ssw / np.where(tss > 0, tss, 1.0), 0.0)


def _mean_pair_sq_dist(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Per replicate, Σ_{i≠j} w_i w_j ‖x_i − x_j‖² / Σ_{i≠j} w_i w_j (0 without a distinct pair).

    Σ_{i,j} w_i w_j ‖x_i − x_j‖² = 2 (Σ w)(Σ w ‖x‖²) − 2 ‖Σ w x‖² (the i = j terms are 0).
    """
    num = 2.0 * (W.sum(axis=1) * (W @ np.einsum("ij,ij->i", X, X)) - _sq_norms_of_product(W, X))
    pairs = _distinct_pair_weight(W)
    return np.where(pairs > 0, np.maximum(num, 0.0) / np.where(pairs > 0, pairs, 1.0), 0.0)


def _sq_norms_of_product(W: np.ndarray, X: np.ndarray, block: int = 8192) -> np.ndarray:
    """‖(W X)_b‖² for each row b of the B×n weights W and n×d X, over blocks of ``block`` columns: the B×d product
    of a flattened conv layer (1.3 GB for B = 200, d = 800k) is never formed."""
    out = np.zeros(W.shape[0])
    for start in range(0, X.shape[1], block):
        part = W @ X[:, start:start + block]
        out += np.einsum("bj,bj->b", part, part)
    return out


def _distinct_pair_weight(W: np.ndarray) -> np.ndarray:
    """Per replicate, Σ_{i≠j} w_i w_j = (Σ w)² − Σ w² (B values for a B×n count matrix)."""
    return W.sum(axis=1) ** 2 - (W * W).sum(axis=1)


def rsa_bootstrap(X, y, n_boot: int = 200, seed: int = 0, weights: np.ndarray | None = None) -> np.ndarray:
    """RSA class contrast (see :func:`rsa`) of ``n_boot`` class-stratified bootstrap replicates.

    Each replicate weights the pair of distinct samples (i, j) by w_i·w_j:
    mean within = 1 − Σ_{c} [‖Σ_{i∈c} w_i z_i‖² − Σ_{i∈c} w_i² ‖z_i‖²] / Σ_c [(Σ_{i∈c} w_i)² − Σ_{i∈c} w_i²], and
    likewise over all pairs, with z_i the standardised rows (Pearson(x_i, x_j) = z_i·z_j).

    Returns:
        float64 array of B replicate values (NaN where a replicate has no within- or between-class pair).
    """
    X = as_matrix(X)
    codes, n_classes = as_labels(y, X.shape[0])
    codes = codes.numpy()
    Z = _standardise_rows(X)[0].cpu().numpy()
    zz = np.einsum("ij,ij->i", Z, Z)  # 1, or 0 for constant rows
    W = stratified_bootstrap_counts(codes, n_boot, seed) if weights is None else np.asarray(weights, np.float64)
    W2 = W * W
    pairs_all = _distinct_pair_weight(W)
    corr_all = _sq_norms_of_product(W, Z) - W2 @ zz
    pairs_w = np.zeros(W.shape[0])
    corr_w = np.zeros(W.shape[0])
    for idx in _class_blocks(codes, n_classes):
        Wc = W[:, idx]
        pairs_w += _distinct_pair_weight(Wc)
        corr_w += _sq_norms_of_product(Wc, Z[idx]) - W2[:, idx] @ zz[idx]
    pairs_b = pairs_all - pairs_w
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_w = 1.0 - corr_w / pairs_w
        mean_b = 1.0 - (corr_all - corr_w) / pairs_b
    out = np.abs(mean_w - mean_b)
    out[(pairs_w <= 0) | (pairs_b <= 0)] = np.nan
    return out


def percentile_interval(values, level: float = 0.95) -> tuple[float, float]:
    """Central percentile interval of the finite ``values`` at ``level`` (NaNs if none is finite)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(v, [tail, 100.0 - tail])
    return float(low), float(high)
