"""Per-layer metrics of one model's activations: tidy rows (layer, metric, value)."""
from __future__ import annotations

import logging

import numpy as np

from transferscope import metrics as M

log = logging.getLogger("transferscope")

REPRESENTATION = ("sum_of_squares", "rsa", "twonn")
FEATURE_SCORES = ("logme", "hscore", "transrate")
OUTPUT_SCORES = ("leep", "nce")  # need the source model's class probabilities: computed on the `out` tap
ALL_METRICS = REPRESENTATION + FEATURE_SCORES + OUTPUT_SCORES


def layer_metric_rows(acts: dict[str, np.ndarray], labels: np.ndarray, metrics: list[str], *, output_layer: str = "out",
                      twonn_subsets: int = 0, seed: int = 0, metric_bootstrap: int = 0) -> list[dict]:
    """Rows {layer, metric, value[, sd][, ci_low, ci_high]} for every requested metric on every layer.

    ``leep``/``nce`` use the log-probabilities of ``output_layer`` (the source head), other metrics every layer.
    ``twonn_subsets`` > 0 adds the sd of TwoNN over random 90 % subsets; ``metric_bootstrap`` > 0 adds a 95 %
    class-stratified bootstrap interval to ``sum_of_squares`` and ``rsa`` (O(B·n·d), cheap).
    A metric that fails on a layer (e.g. a degenerate layer) gives NaN and a log line, not a crash.
    """
    rows = []
    for layer, X in acts.items():
        X = np.asarray(X, dtype=np.float64)
        for metric in metrics:
            if metric in OUTPUT_SCORES and layer != output_layer:
                continue
            row = {"layer": layer, "metric": metric}
            try:
                row.update(_compute(metric, X, labels, twonn_subsets, seed, metric_bootstrap))
            except Exception as exc:  # degenerate activations: record NaN, keep going
                log.warning("metric %s on layer %s failed: %s", metric, layer, exc)
                row["value"] = float("nan")
            rows.append(row)
        if "rsa" in metrics:
            n_const = M.count_constant_rows(X)
            if n_const:
                rows.append({"layer": layer, "metric": "constant_rows", "value": float(n_const)})
    return rows


def _compute(metric: str, X: np.ndarray, y: np.ndarray, twonn_subsets: int, seed: int, n_boot: int = 0) -> dict:
    if metric == "sum_of_squares":
        return {"value": M.sum_of_squares(X, y), **_interval(M.sum_of_squares_bootstrap, X, y, n_boot, seed)}
    if metric == "rsa":
        return {"value": M.rsa(X, y), **_interval(M.rsa_bootstrap, X, y, n_boot, seed)}
    if metric == "twonn":
        if twonn_subsets:
            mean, sd = M.twonn_subsets(X, n_subsets=twonn_subsets, seed=seed)
            return {"value": mean, "sd": sd}
        return {"value": M.twonn(X)}
    if metric == "logme":
        return {"value": M.logme(X, y)}
    if metric == "hscore":
        return {"value": M.hscore(X, y)}
    if metric == "transrate":
        return {"value": M.transrate(X, y)}
    if metric == "leep":
        return {"value": M.leep(np.exp(X), y)}
    if metric == "nce":
        return {"value": M.nce(X.argmax(1), y)}
    raise ValueError(f"unknown metric {metric!r} (known: {ALL_METRICS})")


def _interval(replicates, X: np.ndarray, y: np.ndarray, n_boot: int, seed: int) -> dict:
    if not n_boot:
        return {}
    low, high = M.percentile_interval(replicates(X, y, n_boot=n_boot, seed=seed))
    return {"ci_low": low, "ci_high": high}
