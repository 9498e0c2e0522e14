"""Per-stage output distance of member k to member 1 (thesis B's Fig. 4.3 top): mean squared difference of the
test-set outputs of each stage of the architecture, globally average-pooled (the ResNets' stages; ``stage_taps``),
and of the pooled features (``pool``), log scale (``ensemble_distances.csv``, measure ``output_mse``): one panel per
stage, one line per method over k = 2..K (mean over runs)."""
from __future__ import annotations

from transferscope.plots.ensemble_stage_distances import per_layer_figure
from transferscope.plots.style import apply_style, save

MEASURE = "output_mse"


def draw(distances: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    save(per_layer_figure(distances, MEASURE, "output MSE to member 1 (pooled)"), out, style)
