"""Transferability estimators of the model-selection benchmarks, each as in the code its authors published.

All scores: higher = predicted to transfer better. ``F`` is n×d features (numpy or torch; extra axes flattened),
``y`` n class labels (any integers; C = number of distinct labels, coded 0..C−1 in sorted order, which is what
the reference codes see when the labels are 0..C−1). Computation in float64.

* :func:`gbc`      — Pándy et al. (CVPR 2022), Gaussian Bhattacharyya Coefficient (google-research/stable_transfer).
* :func:`sfda`     — Shao et al. (ECCV 2022), Self-challenging Fisher Discriminant Analysis (TencentARC/SFDA).
* :func:`parc`     — Bolya et al. (NeurIPS 2021), Pairwise Annotation Representation Comparison (dbolya/parc).
* :func:`nleep`    — Li et al. (CVPR 2021), N-LEEP: LEEP with a Gaussian mixture on PCA features.
* :func:`hscore_shrinkage` — Ibrahim et al. (ECML-PKDD 2022), H-score with a Ledoit–Wolf shrunk covariance.
* :func:`knn_accuracy` — leave-one-out k-nearest-neighbour accuracy (transformer-ranker's ``NearestNeighbors``).

``tests/test_metrics_benchmark_estimators.py`` compares each with the number its reference code gives on fixed
inputs (``tests/data/estimator_references/``).
"""

from __future__ import annotations

import math

import numpy as np

from ._arrays import as_labels, as_matrix, matmul, row_chunks, sq_norms
from .rsa import rdm
from .transferability import leep
from transferscope.lazy import lazy_module

torch = lazy_module("torch")
stats = lazy_module("scipy.stats")

__all__ = ["gbc", "sfda", "parc", "nleep", "hscore_shrinkage", "knn_accuracy"]


def _class_stats(F: torch.Tensor, codes: torch.Tensor, n_classes: int):
    """(counts C, means C×d, population variances C×d) of the rows of each class."""
    counts = torch.bincount(codes, minlength=n_classes).to(F.dtype)
    zeros = torch.zeros(n_classes, F.shape[1], dtype=F.dtype, device=F.device)
    means = zeros.index_add(0, codes, F) / counts[:, None]
    var = zeros.index_add(0, codes, (F - means[codes]).square()) / counts[:, None]
    return counts, means, var


def gbc(F, y, gaussian_type: str = "spherical") -> float:
    """GBC: minus the summed Bhattacharyya coefficients between the Gaussians fitted to each pair of classes.

    GBC = −Σ_{c≠c'} exp(−D_B(c, c')), over ordered pairs, with each class a Gaussian of its mean μ_c and
    population variances v_c (per feature, floored at 1e-4), as in the authors' code (google-research,
    ``stable_transfer/transferability/gbc.py``)::

        D_B = (1/8) Σ_k (μ_ck − μ_c'k)² / σ̄_k + ½ [Σ log σ̄ − ½ Σ log σ_c − ½ Σ log σ_c'],  σ̄ = (σ_c + σ_c')/2

    ``gaussian_type="diagonal"``: σ_c = v_c per feature (the exact Bhattacharyya distance of diagonal Gaussians).
    ``"spherical"`` (the authors' default): σ_c = mean_k v_ck, one number per class; the log-determinant sums
    then run over that single number, so the log term is not multiplied by d as it would be for the exact
    distance of σ·I Gaussians. We keep the code's formula (the published numbers come from it).

    Paper's pipeline: the features are first reduced by PCA to 64 dimensions (``config_transferability_*``,
    ``pca_reduction = 64``); this function does not reduce them (the layer's features are used as given).

    Args:
        F: n×d features. y: n labels, at least 2 classes. gaussian_type: ``spherical`` or ``diagonal``.

    Returns:
        A float in [−C(C−1), 0]: −C(C−1) when all classes have the same mean and variance, → 0 as the
        classes separate. Higher = better.

    Invariances: translation, permutation of samples, classes and features; scaling of F while the variance
    floor is inactive; spherical also rotations of F, diagonal also per-feature scaling.
    """
    if gaussian_type not in ("spherical", "diagonal"):
        raise ValueError(f"gaussian_type must be 'spherical' or 'diagonal', got {gaussian_type!r}")
    F = as_matrix(F, "F", min_rows=2)
    codes, n_classes = as_labels(y, F.shape[0])
    if n_classes < 2:
        raise ValueError("gbc needs at least 2 classes")
    _, means, var = _class_stats(F, codes.to(F.device), n_classes)
    var = var.clamp_min(1e-4)
    sigma = var.mean(dim=1, keepdim=True) if gaussian_type == "spherical" else var  # C×1 or C×d
    log_sigma = sigma.log().sum(dim=1)  # C
    total = F.new_zeros(())
    for c in range(n_classes):  # one row of the C×C distances at a time: C×d memory, never C×C×d
        avg = (sigma[c] + sigma) / 2.0
        first = ((means - means[c]).square() / avg).sum(dim=1) / 8.0
        second = avg.log().sum(dim=1) - 0.5 * log_sigma[c] - 0.5 * log_sigma
        bc = torch.exp(-(first + 0.5 * second))
        total = total + bc.sum() - bc[c]
    return float(-total)


def _largest_eigenvalue_power3(A: torch.Tensor) -> torch.Tensor:
    """The SFDA code's estimate of λ_max(A): 3 double power steps from the row sums, then xᵀ A y."""
    x = A.sum(dim=1)
    for _ in range(3):
        t = A @ x
        y = t / torch.linalg.vector_norm(t)
        t = A @ y
        x = t / torch.linalg.vector_norm(t)
    return x @ (A @ y)


def _shrunk_lda_proba(X: torch.Tensor, codes: torch.Tensor, n_classes: int, shrinkage: float | None):
    """Posteriors of the shrinkage-LDA classifier of the SFDA code and the shrinkage it used."""
    n, d = X.shape
    counts, means, _ = _class_stats(X, codes, n_classes)
    priors = counts / n
    R = X - means[codes]
    Sw = matmul(R.T, R) / n  # Σ_c prior_c · cov_c (1/n_c normalised) = within scatter / n
    if shrinkage is None:
        shrinkage = max(math.exp(-5.0 * float(_largest_eigenvalue_power3(Sw))), 1e-10)
    Sw_s = (1.0 - shrinkage) * Sw
    Sw_s.diagonal().add_(shrinkage * float(Sw.diagonal().sum()) / d)
    # The code projects on all d generalised eigenvectors V of (S_b, S_w,s); VᵀS_w,sV = I, so VVᵀ = S_w,s⁻¹ and
    # its coef_ = means·V·Vᵀ = means·S_w,s⁻¹: S_b drops out. A Cholesky solve gives the same coefficients.
    coef = torch.cholesky_solve(means.T.contiguous(), torch.linalg.cholesky(Sw_s)).T  # C×d
    intercept = -0.5 * (means * coef).sum(dim=1) + priors.log()
    return torch.softmax(X @ coef.T + intercept, dim=1), shrinkage


def sfda(F, y) -> float:
    """SFDA: mean probability of the true class under a Fisher (shrinkage LDA) classifier refitted on features
    mixed towards the other classes' means by their own confidence ("self-challenging").

    Steps of the authors' ``SFDA_Score`` (TencentARC/SFDA, ``metrics.py``):

    1. S_w = Σ_c π_c cov_c (π_c = n_c/n, covariances normalised by n_c); shrinkage λ = max(exp(−5 ℓ), 1e-10)
       with ℓ the code's estimate of the largest eigenvalue of S_w (3 power steps started at its row sums);
       S_w,λ = (1−λ) S_w + λ (tr S_w / d) I.
    2. p(c | x) = softmax_c(xᵀS_w,λ⁻¹μ_c − ½ μ_cᵀS_w,λ⁻¹μ_c + log π_c), then softened by a second softmax
       (exp(p) / Σ exp(p)), as the code does.
    3. ConfMix: x_i ← p_i x_i + (1 − p_i) μ̄_{−y_i}, p_i the softened probability of y_i and μ̄_{−c} the
       unweighted mean of the other classes' means.
    4. Refit step 2's classifier (same λ) on the mixed features; the score is the mean over samples of its
       probability of the true class (the code leaves out the log, "in case of instability"; so do we).

    The code's Fisher projection keeps all d discriminant directions, so its classifier is exactly shrinkage
    LDA (the between-class scatter cancels out); we compute that directly.

    Args:
        F: n×d features. y: n labels, at least 2 classes.

    Returns:
        A float in (0, 1] (a probability); higher = better.

    Invariances: permutation of samples and classes, translation of F; rotations only up to the code's 3-step
    estimate of λ_max (its start vector, the row sums of S_w, depends on the basis). Not scale-invariant (λ depends
    on the absolute size of S_w's eigenvalues).
    """
    X = as_matrix(F, "F", min_rows=2)
    codes, n_classes = as_labels(y, X.shape[0])
    if n_classes < 2:
        raise ValueError("sfda needs at least 2 classes")
    codes = codes.to(X.device)
    rows = torch.arange(X.shape[0], device=X.device)
    prob, shrinkage = _shrunk_lda_proba(X, codes, n_classes, None)
    prob = torch.softmax(prob, dim=1)  # "soften the probability", as the code does
    _, means, _ = _class_stats(X, codes, n_classes)
    others = (means.sum(dim=0, keepdim=True) - means) / (n_classes - 1)
    p = prob[rows, codes][:, None]
    mixed = p * X + (1.0 - p) * others[codes]
    prob2, _ = _shrunk_lda_proba(mixed, codes, n_classes, shrinkage)
    return float(prob2[rows, codes].mean())


def parc(F, y) -> float:
    """PARC: 100 × Spearman ρ between the correlation-distance RDM of the standardised features and the RDM of
    the one-hot target labels, over the pairs i < j.

    As the authors' code (dbolya/parc, ``methods.py``, class ``PARC``): features standardised per feature
    (mean 0, population sd 1; constant features left at 0), D_ij = 1 − Pearson(f_i, f_j) across features
    (:func:`transferscope.metrics.rsa.rdm`), label RDM 1 − Pearson(onehot_i, onehot_j), which is 0 for equal
    labels and 1 + 1/(C−1) otherwise; Spearman only sees that order, so the pair indicator [y_i ≠ y_j] is used.

    Paper's default ("PARC f=32"): the features are first reduced to 32 dimensions by a randomized PCA
    (``svd_solver='randomized', random_state=1919, iterated_power=1``). We do not reduce them: PARC is
    computed on the layer's features as given (the authors' ``PARC(n_dims=None)``).

    Args:
        F: n×d features (n ≥ 3). y: n labels, at least 2 classes.

    Returns:
        A float in [−100, 100]; 100 when all within-class pairs are closer than all between-class pairs and all
        within-class distances (and all between-class ones) are equal. Higher = better. A constant-row sample
        is at distance 1 from every other (as in :func:`rdm`; the reference code gives NaN).

    Invariances: per-feature affine maps with positive scale, permutation of samples and features, renaming
    of labels. Not invariant to rotations of feature space. Memory: the n×n RDM.
    """
    F = as_matrix(F, "F", min_rows=3)
    n = F.shape[0]
    codes, n_classes = as_labels(y, n)
    if n_classes < 2:
        raise ValueError("parc needs at least 2 classes")
    Z = F - F.mean(dim=0, keepdim=True)
    sd = Z.square().mean(dim=0).sqrt()
    Z = Z / torch.where(sd > 0, sd, torch.ones_like(sd))  # sklearn's StandardScaler
    iu = np.triu_indices(n, k=1)
    distances = rdm(Z)[iu]
    c = codes.cpu().numpy()
    different = (c[iu[0]] != c[iu[1]]).astype(np.float64)
    if np.all(distances == distances[0]):
        return float("nan")
    return float(stats.spearmanr(distances, different).statistic) * 100.0


def nleep(F, y, variance: float = 0.8, components_per_class: int = 5, seed: int = 123) -> float:
    """N-LEEP: LEEP with the posteriors of a Gaussian mixture fitted to the PCA-reduced features as the
    "source label" probabilities.

    Li et al. (2021): PCA keeping ``variance`` (80 %) of the variance (scikit-learn ``PCA(n_components=0.8,
    svd_solver='full')``), a Gaussian mixture with ``components_per_class`` · C components (5 · C in the paper;
    scikit-learn ``GaussianMixture`` defaults: full covariances, k-means initialisation, one initialisation,
    ``random_state=seed``), then :func:`transferscope.metrics.transferability.leep` of the posteriors. This is
    the pipeline of google-research ``stable_transfer/transferability`` (``nleep.py`` with ``pca_reduction =
    0.8``, seed 123); it casts features and posteriors to float32, we stay in float64. (TencentARC/SFDA's
    ``NLEEP`` does the same PCA and mixture unseeded but averages the expected prediction without the log.)

    Stochastic: the mixture depends on ``seed`` through its k-means initialisation (and on the scikit-learn
    version); fixed seed, fixed result.

    Args:
        F: n×d features. y: n labels. variance: share of variance PCA keeps (a float in (0, 1), or an integer
        number of components). components_per_class: mixture components per target class (needs n ≥ that times
        C). seed: ``random_state`` of the mixture.

    Returns:
        A float ≤ 0 (mean log-likelihood, nats); higher = better.

    Invariances: permutation of classes; translation and rotation of F up to the mixture's initialisation.
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    X = as_matrix(F, "F", min_rows=2).cpu().numpy()
    codes, n_classes = as_labels(y, X.shape[0])
    k = components_per_class * n_classes
    if k > X.shape[0]:
        raise ValueError(f"nleep needs at least {k} samples ({components_per_class} × {n_classes} classes)")
    Z = PCA(n_components=variance, svd_solver="full").fit_transform(X)
    posteriors = GaussianMixture(n_components=k, random_state=seed).fit(Z).predict_proba(Z)
    return leep(posteriors, codes.numpy())


def hscore_shrinkage(F, y) -> float:
    """Shrinkage H-score: tr(Σ_α⁺ · (1 − α) cov(E[F | Y])) with Σ_α the Ledoit–Wolf shrunk feature covariance.

    Ibrahim et al. (2022), as transformer-ranker's ``HScore`` computes it (PyPI transformer-ranker 0.2.0,
    ``estimators/hscore.py``): F centred; Σ = FᵀF/n; α the Ledoit–Wolf shrinkage towards μI, μ = tr Σ / d
    (the formula of scikit-learn's ``ledoit_wolf_shrinkage``), clipped to [0, 1]; Σ_α = (1−α)Σ + αμI;
    cov(E[F|Y]) = Σ_c n_c m_c m_cᵀ / (n − 1) with m_c the centred class means (note n − 1 here against n in Σ,
    as in the reference); the pseudo-inverse keeps eigenvalues > 1e-15 · the largest. For d = 1 (or a zero
    Ledoit–Wolf denominator) α = 0, as scikit-learn sets it (transformer-ranker divides by that zero there: its α
    becomes 1 and its score 0).

    Args:
        F: n×d features. y: n labels.

    Returns:
        A float ≥ 0; higher = more linearly separable classes. Shrinkage keeps it stable for d ≳ n, where the
        plain H-score (:func:`transferscope.metrics.transferability.hscore`) saturates.

    Invariances: translation, rotation and uniform scaling of F; permutation of samples and classes.
    """
    F = as_matrix(F, "F", min_rows=2)
    n, d = F.shape
    codes, n_classes = as_labels(y, n)
    codes = codes.to(F.device)
    Fc = F - F.mean(dim=0, keepdim=True)
    cov = matmul(Fc.T, Fc) / n
    sq = Fc.square()
    emp_trace = sq.sum(dim=0) / n
    mu = emp_trace.sum() / d
    beta_ = matmul(sq.T, sq).sum() / n
    delta_ = cov.square().sum()
    beta = (beta_ - delta_) / (d * n)
    delta = (delta_ - 2.0 * mu * emp_trace.sum() + d * mu**2) / d
    alpha = 0.0 if d == 1 or float(delta) <= 0.0 else float((beta / delta).clamp(0.0, 1.0))
    cov_alpha = (1.0 - alpha) * cov
    cov_alpha.diagonal().add_(alpha * float(mu))
    evals, evecs = torch.linalg.eigh(cov_alpha)
    keep = evals > 1e-15 * evals.abs().max()
    counts, means, _ = _class_stats(Fc, codes, n_classes)
    proj = means @ evecs[:, keep]  # C×k class means in the eigenbasis
    return float((1.0 - alpha) * (counts[:, None] * proj.square() / evals[keep]).sum() / (n - 1))


def knn_accuracy(F, y, k: int = 3) -> float:
    """Leave-one-out k-nearest-neighbour accuracy of the target labels on the features.

    As transformer-ranker's ``NearestNeighbors`` (PyPI transformer-ranker 0.2.0, ``estimators/nearestneighbors.py``)
    with its defaults: k = 3, Euclidean distance, every sample's own distance excluded, majority vote of the k
    labels, ties between labels going to the smallest label (``torch.mode`` on the CPU); the score is the
    fraction of samples whose vote is their label. (For C > 2 that is the reference's micro-F1; for C = 2 it
    reports the binary F1 of label 1 instead, where we keep the accuracy.) Equal distances among the k-th
    neighbours are broken by ``torch.topk``'s order, as in the reference.

    Args:
        F: n×d features (n > k). y: n labels. k: neighbours.

    Returns:
        A float in [0, 1]; higher = better.

    Invariances: rotation, translation and uniform scaling of F; permutation of samples; renaming of labels
    that keeps their order (ties go to the smallest label). Memory: blocks of rows of the n×n distances.
    """
    F = as_matrix(F, "F", min_rows=2)
    n = F.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"knn_accuracy needs 1 ≤ k < n, got k = {k}, n = {n}")
    codes, n_classes = as_labels(y, n)
    codes = codes.to(F.device)
    norms = sq_norms(F)
    hits = 0
    for sl in row_chunks(n, n):
        d2 = norms[sl, None] + norms[None, :] - 2.0 * matmul(F[sl], F.T)
        rows = torch.arange(sl.start, sl.stop, device=F.device)
        d2[rows - sl.start, rows] = float("inf")
        neighbours = d2.topk(k, dim=1, largest=False).indices
        votes = torch.zeros(len(rows), n_classes, dtype=torch.int64, device=F.device)
        votes.scatter_add_(1, codes[neighbours], torch.ones_like(neighbours))
        hits += int((votes.argmax(dim=1) == codes[sl]).sum())  # argmax: first maximum = smallest label
    return hits / n
