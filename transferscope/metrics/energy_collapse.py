"""ETran's energy and classification scores and NCTI's neural-collapse terms, computed from target features.

* :func:`etran_energy` — Gholami et al. (ICCV 2023), ETran's energy score (``Energy_Score`` of the authors' code).
* :func:`etran_lda`    — ETran's LDA-based classification score (``LDA_Score`` of the authors' code).
* :func:`etran_zoo`    — ETran as the authors rank a zoo: 0.15 · energy + 0.85 · classification, each min–max
  scaled over the models (``tw.py -me etran``).
* :func:`ncti_terms`   — Wang et al. (ICCV 2023), NCTI's three terms (``NCTI_Score`` of the authors' code).
* :func:`ncti`         — their unnormalised sum S_seli + S_ncc − S_vc (one layer, no zoo).
* :func:`ncti_zoo`     — NCTI as the authors rank a zoo: the sum of the min–max scaled terms.

Both papers combine their terms only after min–max scaling them over the models being ranked, which a per-layer
metric cannot do: the registry holds ETran's energy score and NCTI's unnormalised sum; the ``*_zoo`` functions
give the papers' combined scores for a set of models. Higher = predicted to transfer better throughout.
"""

from __future__ import annotations

import math

import numpy as np

from ._arrays import as_labels, as_matrix, matmul
from transferscope.lazy import lazy_module

torch = lazy_module("torch")

__all__ = ["etran_energy", "etran_lda", "etran_zoo", "ncti_terms", "ncti", "ncti_zoo"]

#: weight of the energy score in ETran's zoo combination (``tw.py``: 0.15 energy + 0.85 classification).
ETRAN_ENERGY_WEIGHT = 0.15


def etran_energy(F, y=None, per_mille: int = 5) -> float:
    """ETran energy score: mean of the lowest sample energies logsumexp_j F_ij (features read as logits).

    As ``Energy_Score(X, 0.5, 'bot')`` of the authors' code (the call of ``evaluate_metric.py -me energy``):
    per sample the free energy's negative, logsumexp over the feature dimensions, then the mean over the
    ⌊per_mille · n / 1000⌋ samples with the lowest values (the code's ``percent=0.5`` keeps 5 ‰ of the samples).
    The labels are not used (``y`` is accepted for the registry's signature).

    Deviation: the authors' code averages an empty set (NaN) when n < 200; here at least one sample is kept.

    Args:
        F: n×d features (numpy or torch; extra axes flattened). y: ignored. per_mille: share of samples kept (‰).

    Returns:
        A float in the units of the features; higher = better.

    Invariances: permutation of samples and of feature dimensions. Adding a constant c to every feature adds c;
    not scale-invariant.
    """
    F = as_matrix(F, "F")
    n = F.shape[0]
    energy = torch.logsumexp(F, dim=1)
    k = max(1, per_mille * n // 1000)
    return float(torch.sort(energy).values[:k].mean())


def etran_lda(F, y) -> float:
    """ETran classification score: mean probability of the true class under the code's LDA classifier.

    ``LDA_Score`` of the authors' code fits its ``LDA`` class and averages p(y_i | x_i). Its coefficients are
    class means times E·Eᵀ, with E the full orthonormal eigenbasis of ``np.linalg.eigh`` (a d×d orthogonal matrix),
    so E·Eᵀ = I and the within-class covariance and its shrinkage drop out: the classifier is

        p(c | x) = softmax_c(x·μ_c − ½|μ_c|² + log π_c),

    μ_c the class means and π_c the class frequencies (a nearest-class-mean rule with identity covariance on the
    raw, uncentred features). Implemented in this closed form (agrees with the code to rounding).

    Args:
        F: n×d features (numpy or torch; extra axes flattened). y: n class labels.

    Returns:
        A float in (0, 1]; higher = better.

    Invariances: rotation of F, permutation of samples and classes. Not translation- or scale-invariant.
    """
    F = as_matrix(F, "F")
    n, d = F.shape
    codes, n_classes = as_labels(y, n)
    codes = codes.to(F.device)
    counts = torch.bincount(codes, minlength=n_classes).to(F.dtype)
    means = torch.zeros(n_classes, d, dtype=F.dtype, device=F.device).index_add_(0, codes, F) / counts[:, None]
    logits = matmul(F, means.T) - 0.5 * (means * means).sum(dim=1) + (counts / n).log()
    p = torch.softmax(logits, dim=1)
    return float(p[torch.arange(n, device=F.device), codes].mean())


def _minmax(values) -> np.ndarray:
    """(v − min) / (max − min) over models; 0 for every model when all values are equal (the code divides by 0)."""
    v = np.asarray(values, dtype=np.float64)
    span = v.max() - v.min()
    return (v - v.min()) / span if span > 0 else np.zeros_like(v)


def etran_zoo(energy, lda, energy_weight: float = ETRAN_ENERGY_WEIGHT) -> np.ndarray:
    """ETran scores of a set of models: w · minmax(energy) + (1 − w) · minmax(lda), w = 0.15 (``tw.py``).

    Args:
        energy, lda: one :func:`etran_energy` and one :func:`etran_lda` value per model (same order).

    Returns:
        One float per model in [0, 1]; higher = better. Only the ranking within this set is meaningful.

    The paper's third term (an SVD-based regression score) is for regression targets and is not part of the
    classification code path (``evaluate_metric.py`` computes ``energy`` and ``lda`` only).
    """
    return energy_weight * _minmax(energy) + (1.0 - energy_weight) * _minmax(lda)


def _pca_scores(F: torch.Tensor, n_components: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores on the leading principal axes of the centred F and the explained variances (1/(n−1)), as
    ``sklearn.decomposition.PCA(n_components).fit_transform`` up to the sign of each axis."""
    n, d = F.shape
    Fc = F - F.mean(dim=0, keepdim=True)
    k = min(n_components, n, d)
    if n >= d:
        evals, evecs = torch.linalg.eigh(matmul(Fc.T, Fc))
        order = evals.argsort(descending=True)[:k]
        scores = matmul(Fc, evecs[:, order].contiguous())
        sq = evals[order].clamp_min(0.0)
    else:
        evals, evecs = torch.linalg.eigh(matmul(Fc, Fc.T))
        order = evals.argsort(descending=True)[:k]
        sq = evals[order].clamp_min(0.0)
        scores = evecs[:, order] * sq.sqrt()
    return scores, sq / (n - 1)


def _lda_svd(Z, codes, means, priors, unbiased_within: bool):
    """scikit-learn's LDA ``solver='svd'`` (tol 1e-4): the projection onto the discriminant axes and p(c | x)."""
    n, _ = Z.shape
    n_classes = means.shape[0]
    Xc = Z - means[codes]
    std = Xc.std(dim=0, correction=0)
    std = torch.where(std == 0, torch.ones_like(std), std)
    fac = 1.0 / (n - n_classes) if unbiased_within else 1.0 / n
    _, S, Vh = torch.linalg.svd(math.sqrt(fac) * (Xc / std), full_matrices=False)
    rank = int((S > 1e-4).sum())
    scalings = (Vh[:rank] / std).T / S[:rank]
    xbar = priors @ means
    fac_b = 1.0 if n_classes == 1 else 1.0 / (n_classes - 1)
    B = ((n * priors * fac_b).sqrt()[:, None] * (means - xbar)) @ scalings
    _, S2, Vh2 = torch.linalg.svd(B, full_matrices=False)
    rank2 = int((S2 > 1e-4 * S2[0]).sum())
    scalings = scalings @ Vh2[:rank2].T
    projected = (Z - xbar) @ scalings
    coef = (means - xbar) @ scalings
    decision = projected @ coef.T - 0.5 * (coef * coef).sum(dim=1) + priors.log()
    return projected, torch.softmax(decision, dim=1)


def _shrunk_cov(X: torch.Tensor, shrinkage: float) -> torch.Tensor:
    """scikit-learn's ``shrunk_covariance(empirical_covariance(X), shrinkage)`` (1/m, towards tr/d · I)."""
    Xc = X - X.mean(dim=0, keepdim=True)
    emp = matmul(Xc.T, Xc) / X.shape[0]
    d = emp.shape[0]
    return (1.0 - shrinkage) * emp + shrinkage * torch.trace(emp) / d * torch.eye(d, dtype=X.dtype, device=X.device)


def _lda_eigen(Z, codes, means, priors, shrinkage: float):
    """scikit-learn's LDA ``solver='eigen'`` with a fixed shrinkage: projection and p(c | x)."""
    n_classes = means.shape[0]
    Sw = sum(priors[c] * _shrunk_cov(Z[codes == c], shrinkage) for c in range(n_classes))
    Sb = _shrunk_cov(Z, shrinkage) - Sw
    # generalised problem Sb v = λ Sw v with vᵀ Sw v = 1 (scipy.linalg.eigh(Sb, Sw)), through Sw = L Lᵀ
    L = torch.linalg.cholesky(Sw)
    Linv_Sb = torch.linalg.solve_triangular(L, Sb, upper=False)
    M = torch.linalg.solve_triangular(L, Linv_Sb.T, upper=False)
    evals, V = torch.linalg.eigh(0.5 * (M + M.T))
    evecs = torch.linalg.solve_triangular(L.T, V, upper=True)[:, evals.argsort(descending=True)]
    coef = torch.linalg.solve(Sw, means.T).T  # means · E Eᵀ = means · Sw⁻¹
    decision = Z @ coef.T - 0.5 * (means * coef).sum(dim=1) + priors.log()
    return Z @ evecs, torch.softmax(decision, dim=1)


def ncti_terms(F, y, n_components: int = 64, unbiased_within: bool = True) -> tuple[float, float, float]:
    """NCTI's three terms (S_seli, S_ncc, S_vc), as ``NCTI_Score`` of the authors' code computes them.

    1. PCA of the features to ``n_components`` = 64 axes (scores Z), explained variances v_j (1/(n−1)).
    2. LDA on Z (scikit-learn's algorithm): with s = max(exp(−Σ_{j<32} v_j), 1e-10), the ``svd`` solver when
       s = 1e-10 (the usual case: the leading variances sum to ≥ 23), else the ``eigen`` solver with shrinkage s.
    3. S_seli (simplex ETF / "encoded label interpolation"): nuclear norm of the centred LDA projections onto the
       min(C − 1, ·) discriminant axes. S_ncc (nearest class centre): mean LDA probability p(y_i | x_i).
       S_vc (within-class variability): log Σ_c ‖P_c‖_*, P_c the LDA probability rows of class c.

    NCTI = S_seli + S_ncc − S_vc after min–max scaling of each term over the models (:func:`ncti_zoo`).

    ``unbiased_within``: the svd solver's within-class covariance divisor, n − C (scikit-learn up to 1.8, the
    versions of the paper's time; default) or n (scikit-learn ≥ 1.9 changed it). It moves S_seli by the factor
    √(n/(n−C)) and the probabilities slightly; the eigen branch is unaffected.

    Deviations: where min(n, d) < ``n_components`` all min(n, d) axes are kept (scikit-learn's PCA raises).
    The authors' PCA uses scikit-learn's automatic solver, which for inputs over 500×500 is a randomized SVD;
    here the PCA is exact. At least two classes are required.

    Args:
        F: n×d features (numpy or torch; extra axes flattened). y: n class labels.

    Returns:
        (S_seli ≥ 0, S_ncc ∈ (0, 1], S_vc) as floats. Higher S_seli and S_ncc, lower S_vc = better.

    Invariances: translation and rotation of F, permutation of samples and classes. The svd branch is invariant
    to scaling of F; the branch itself depends on the scale (through s).
    """
    F = as_matrix(F, "F", min_rows=3)
    n = F.shape[0]
    codes, n_classes = as_labels(y, n)
    if n_classes < 2:
        raise ValueError("NCTI needs at least two classes")
    codes = codes.to(F.device)
    Z, explained = _pca_scores(F, n_components)
    shrinkage = max(math.exp(-float(explained[:32].sum())), 1e-10)
    counts = torch.bincount(codes, minlength=n_classes).to(Z.dtype)
    priors = counts / n
    means = torch.zeros(n_classes, Z.shape[1], dtype=Z.dtype, device=Z.device).index_add_(0, codes, Z)
    means = means / counts[:, None]
    if shrinkage == 1e-10:
        projected, proba = _lda_svd(Z, codes, means, priors, unbiased_within)
    else:
        projected, proba = _lda_eigen(Z, codes, means, priors, shrinkage)
    projected = projected[:, : min(n_classes - 1, Z.shape[1])]
    projected = projected - projected.mean(dim=0, keepdim=True)
    seli = float(torch.linalg.svdvals(projected).sum())
    ncc = float(proba[torch.arange(n, device=Z.device), codes].mean())
    vc = math.log(sum(float(torch.linalg.svdvals(proba[codes == c]).sum()) for c in range(n_classes)))
    return seli, ncc, vc


def ncti(F, y, n_components: int = 64) -> float:
    """S_seli + S_ncc − S_vc of :func:`ncti_terms` without the zoo's min–max scaling (one layer).

    The paper scales each term over the models ranked before adding them (:func:`ncti_zoo`); unscaled, the sum is
    dominated by S_seli (a nuclear norm that grows like √n), so this per-layer value mostly ranks layers by the
    spread of the class means in within-class-whitened units. Higher = better.
    """
    seli, ncc, vc = ncti_terms(F, y, n_components)
    return seli + ncc - vc


def ncti_zoo(terms) -> np.ndarray:
    """NCTI scores of a set of models: minmax(S_seli) + minmax(S_ncc) − minmax(S_vc) (``evaluate_metric_group1_cpu``).

    Args:
        terms: m×3 (S_seli, S_ncc, S_vc) per model, e.g. ``[ncti_terms(F_k, y) for F_k in features]``.

    Returns:
        One float per model in [−1, 2]; higher = better. Only the ranking within this set is meaningful.
    """
    t = np.asarray(terms, dtype=np.float64).reshape(-1, 3)
    return _minmax(t[:, 0]) + _minmax(t[:, 1]) - _minmax(t[:, 2])
