"""Each metric across layers per source (thesis A's per-layer plots): one row of panels per metric, one column per
target; x = layer in forward order, lines = sources at the last pre-training checkpoint (mean ± sd over seeds)."""
from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.metrics.registry import metric_label, metric_names
from transferscope.plots.style import apply_style, save

log = logging.getLogger("transferscope")


def draw(table: str, out: str, style: dict | None = None, checkpoint: str | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(table)
    registered = metric_names()  # registry order; diagnostics such as constant_rows are not metrics
    frame = frame[frame["metric"].isin(registered) & (frame["layer"] != "in")]
    checkpoint = checkpoint or frame["checkpoint"].iloc[-1]
    frame = frame[frame["checkpoint"] == checkpoint]
    layer_order = list(dict.fromkeys(frame["layer"]))
    metrics = [m for m in registered if m in set(frame["metric"]) and frame.loc[frame["metric"] == m, "layer"].nunique() > 1]
    targets = sorted(frame["target"].unique())
    log.info("metrics_by_layer: rows %s, targets %s, checkpoint %s", metrics, targets, checkpoint)
    fig, axes = plt.subplots(len(metrics), len(targets), figsize=(4.6 * len(targets), 2.8 * len(metrics)),
                             squeeze=False, sharex=True)
    for i, metric in enumerate(metrics):
        for j, target in enumerate(targets):
            ax = axes[i, j]
            sub = frame[(frame["metric"] == metric) & (frame["target"] == target)].copy()
            sub["layer"] = pd.Categorical(sub["layer"], categories=layer_order, ordered=True)
            sns.lineplot(sub, x="layer", y="value", hue="source", marker="o", errorbar="sd", ax=ax,
                         legend=(i == 0 and j == len(targets) - 1), sort=True)
            ax.set(title=f"target {target}" if i == 0 else "", xlabel="layer", ylabel=metric_label(metric))
            ax.tick_params(axis="x", rotation=30)
    if len(axes[0, -1].get_legend_handles_labels()[0]):
        axes[0, -1].legend(title="source", bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle(f"Metrics of pre-trained checkpoint '{checkpoint}' on target images, per layer", y=1.0)
    fig.tight_layout()
    save(fig, out, style)
