"""Transferability scores computed from a pre-trained model's outputs on target data.

All scores: higher = predicted to transfer better. Labels may be any integers; only the distinct values
present are used as classes (C = number of distinct labels), which matches the reference codes when the
labels are 0..C−1 and all present.

* :func:`logme`   — You et al. (ICML 2021), LogME, fixed-point algorithm of the official thuml/LogME code.
* :func:`leep`    — Nguyen et al. (ICML 2020), LEEP, from source-label probabilities.
* :func:`nce`     — Tran et al. (ICCV 2019), negative conditional entropy, from hard source labels.
* :func:`hscore`  — Bao et al. (ICIP 2019), H-score.
* :func:`transrate` — Huang et al. (ICML 2022), TransRate, as in the code published with the paper.
"""

from __future__ import annotations

import math


from ._arrays import as_labels, as_matrix, matmul
from transferscope.lazy import lazy_module

torch = lazy_module("torch")

__all__ = ["logme", "leep", "nce", "hscore", "transrate"]


def logme(F, y) -> float:
    """LogME: mean over classes of the maximised log evidence per sample of a Bayesian linear model.

    For every class c the one-hot target y_c = 1[y = c] is regressed on the features with prior
    w ~ N(0, α⁻¹I) and noise N(0, β⁻¹); α, β are found by the fixed-point iteration of the official code
    (at most 11 steps, stop when α/β changes by ≤ 0.1 %, start α = β = 1), using the SVD of F (for n > d
    through the eigen-decomposition of FᵀF, keeping singular values > 1e-10, as the reference does). The
    evidence is divided by n; the score is the mean over classes. Features are used as given (no centring).

    Args:
        F: n×d features (numpy or torch; extra axes flattened). y: n class labels.

    Returns:
        A float (nats per sample, typically in [−1, 1] for one-hot targets); higher = better.

    Invariances: rotations of feature space, permutation of samples and classes. Not in general invariant
    to scaling or translation of F (scaling is absorbed by α only when d equals the rank of F).
    """
    F = as_matrix(F, "F", min_rows=2)
    n, d = F.shape
    codes, n_classes = as_labels(y, n)
    codes = codes.to(F.device)
    if n > d:
        evals, evecs = torch.linalg.eigh(matmul(F.T, F))
        s = evals.clamp_min(0.0).sqrt()
        keep = s > 1e-10
        s, vh = s[keep], evecs[:, keep].T
        u = (F @ vh.T) / s
    else:
        u, s, _ = torch.linalg.svd(F, full_matrices=False)
    sigma = (s * s)[:, None]  # k×1
    Y = torch.nn.functional.one_hot(codes, n_classes).to(F.dtype)  # n×C
    x2 = (u.T @ Y).square()  # k×C
    res_x2 = Y.sum(dim=0) - x2.sum(dim=0)  # residual energy outside the span of u
    C = n_classes
    alpha = torch.ones(C, dtype=F.dtype, device=F.device)
    beta = torch.ones_like(alpha)
    m2 = torch.zeros_like(alpha)
    res2 = torch.zeros_like(alpha)
    active = torch.ones(C, dtype=torch.bool, device=F.device)
    for _ in range(11):  # iterations of the fixed point, vectorised over classes
        t = alpha / beta
        gamma = (sigma / (sigma + t)).sum(dim=0)
        m2_new = (sigma * x2 / (t + sigma).square()).sum(dim=0)
        res2_new = (x2 / (1.0 + sigma / t).square()).sum(dim=0) + res_x2
        alpha_new = gamma / (m2_new + 1e-5)
        beta_new = (n - gamma) / (res2_new + 1e-5)
        alpha = torch.where(active, alpha_new, alpha)
        beta = torch.where(active, beta_new, beta)
        m2 = torch.where(active, m2_new, m2)
        res2 = torch.where(active, res2_new, res2)
        active = active & ~((alpha_new / beta_new - t).abs() / t <= 1e-3)
        if not bool(active.any()):
            break
    evidence = (
        d / 2.0 * alpha.log()
        + n / 2.0 * beta.log()
        - 0.5 * (alpha[None, :] + beta[None, :] * sigma).log().sum(dim=0)
        - beta / 2.0 * res2
        - alpha / 2.0 * m2
        - n / 2.0 * math.log(2 * math.pi)
    ) / n
    return float(evidence.mean())


def leep(P_source, y) -> float:
    """LEEP: log expected empirical prediction of the source classifier for the target labels.

    With θ(x_i) = P_source[i] the source-label distribution of target sample i:
    P̂(y, z) = (1/n) Σ_{i: y_i = y} θ(x_i)_z, P̂(y | z) = P̂(y, z) / Σ_y' P̂(y', z) and
    LEEP = (1/n) Σ_i log Σ_z P̂(y_i | z) θ(x_i)_z. Source labels z never predicted (P̂(z) = 0) are ignored.

    Args:
        P_source: n×Z source-label probabilities (rows ≥ 0 summing to 1 within 1e-4; softmax outputs, not
            log-probabilities). y: n target labels.

    Returns:
        A float ≤ 0 (mean log-likelihood, nats); higher = better.

    Invariances: permutation of samples, of source labels (columns) and of target labels.
    """
    P = as_matrix(P_source, "P_source")
    n, _ = P.shape
    codes, n_classes = as_labels(y, n)
    codes = codes.to(P.device)
    if bool((P < 0).any()) or not torch.allclose(P.sum(dim=1), torch.ones(n, dtype=P.dtype, device=P.device), atol=1e-4):
        raise ValueError("P_source rows must be probabilities (non-negative, summing to 1)")
    joint = torch.zeros(n_classes, P.shape[1], dtype=P.dtype, device=P.device).index_add_(0, codes, P) / n
    pz = joint.sum(dim=0, keepdim=True)
    cond = torch.where(pz > 0, joint / torch.where(pz > 0, pz, 1.0), torch.zeros_like(joint))  # P(y | z)
    eep = (P * cond[codes]).sum(dim=1)
    return float(eep.log().mean())


def nce(z_source, y) -> float:
    """NCE: negative conditional entropy −H(Y | Z) of target labels given hard source labels.

    −H(Y | Z) = Σ_{y,z} P̂(y, z) log P̂(y | z) with empirical frequencies over the n samples.

    Args:
        z_source: n source labels (e.g. argmax of the source head). y: n target labels.

    Returns:
        A float ≤ 0 (nats); 0 when y is a function of z. Higher = better.

    Invariances: permutation of samples and renaming of either label set.
    """
    z, n_z = as_labels(z_source, name="z_source")
    yc, n_y = as_labels(y, z.shape[0])
    n = z.shape[0]
    joint = torch.bincount(z * n_y + yc, minlength=n_z * n_y).reshape(n_z, n_y).to(torch.float64) / n
    pz = joint.sum(dim=1, keepdim=True)
    nz = joint > 0
    terms = torch.where(nz, joint * (joint / pz.expand_as(joint)).log(), torch.zeros_like(joint))
    return float(terms.sum())


def hscore(F, y) -> float:
    """H-score: tr(cov(F)⁺ · cov(E[F | Y])).

    cov(F) is the covariance of the features, cov(E[F|Y]) the covariance of each sample's class-mean vector
    (the 1/n vs 1/(n−1) normalisation cancels). The pseudo-inverse (⁺) handles rank-deficient covariances
    (e.g. d > n): it is taken through the thin SVD of the centred F, dropping singular values
    ≤ max(n, d)·ε·s_max (the usual numpy/torch rank rule applied to F).

    Args:
        F: n×d features (numpy or torch; extra axes flattened). y: n class labels.

    Returns:
        A float in [0, min(rank F, C − 1)]; higher = more linearly separable classes. For d = 1 it is the
        between-class share of the variance.

    Invariances: any invertible linear map and translation of F (within the kept rank), permutation of
    samples and classes.
    """
    F = as_matrix(F, "F", min_rows=2)
    n, d = F.shape
    codes, n_classes = as_labels(y, n)
    codes = codes.to(F.device)
    Fc = F - F.mean(dim=0, keepdim=True)
    _, s, vh = torch.linalg.svd(Fc, full_matrices=False)
    if s.numel() == 0 or float(s[0]) == 0.0:
        return float("nan")
    keep = s > max(n, d) * torch.finfo(F.dtype).eps * s[0]
    s, vh = s[keep], vh[keep]
    counts = torch.bincount(codes, minlength=n_classes).to(F.dtype)
    means = torch.zeros(n_classes, d, dtype=F.dtype, device=F.device).index_add_(0, codes, Fc) / counts[:, None]
    proj = means @ vh.T  # C×k: class means in the principal axes
    # cov_f = V diag(s²/n) Vᵀ, cov_g = Σ_c (n_c/n) μ_c μ_cᵀ  →  tr = Σ_c n_c Σ_k proj_ck² / s_k²
    return float((counts[:, None] * proj.square() / (s * s)[None, :]).sum())


def _coding_rate(Z: torch.Tensor, eps: float) -> torch.Tensor:
    """R(Z, ε) = ½ log det(I_d + ZᵀZ / (n ε)), evaluated in the smaller of the d×d and n×n forms."""
    n, d = Z.shape
    G = matmul(Z.T, Z) if d <= n else matmul(Z, Z.T)
    A = torch.eye(G.shape[0], dtype=Z.dtype, device=Z.device) + G / (n * eps)
    return 0.5 * torch.linalg.slogdet(A).logabsdet


def transrate(F, y, eps: float = 1e-4) -> float:
    """TransRate: coding-rate reduction R(Z, ε) − (1/C) Σ_c R(Z_c, ε) of the centred features.

    Follows the code published with the paper (Huang et al. 2022, appendix): Z = F − mean(F), no further
    scaling; R(Z, ε) = ½ log det(I + ZᵀZ / (n ε)) with n the rows of the matrix it is applied to; Z_c are the
    rows of class c (not re-centred); the class rates are averaged with equal weight 1/C. (The paper's
    formula writes d/(n ε²) and class weights n_c/n; the published code, followed here, uses 1/(n ε) and 1/C.)

    Args:
        F: n×d features (numpy or torch; extra axes flattened). y: n class labels. eps: distortion ε.

    Returns:
        A float (nats); higher = better. Depends on the scale of F (ε is absolute).

    Invariances: translation and rotation of F, permutation of samples and classes. Not scale-invariant.
    """
    Z = as_matrix(F, "F", min_rows=2)
    codes, n_classes = as_labels(y, Z.shape[0])
    codes = codes.to(Z.device)
    Z = Z - Z.mean(dim=0, keepdim=True)
    r = _coding_rate(Z, eps)
    rc = sum(_coding_rate(Z[codes == c], eps) for c in range(n_classes)) / n_classes
    return float(r - rc)
