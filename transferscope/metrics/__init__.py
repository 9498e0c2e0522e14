"""Representation metrics and transferability scores (public API of ``transferscope.metrics``).

Every function takes numpy arrays or torch tensors (samples on the first axis, further axes flattened)
and returns a Python float, except :func:`rdm` (an n×n numpy array) and the helpers that say otherwise.
Computation is in float64 (torch tensors; CPU matrix products through numpy's BLAS), vectorised, with n×n
quantities built in blocks of rows; `linear_cka(..., precision="float32")` is the one opt-in exception.

Representation metrics
    sum_of_squares(X, y)          SSW / TSS                                       (class_separation)
    rdm(X), count_constant_rows   1 − Pearson between samples                     (rsa)
    rsa(X, y)                     |mean within − mean between| of the RDM         (rsa)
    rsa_between(X, Y)             Spearman between two RDMs                       (rsa)
    twonn(X), twonn_subsets(X)    TwoNN intrinsic dimension                       (intrinsic_dimension)
    sum_of_squares_bootstrap, rsa_bootstrap, percentile_interval
                                  class-stratified bootstrap replicates            (bootstrap)
    linear_cka(X, Y, unbiased)    linear CKA, biased or unbiased HSIC             (cka)
    rtd(X, Y), r_cross_barcode    Representation Topology Divergence (ripser)     (rtd)
Transferability scores
    logme, leep, nce, hscore, transrate                                           (transferability)
    gbc, sfda, parc, nleep, hscore_shrinkage, knn_accuracy
                                  benchmark estimators, as their authors' code    (benchmark_estimators)
    etran_energy, etran_lda, etran_zoo, ncti_terms, ncti, ncti_zoo
                                  ETran and NCTI, as their authors' code          (energy_collapse)
    pactran_gauss                 PACTran-Gaussian bound (lower = better)         (pactran)
Registry of the metrics computed on every layer by the pipeline
    REGISTRY, LayerMetric, register, layer_metric, metric_names, metric_label     (registry)
"""

from .benchmark_estimators import gbc, hscore_shrinkage, knn_accuracy, nleep, parc, sfda
from .bootstrap import percentile_interval, rsa_bootstrap, stratified_bootstrap_counts, sum_of_squares_bootstrap
from .cka import linear_cka
from .class_separation import sum_of_squares
from .energy_collapse import etran_energy, etran_lda, etran_zoo, ncti, ncti_terms, ncti_zoo
from .intrinsic_dimension import two_nearest_distances, twonn, twonn_from_distances, twonn_subsets
from .pactran import pactran_gauss
from .rsa import count_constant_rows, rdm, rsa, rsa_between, rsa_between_rdms
from .registry import REGISTRY, LayerMetric, layer_metric, metric_label, metric_names, register
from .rtd import r_cross_barcode, r_cross_matrix, rtd
from .transferability import hscore, leep, logme, nce, transrate

__all__ = [
    "sum_of_squares",
    "sum_of_squares_bootstrap",
    "rsa_bootstrap",
    "stratified_bootstrap_counts",
    "percentile_interval",
    "rdm",
    "count_constant_rows",
    "rsa",
    "rsa_between",
    "rsa_between_rdms",
    "twonn",
    "twonn_subsets",
    "twonn_from_distances",
    "two_nearest_distances",
    "linear_cka",
    "rtd",
    "r_cross_barcode",
    "r_cross_matrix",
    "logme",
    "leep",
    "nce",
    "hscore",
    "transrate",
    "gbc",
    "sfda",
    "parc",
    "nleep",
    "hscore_shrinkage",
    "knn_accuracy",
    "etran_energy",
    "etran_lda",
    "etran_zoo",
    "ncti_terms",
    "ncti",
    "ncti_zoo",
    "pactran_gauss",
    "REGISTRY",
    "LayerMetric",
    "register",
    "layer_metric",
    "metric_names",
    "metric_label",
]
