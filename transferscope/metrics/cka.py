"""Linear centred kernel alignment (Kornblith et al. 2019), biased and unbiased.

CKA(X, Y) = HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L)) with linear kernels K = X Xᵀ, L = Y Yᵀ.

* Biased (``unbiased=False``): HSIC ∝ tr(K H L H) with H the centring matrix. With column-centred X and Y
  this is ‖Yᵀ X‖²_F (feature-space form, O(n·d²)) or Σ_ij K_ij L_ij (Gram form, O(n²·d)).
* Unbiased (``unbiased=True``): the estimator of Song et al. (2012), as used for CKA by Nguyen et al.
  (2021). With K̃, L̃ the kernels with zeroed diagonals,
  HSIC_u = [tr(K̃L̃) + 1ᵀK̃1 · 1ᵀL̃1 / ((n−1)(n−2)) − 2/(n−2) · 1ᵀK̃L̃1] / (n(n−3)),
  which needs n ≥ 4. Its feature-space form uses tr(K̃L̃) = ‖XᵀY‖²_F − Σ_i ‖x_i‖²‖y_i‖²,
  1ᵀK̃1 = ‖Xᵀ1‖² − Σ_i ‖x_i‖² and K̃1 = X(Xᵀ1) − (‖x_i‖²)_i.

The feature-space form is used when both feature counts are below n, the Gram form otherwise; both give
the same value (``form=`` forces one).
"""

from __future__ import annotations

import math

import torch

from ._arrays import as_matrix, matmul

__all__ = ["linear_cka"]


def _hsic_terms_feature(X: torch.Tensor, Y: torch.Tensor, unbiased: bool) -> float:
    n = X.shape[0]
    cross = float(matmul(X.T, Y).square().sum())  # tr(K L)
    if not unbiased:
        return cross
    a, b = (X * X).sum(dim=1), (Y * Y).sum(dim=1)
    sx, sy = X.sum(dim=0), Y.sum(dim=0)
    tr = cross - float(a @ b)
    k1 = X @ sx - a  # K̃ 1
    l1 = Y @ sy - b
    s_k, s_l = float(sx @ sx - a.sum()), float(sy @ sy - b.sum())
    return (tr + s_k * s_l / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * float(k1 @ l1)) / (n * (n - 3))


def _hsic_terms_gram(K: torch.Tensor, L: torch.Tensor, unbiased: bool) -> float:
    n = K.shape[0]
    if not unbiased:
        return float((K * L).sum())
    K = K.clone().fill_diagonal_(0.0)
    L = L.clone().fill_diagonal_(0.0)
    k1, l1 = K.sum(dim=1), L.sum(dim=1)
    tr = float((K * L).sum())
    return (tr + float(k1.sum()) * float(l1.sum()) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * float(k1 @ l1)) / (
        n * (n - 3)
    )


def linear_cka(X, Y, unbiased: bool = False, form: str = "auto") -> float:
    """Linear CKA between two representations of the same n samples.

    Args:
        X: n×d1 activations; Y: n×d2 activations (numpy or torch; extra axes flattened; same sample order).
        unbiased: use the unbiased HSIC estimator (Song et al. 2012) instead of the biased one.
        form: "auto" (feature-space form when max(d1, d2) < n, Gram form otherwise), "feature" or "gram".

    Returns:
        A float, 1 for identical representations. The biased value lies in [0, 1]; the unbiased one can be
        slightly negative for unrelated representations. NaN when a self-similarity term is ≤ 0 (e.g. a
        constant representation, or a non-positive unbiased HSIC(K, K)).

    Raises:
        ValueError: if n < 4 (the unbiased estimator needs n ≥ 4; the biased one refuses too, for one rule),
            or if X and Y hold different numbers of samples.

    Invariances: orthogonal transforms and isotropic scaling of either X or Y, translation (columns are
    centred), permutation of features. Not invariant to non-isotropic scaling or general invertible maps.
    """
    X = as_matrix(X, "X")
    Y = as_matrix(Y, "Y").to(X.device)
    n = X.shape[0]
    if Y.shape[0] != n:
        raise ValueError(f"X and Y must hold the same samples, got {n} and {Y.shape[0]} rows")
    if n < 4:
        raise ValueError(f"linear_cka needs at least 4 samples (the unbiased HSIC estimator is undefined below), got {n}")
    X = X - X.mean(dim=0, keepdim=True)
    Y = Y - Y.mean(dim=0, keepdim=True)
    if form == "auto":
        form = "feature" if max(X.shape[1], Y.shape[1]) < n else "gram"
    if form == "feature":
        hxy = _hsic_terms_feature(X, Y, unbiased)
        hxx = _hsic_terms_feature(X, X, unbiased)
        hyy = _hsic_terms_feature(Y, Y, unbiased)
    elif form == "gram":
        K, L = matmul(X, X.T), matmul(Y, Y.T)
        hxy = _hsic_terms_gram(K, L, unbiased)
        hxx = _hsic_terms_gram(K, K, unbiased)
        hyy = _hsic_terms_gram(L, L, unbiased)
    else:
        raise ValueError(f"form must be 'auto', 'feature' or 'gram', got {form!r}")
    if hxx <= 0.0 or hyy <= 0.0:
        return float("nan")
    return hxy / math.sqrt(hxx * hyy)
