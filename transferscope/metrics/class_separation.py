"""Sum-of-squares class separation (thesis A): SSW / TSS."""

from __future__ import annotations


from ._arrays import as_labels, as_matrix, row_chunks
from transferscope.lazy import lazy_module

torch = lazy_module("torch")

__all__ = ["sum_of_squares"]


def sum_of_squares(X, y) -> float:
    """Within-class share of the total sum of squares, SSW / TSS.

    SSW = Σ_c Σ_{i∈c} ‖x_i − μ_c‖², TSS = Σ_i ‖x_i − μ‖² (Euclidean, every feature weighted equally).

    Args:
        X: n×d activations (numpy or torch; extra axes are flattened, a 1-D input is n×1).
        y: n class labels (any integers; only equality matters).

    Returns:
        A float in [0, 1]: 0 when every sample sits on its class mean (or when TSS = 0, i.e. all samples are
        identical — a documented convention), 1 when the class means coincide with the global mean. Lower
        means tighter classes. Unitless.

    Invariances: translation, rotation (any orthogonal map), isotropic scaling of X, permutation of samples
    and renaming of labels. Not invariant to per-feature (non-isotropic) scaling.
    """
    X = as_matrix(X)
    codes, n_classes = as_labels(y, X.shape[0])
    codes = codes.to(X.device)
    Xc = X - X.mean(dim=0, keepdim=True)  # centring first keeps the class means well conditioned
    counts = torch.bincount(codes, minlength=n_classes).to(X.dtype)
    means = torch.zeros(n_classes, X.shape[1], dtype=X.dtype, device=X.device)
    means.index_add_(0, codes, Xc)
    means /= counts[:, None]
    tss = ssw = 0.0
    for sl in row_chunks(X.shape[0], X.shape[1]):
        block = Xc[sl]
        tss += float((block * block).sum())
        r = block - means[codes[sl]]
        ssw += float((r * r).sum())
    if tss == 0.0:
        return 0.0
    return ssw / tss
