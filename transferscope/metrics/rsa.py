"""Representational similarity analysis: correlation-distance RDMs, the class contrast and RDM vs RDM.

D_ij = 1 − Pearson(x_i, x_j), computed across the features of samples i and j (rows).

Constant rows. A sample whose activations are all equal (e.g. a dead ReLU layer) has no Pearson
correlation with anything (0/0). We treat such a row as uncorrelated with every other sample: its distance
to and from any other sample is exactly 1, and its diagonal entry is 0 like every other. This is what one
gets by giving the constant row a standardised vector of zeros. :func:`count_constant_rows` (or
``rdm(X, return_n_constant=True)``) reports how many rows were handled that way, so pipelines can log it.
A row counts as constant when its maximum equals its minimum exactly.
"""

from __future__ import annotations

import numpy as np

from ._arrays import as_labels, as_matrix
from transferscope.lazy import lazy_module

torch = lazy_module("torch")
stats = lazy_module("scipy.stats")

__all__ = ["rdm", "count_constant_rows", "rsa", "rsa_between", "rsa_between_rdms"]


def _standardise_rows(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows centred and scaled to unit norm, so that Pearson(x_i, x_j) = z_i · z_j.

    Constant rows become zero vectors. Returns (Z, constant_mask).
    """
    constant = X.amax(dim=1) == X.amin(dim=1)
    Z = X - X.mean(dim=1, keepdim=True)  # the only n×d copy: a flattened conv layer can be gigabytes
    Z[constant] = 0.0
    norms = torch.linalg.vector_norm(Z, dim=1, keepdim=True)
    return Z.div_(norms.masked_fill_(constant[:, None], 1.0)), constant


def count_constant_rows(X) -> int:
    """Number of samples (rows of the flattened n×d array) whose features are all equal."""
    X = as_matrix(X)
    return int((X.amax(dim=1) == X.amin(dim=1)).sum())


def rdm(X, return_n_constant: bool = False):
    """Representational dissimilarity matrix of correlation distances.

    Args:
        X: n×d activations (numpy or torch; extra axes flattened). Rows are samples, Pearson runs over features.
        return_n_constant: also return the number of constant rows (see module docstring).

    Returns:
        ``D``, an n×n float64 numpy array with D_ij = 1 − Pearson(x_i, x_j), symmetric, zero diagonal, values in
        [0, 2] (clipped against rounding); or ``(D, n_constant)``. Distances to/from a constant row are 1.

    Invariances: per-row affine maps x_i → a_i x_i + b_i with a_i > 0 (hence translation and scaling of
    each sample), and a common permutation of the features. Not invariant to rotations of feature space.
    """
    X = as_matrix(X)
    Z, constant = _standardise_rows(X)
    if Z.device.type == "cpu":
        Zn = Z.numpy()
        D = np.matmul(Zn, Zn.T)  # numpy computes A·Aᵀ with syrk: half the work, exactly symmetric
        if not np.array_equal(D, D.T):  # guard, should numpy ever stop doing so
            D = 0.5 * (D + D.T)
    else:
        G = Z @ Z.T
        D = (0.5 * (G + G.T)).cpu().numpy()
    np.subtract(1.0, D, out=D)
    np.clip(D, 0.0, 2.0, out=D)
    np.fill_diagonal(D, 0.0)
    if return_n_constant:
        return D, int(constant.sum())
    return D


def rsa(X, y) -> float:
    """Class contrast of the correlation-distance RDM (thesis A's RSA, computed as intended).

    RSA = | mean_{i≠j, y_i = y_j} D_ij − mean_{y_i ≠ y_j} D_ij |, with D as in :func:`rdm`.

    Order-free: only the label masks matter, never the order of the samples (the original code used
    test-set order by mistake; see the methods notes). Computed in O(n·d) without forming D, using
    Σ_{i≠j∈S} z_i·z_j = ‖Σ_{i∈S} z_i‖² − Σ_{i∈S} ‖z_i‖² for the standardised rows z_i.

    Args:
        X: n×d activations (numpy or torch; extra axes flattened).
        y: n class labels; needs at least one within-class pair and one between-class pair.

    Returns:
        A float in [0, 2] (unitless). Larger = more class structure. Constant rows are handled as in :func:`rdm`.

    Invariances: as :func:`rdm`, plus permutation of samples and renaming of labels.
    """
    X = as_matrix(X)
    n = X.shape[0]
    codes, n_classes = as_labels(y, n)
    codes = codes.to(X.device)
    Z, _ = _standardise_rows(X)
    zz = (Z * Z).sum(dim=1)  # 1 for ordinary rows, 0 for constant rows
    counts = torch.bincount(codes, minlength=n_classes).to(torch.float64)
    sums = torch.zeros(n_classes, Z.shape[1], dtype=Z.dtype, device=Z.device).index_add_(0, codes, Z)
    zz_c = torch.zeros(n_classes, dtype=Z.dtype, device=Z.device).index_add_(0, codes, zz)
    pairs_w = float((counts * (counts - 1)).sum())
    pairs_all = float(n * (n - 1))
    pairs_b = pairs_all - pairs_w
    if pairs_w == 0 or pairs_b == 0:
        raise ValueError("rsa needs at least one within-class pair and one between-class pair")
    corr_w = float(((sums * sums).sum(dim=1) - zz_c).sum())  # Σ over ordered within pairs of Pearson
    tot = Z.sum(dim=0)
    corr_all = float((tot * tot).sum() - zz.sum())
    corr_b = corr_all - corr_w
    mean_w = 1.0 - corr_w / pairs_w
    mean_b = 1.0 - corr_b / pairs_b
    return abs(mean_w - mean_b)


def rsa_between_rdms(D1, D2) -> float:
    """Spearman ρ between the strict upper triangles of two n×n RDMs (NaN if either triangle is constant)."""
    D1 = np.asarray(D1.detach().cpu() if isinstance(D1, torch.Tensor) else D1, dtype=np.float64)
    D2 = np.asarray(D2.detach().cpu() if isinstance(D2, torch.Tensor) else D2, dtype=np.float64)
    if D1.shape != D2.shape or D1.ndim != 2 or D1.shape[0] != D1.shape[1]:
        raise ValueError(f"RDMs must be square and of equal shape, got {D1.shape} and {D2.shape}")
    if D1.shape[0] < 3:
        raise ValueError("rsa_between needs at least 3 samples")
    iu = np.triu_indices(D1.shape[0], k=1)
    a, b = D1[iu], D2[iu]
    if np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def rsa_between(X, Y) -> float:
    """Model-vs-model RSA: Spearman ρ between the upper triangles of rdm(X) and rdm(Y).

    Args:
        X: n×d1 activations of one model/layer; Y: n×d2 activations of another, on the same n samples in the
            same order (d1 and d2 may differ).

    Returns:
        A float in [−1, 1]; 1 when the two RDMs rank all pairs alike. NaN if an RDM is constant.

    Invariances: those of :func:`rdm` for each input, plus any monotone map of either RDM's values.
    """
    X = as_matrix(X, "X")
    Y = as_matrix(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must hold the same samples, got {X.shape[0]} and {Y.shape[0]} rows")
    return rsa_between_rdms(rdm(X), rdm(Y))
