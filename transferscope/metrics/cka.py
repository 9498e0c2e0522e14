"""Linear centred kernel alignment (Kornblith et al. 2019), biased and unbiased.

CKA(X, Y) = HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L)) with linear kernels K = X Xᵀ, L = Y Yᵀ.

* Biased (``unbiased=False``): HSIC ∝ tr(K H L H) with H the centring matrix. With column-centred X and Y
  this is ‖Yᵀ X‖²_F (feature-space form, O(n·d²)) or Σ_ij K_ij L_ij (Gram form, O(n²·d)).
* Unbiased (``unbiased=True``): the estimator of Song et al. (2012), as used for CKA by Nguyen et al.
  (2021). With K̃, L̃ the kernels with zeroed diagonals,
  HSIC_u = [tr(K̃L̃) + 1ᵀK̃1 · 1ᵀL̃1 / ((n−1)(n−2)) − 2/(n−2) · 1ᵀK̃L̃1] / (n(n−3)),
  which needs n ≥ 4. Its feature-space form uses tr(K̃L̃) = ‖XᵀY‖²_F − Σ_i ‖x_i‖²‖y_i‖²,
  1ᵀK̃1 = ‖Xᵀ1‖² − Σ_i ‖x_i‖² and K̃1 = X(Xᵀ1) − (‖x_i‖²)_i.

Cost: the feature-space form takes n·(d1 + d2)²/2 multiply-adds (one XᵀY plus two symmetric products), the
Gram form n²·(d1 + d2)/2 (two symmetric n×n products), so ``form="auto"`` picks the feature-space form when
d1 + d2 < n and the Gram form otherwise; both give the same value (``form=`` forces one). Centring is done on X
and Y (O(n·d)), never with an n×n centring matrix.

Precision: by default every product is float64. ``precision="float32"`` multiplies the (float64-centred) inputs
in float32 and sums the partial products of blocks of ``_F32_BLOCK`` rows in float64: about twice as fast on
CPUs (and far faster on GPUs), with relative errors around 1e-10 on ‖XᵀY‖²_F for n = 5000 (see
``benchmarks/README.md``) — well below the float32 rounding already present in stored activations.
"""

from __future__ import annotations

import math

import numpy as np

from ._arrays import as_matrix
from transferscope.lazy import lazy_module

torch = lazy_module("torch")

__all__ = ["linear_cka"]


#: rows per float32 partial product in ``precision="float32"`` (partial sums are accumulated in float64).
#: Large blocks keep BLAS efficient (numpy's symmetric ``syrk`` path copies the d×d result once per call).
_F32_BLOCK = 8192

# CPU inputs are computed with numpy end to end: interleaving torch's OpenMP kernels with numpy's OpenBLAS
# products makes the two thread pools spin against each other on small inputs (2–10× slower at n = 300).
# The code below therefore only uses operations that numpy arrays and torch tensors share.


def _to(A, precision: str):
    """A in the product precision ("float64": unchanged, "float32": a float32 copy)."""
    if precision == "float64":
        return A
    return A.astype(np.float32) if isinstance(A, np.ndarray) else A.to(torch.float32)


def _f64(A):
    return A.astype(np.float64) if isinstance(A, np.ndarray) else A.to(torch.float64)


def _mm(a, b):
    return np.matmul(a, b) if isinstance(a, np.ndarray) else a @ b


def _dot(u, v) -> float:
    """Σ u·v over all entries, in float64."""
    if isinstance(u, np.ndarray):
        return float(np.dot(u.reshape(-1), v.reshape(-1)))
    return float((u.reshape(-1) * v.reshape(-1)).sum())


def _copy(A):
    return A.copy() if isinstance(A, np.ndarray) else A.clone()


def _product(A, B):
    """AᵀB (k×m and k×p → m×p, float64), summing over the k rows; ``A is B`` gives a symmetric product.

    float64 inputs: one float64 product (numpy turns Aᵀ·A into a ``syrk``). float32 inputs: float32 products
    of blocks of ``_F32_BLOCK`` rows whose partial sums are accumulated in float64.
    """
    if A.dtype == (np.float64 if isinstance(A, np.ndarray) else torch.float64):
        return _mm(A.T, B)
    out = None
    for i in range(0, A.shape[0], _F32_BLOCK):
        a = A[i : i + _F32_BLOCK]
        part = _f64(_mm(a.T, a if B is A else B[i : i + _F32_BLOCK]))
        out = part if out is None else out + part
    return out


def cheaper_form(n: int, d1: int, d2: int) -> str:
    """"feature" when n·(d1 + d2)²/2 < n²·(d1 + d2)/2 multiply-adds, i.e. d1 + d2 < n; else "gram"."""
    return "feature" if d1 + d2 < n else "gram"


def _hsic_terms_feature(X, Y, unbiased: bool, Xp, Yp) -> float:
    """HSIC terms from centred float64 X, Y (n×d) and the same matrices in the product precision (Xp, Yp)."""
    n = X.shape[0]
    P = _product(Xp, Yp)
    cross = _dot(P, P)  # tr(K L) = ‖XᵀY‖²_F
    if not unbiased:
        return cross
    a, b = (X * X).sum(axis=1), (Y * Y).sum(axis=1)
    sx, sy = X.sum(axis=0), Y.sum(axis=0)
    tr = cross - _dot(a, b)
    k1 = _mm(X, sx) - a  # K̃ 1
    l1 = _mm(Y, sy) - b
    s_k, s_l = _dot(sx, sx) - float(a.sum()), _dot(sy, sy) - float(b.sum())
    return (tr + s_k * s_l / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * _dot(k1, l1)) / (n * (n - 3))


def _hsic_terms_gram(K, L, unbiased: bool) -> float:
    n = K.shape[0]
    if not unbiased:
        return _dot(K, L)
    K, L = _copy(K), _copy(L)
    K.reshape(-1)[:: n + 1] = 0.0  # zero the diagonals (reshape of a contiguous n×n matrix is a view)
    L.reshape(-1)[:: n + 1] = 0.0
    k1, l1 = K.sum(axis=1), L.sum(axis=1)
    tr = _dot(K, L)
    return (tr + float(k1.sum()) * float(l1.sum()) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * _dot(k1, l1)) / (
        n * (n - 3)
    )


def linear_cka(X, Y, unbiased: bool = False, form: str = "auto", precision: str = "float64") -> float:
    """Linear CKA between two representations of the same n samples.

    Args:
        X: n×d1 activations; Y: n×d2 activations (numpy or torch; extra axes flattened; same sample order).
        unbiased: use the unbiased HSIC estimator (Song et al. 2012) instead of the biased one.
        form: "auto" (feature-space form when d1 + d2 < n, Gram form otherwise: the cheaper one), "feature"
            or "gram".
        precision: "float64" (every product in float64) or "float32" (float32 products of float64-centred
            inputs, partial sums over blocks of rows accumulated in float64; ~2× faster on CPUs, relative
            error around 1e-10 for n in the thousands).

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
    if precision not in ("float64", "float32"):
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    if form not in ("auto", "feature", "gram"):
        raise ValueError(f"form must be 'auto', 'feature' or 'gram', got {form!r}")
    if X.device.type == "cpu":
        X, Y = X.numpy(), Y.numpy()
    X = X - X.mean(axis=0, keepdims=True)
    Y = Y - Y.mean(axis=0, keepdims=True)
    if form == "auto":
        form = cheaper_form(n, X.shape[1], Y.shape[1])
    Xp, Yp = _to(X, precision), _to(Y, precision)
    if form == "feature":
        hxy = _hsic_terms_feature(X, Y, unbiased, Xp, Yp)
        hxx = _hsic_terms_feature(X, X, unbiased, Xp, Xp)
        hyy = _hsic_terms_feature(Y, Y, unbiased, Yp, Yp)
    else:
        Xt, Yt = Xp.T, Yp.T  # K = X Xᵀ = (Xᵀ)ᵀ(Xᵀ): the products sum over the features
        K, L = _product(Xt, Xt), _product(Yt, Yt)
        hxy = _hsic_terms_gram(K, L, unbiased)
        hxx = _hsic_terms_gram(K, K, unbiased)
        hyy = _hsic_terms_gram(L, L, unbiased)
    if hxx <= 0.0 or hyy <= 0.0:
        return float("nan")
    return hxy / math.sqrt(hxx * hyy)
