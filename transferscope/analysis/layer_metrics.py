"""Per-layer metrics of one model's activations: tidy rows (layer, metric, value), looked up in the registry
``transferscope.metrics.registry``."""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from transferscope.metrics.registry import layer_metric

log = logging.getLogger("transferscope")


def layer_metric_rows(acts: dict[str, np.ndarray], labels: np.ndarray, metrics: list[str], *, output_layer: str = "out",
                      twonn_subsets: int = 0, seed: int = 0, metric_bootstrap: int = 0,
                      layers: Sequence[str] | None = None) -> list[dict]:
    """Rows {layer, metric, value[, sd][, ci_low, ci_high]} for every requested metric on every layer.

    Metrics that need the source head's log-probabilities (e.g. ``leep``, ``nce``) use ``output_layer`` only, other
    metrics every layer, or the ``layers`` named (None: all). ``twonn_subsets`` > 0 repeats metrics with a ``subsets`` interval on random 90 % subsets
    (mean ± sd); ``metric_bootstrap`` > 0 adds a 95 % class-stratified bootstrap interval to metrics with a
    ``bootstrap`` interval (O(B·n·d), cheap). A metric that fails on a layer (e.g. a degenerate layer) gives NaN and
    a log line, not a crash. Diagnostics (e.g. RSA's count of constant rows) follow a layer's metric rows when
    non-zero.
    """
    specs = [layer_metric(name) for name in metrics]
    rows = []
    for layer, X in acts.items():
        chosen = layers is None or layer in layers
        on_layer = [spec for spec in specs if (layer == output_layer if spec.needs == "log_probs" else chosen)]
        if not on_layer:
            continue
        X = np.asarray(X, dtype=np.float64)
        for spec in on_layer:
            row = {"layer": layer, "metric": spec.name}
            try:
                row.update(spec.evaluate(X, labels, seed=seed, n_boot=metric_bootstrap, n_subsets=twonn_subsets))
            except Exception as exc:  # degenerate activations: record NaN, keep going
                log.warning("metric %s on layer %s failed: %s", spec.name, layer, exc)
                row["value"] = float("nan")
            rows.append(row)
        for spec in on_layer:
            if spec.diagnostic is not None:
                name, count = spec.diagnostic
                value = count(X)
                if value:
                    rows.append({"layer": layer, "metric": name, "value": float(value)})
    return rows
