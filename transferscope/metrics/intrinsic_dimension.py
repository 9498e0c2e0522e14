"""TwoNN intrinsic dimension (Facco et al. 2017), following the code of Ansuini et al. (2019).

Procedure (methods notes, thesis A):
  1. Euclidean distances in float64; r1, r2 = distances to the first and second nearest neighbour.
  2. Drop points with r1 = 0 (duplicates) or r1 = r2 (degenerate ratio); N = points left.
  3. μ = r2 / r1, sorted ascending; empirical CDF F_i = i / N for i = 1..N.
  4. Drop the last 2 points (1 − F = 0 at the last one).
  5. Fit −log(1 − F) = d · log μ by least squares through the origin on the first ⌊fraction·N⌋ points;
     ID = d = Σ x y / Σ x².

Neighbour search: candidate neighbours come from block-wise ‖a‖² + ‖b‖² − 2a·b distances computed in float32
(half the cost of float64 products); the distances to the best candidates of every point are then recomputed
directly in float64 as ‖x_i − x_j‖, so duplicates give an exact r1 = 0 and ties an exact r1 = r2, as with a
directly computed float64 distance matrix. Rounding of the float32 search can only reorder points whose squared
distances differ by ~1e-7·‖x‖²; eight candidates per point are re-checked, so the two true nearest neighbours are
among them unless more than eight points tie that closely.
"""

from __future__ import annotations

import math

import numpy as np

from ._arrays import as_matrix, matmul, pairwise_sq_dists, row_chunks, sq_norms
from transferscope.lazy import lazy_module

torch = lazy_module("torch")

__all__ = ["twonn", "twonn_subsets", "two_nearest_distances", "twonn_from_distances"]

_N_CANDIDATES = 8  # approximate (float32) neighbours re-checked exactly (float64) per point


def _exact_first_two(X: torch.Tensor, cand: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact distances from each row of X to its candidate rows; return the two smallest (r1 ≤ r2).

    One candidate column at a time, reusing an n×d buffer: no n×k×d temporary (memory traffic dominates here).
    """
    n, k = cand.shape
    d = torch.empty(n, k, dtype=torch.float64, device=X.device)
    buf = torch.empty_like(X)
    for c in range(k):
        torch.index_select(X, 0, cand[:, c], out=buf)
        buf.sub_(X)
        d[:, c] = torch.linalg.vector_norm(buf, dim=1)
    r = torch.topk(d, 2, dim=1, largest=False).values  # sorted ascending
    return r[:, 0], r[:, 1]


def _candidates(sq_dists: torch.Tensor, k: int) -> torch.Tensor:
    """n×k indices of the k nearest other points of every point by a precomputed n×n squared-distance matrix."""
    n = sq_dists.shape[0]
    cand = torch.empty(n, k, dtype=torch.int64, device=sq_dists.device)
    for sl in row_chunks(n, n):
        block = sq_dists[sl].clone()
        rows = torch.arange(sl.stop - sl.start, device=sq_dists.device)
        block[rows, rows + sl.start] = float("inf")
        cand[sl] = torch.topk(block, k, dim=1, largest=False).indices
    return cand


class _PairDistances:
    """Exact float64 distances ‖x_i − x_j‖ of point pairs, each computed once (directly, not from the Gram form)
    and kept in an n×n cache: subsets of the same points mostly share their nearest-neighbour pairs."""

    def __init__(self, X: torch.Tensor):
        self.X = X
        self.cache = torch.full((X.shape[0], X.shape[0]), float("nan"), dtype=torch.float64, device=X.device)
        self.pairs_per_chunk = max(1, (1 << 23) // max(1, X.shape[1]))  # ≤ 64 MiB of differences at a time

    def __call__(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """Distances of the pairs (i[a], j[a]) for index tensors of one shape."""
        todo = torch.isnan(self.cache[i, j])
        pi, pj = i[todo], j[todo]
        for start in range(0, len(pi), self.pairs_per_chunk):
            a, b = pi[start:start + self.pairs_per_chunk], pj[start:start + self.pairs_per_chunk]
            d = torch.linalg.vector_norm(self.X[b] - self.X[a], dim=1)
            self.cache[a, b] = d
            self.cache[b, a] = d  # ‖x_a − x_b‖ = ‖x_b − x_a‖ exactly: negation does not round
        return self.cache[i, j]


def two_nearest_distances(X, sq_dists: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distances (r1, r2) of every sample to its first and second nearest other sample.

    Args:
        X: n×d points (n ≥ 3), numpy or torch; extra axes flattened.
        sq_dists: optional precomputed n×n squared-distance matrix used only to pick candidates.

    Returns:
        Two float64 numpy arrays of length n, in the units of X.
    """
    X = as_matrix(X, min_rows=3)
    n = X.shape[0]
    k = min(_N_CANDIDATES, n - 1)
    cand = torch.empty(n, k, dtype=torch.int64, device=X.device)
    if sq_dists is not None:
        cand = _candidates(sq_dists, k)
    else:
        Xs = (X - X.mean(dim=0, keepdim=True)).to(torch.float32)  # centred: smaller norms, smaller rounding
        s = sq_norms(Xs)
        for sl in row_chunks(n, n, bytes_per_item=4):
            # ‖x_j‖² − 2 x_i·x_j ranks the neighbours of x_i like ‖x_i − x_j‖² (‖x_i‖² is constant in j)
            block = matmul(Xs[sl], Xs.T).mul_(-2.0).add_(s[None, :])
            rows = torch.arange(sl.stop - sl.start, device=X.device)
            block[rows, rows + sl.start] = float("inf")
            cand[sl] = torch.topk(block, k, dim=1, largest=False).indices
    r1, r2 = _exact_first_two(X, cand)
    return r1.cpu().numpy(), r2.cpu().numpy()


def twonn_from_distances(r1, r2, fraction: float = 0.9) -> float:
    """TwoNN estimate from first/second neighbour distances (steps 2–5 of the module docstring).

    Returns NaN if fewer than 3 usable points remain.
    """
    r1 = np.asarray(r1, dtype=np.float64)
    r2 = np.asarray(r2, dtype=np.float64)
    if not 0.0 < fraction <= 1.0:
        raise ValueError("fraction must be in (0, 1]")
    good = (r1 > 0) & (r1 != r2)
    r1, r2 = r1[good], r2[good]
    n_good = r1.shape[0]
    if n_good < 3:
        return float("nan")
    mu = np.sort(r2 / r1)
    F = np.arange(1, n_good + 1, dtype=np.float64) / n_good
    x = np.log(mu[:-2])
    y = -np.log(1.0 - F[:-2])
    n_fit = int(math.floor(n_good * fraction))
    x, y = x[:n_fit], y[:n_fit]
    denom = float(np.dot(x, x))
    if denom == 0.0:
        return float("nan")
    return float(np.dot(x, y) / denom)


def twonn(X, fraction: float = 0.9, n_subsets: int = 0, seed: int = 0) -> float:
    """TwoNN intrinsic dimension of a point cloud.

    Args:
        X: n×d points (numpy or torch; extra axes flattened), n ≥ 3. Euclidean distances in float64.
        fraction: share of the sorted ratios used in the fit (Ansuini et al.: 0.9).
        n_subsets: 0 → one estimate on all points; k > 0 → mean of :func:`twonn_subsets` over k random
            90 % subsets (seeded by ``seed``).
        seed: seed of the subset draws (unused when n_subsets = 0).

    Returns:
        The estimated dimension d (a float, unitless; NaN when fewer than 3 usable points remain).

    Invariances: translation, rotation, isotropic scaling of X, permutation of samples. Not invariant to
    non-isotropic scaling. Duplicate points are dropped, not counted.
    """
    if n_subsets:
        return twonn_subsets(X, n_subsets=n_subsets, seed=seed, fraction=fraction)[0]
    r1, r2 = two_nearest_distances(X)
    return twonn_from_distances(r1, r2, fraction)


def twonn_subsets(
    X, n_subsets: int = 50, subset_fraction: float = 0.9, seed: int = 0, fraction: float = 0.9
) -> tuple[float, float]:
    """TwoNN on ``n_subsets`` random subsets of ⌊subset_fraction·n⌋ samples drawn without replacement.

    Subsets come from ``numpy.random.default_rng(seed)`` (the original was unseeded). Neighbours are searched
    within each subset. For n ≤ 8192 the squared-distance matrix is computed once and reused, and the exact
    distance of every candidate pair is computed once for all subsets (the same values as computing each subset
    on its own, with a fraction of the O(d) work).

    Returns:
        ``(mean, std)`` of the estimates (population std, ddof = 0), as Python floats.
    """
    X = as_matrix(X, min_rows=3)
    n = X.shape[0]
    m = int(math.floor(subset_fraction * n))
    if m < 3:
        raise ValueError(f"a subset of {m} samples is too small for TwoNN")
    if n_subsets < 1:
        raise ValueError("n_subsets must be ≥ 1")
    rng = np.random.default_rng(seed)
    full = pairwise_sq_dists(X) if n <= 8192 else None
    exact = _PairDistances(X) if full is not None else None
    k = min(_N_CANDIDATES, m - 1)
    ids = []
    for _ in range(n_subsets):
        idx = torch.as_tensor(np.sort(rng.choice(n, size=m, replace=False)), device=X.device)
        if full is None:
            r1, r2 = two_nearest_distances(X[idx])
        else:  # candidates within the subset, exact distances of candidate pairs from the cache
            cand = idx[_candidates(full[idx][:, idx], k)]
            r = torch.topk(exact(idx[:, None].expand_as(cand), cand), 2, dim=1, largest=False).values
            r1, r2 = r[:, 0].cpu().numpy(), r[:, 1].cpu().numpy()
        ids.append(twonn_from_distances(r1, r2, fraction))
    arr = np.asarray(ids, dtype=np.float64)
    return float(arr.mean()), float(arr.std())
