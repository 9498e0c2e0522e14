"""Each metric per layer with one line per pre-training checkpoint (thesis A's ID "hunchback" over training): rows =
metrics with more than one layer (registry order), columns = sources, one target (default: the first); x = layer in
forward order, lines = checkpoints in step order (light = early, dark = late), mean over seeds."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from transferscope.metrics.registry import metric_names
from transferscope.plots._common import checkpoint_order, checkpoint_palette, choose, metric_axis_label
from transferscope.plots.style import apply_style, save
from transferscope.tables import seed_mean


def draw(table: str, out: str, style: dict | None = None, pretrain_points: str | None = None,
         target: str | None = None) -> None:
    """``table``: metrics.csv; ``pretrain_points``: pretrain_points.csv (step order of the checkpoints)."""
    style = apply_style(style)
    frame = pd.read_csv(table)
    registered = metric_names()  # registry order; diagnostics such as constant_rows are not metrics
    frame = frame[frame["metric"].isin(registered) & (frame["layer"] != "in")]
    target, arch = choose(frame, "target", target), choose(frame, "arch")
    frame = frame[(frame["target"] == target) & (frame["arch"] == arch)]
    layers = list(dict.fromkeys(frame["layer"]))
    metrics = [m for m in registered if frame.loc[frame["metric"] == m, "layer"].nunique() > 1]
    sources = sorted(frame["source"].unique())
    order = checkpoint_order(frame["checkpoint"], pretrain_points)
    colours = checkpoint_palette(order)
    means = seed_mean(frame, ["metric", "source", "checkpoint", "layer"], ["value"])
    means["x"] = means["layer"].map({layer: i for i, layer in enumerate(layers)})
    fig, axes = plt.subplots(len(metrics), len(sources), figsize=(3.8 * len(sources), 2.8 * len(metrics)),
                             squeeze=False, sharex=True, sharey="row")
    for i, metric in enumerate(metrics):
        for j, source in enumerate(sources):
            ax = axes[i, j]
            sub = means[(means["metric"] == metric) & (means["source"] == source)]
            for checkpoint in order:
                line = sub[sub["checkpoint"] == checkpoint].sort_values("x")
                if len(line):
                    ax.plot(line["x"], line["value"], marker="o", ms=3, lw=1.2, color=colours[checkpoint],
                            label=checkpoint)
            ax.set_xticks(range(len(layers)), layers, rotation=30)
            ax.set(title=f"source {source}" if i == 0 else "", xlabel="layer" if i == len(metrics) - 1 else "")
            ax.set_ylabel(metric_axis_label(metric) if j == 0 else "", fontsize=9)
    if len(metrics) and len(sources):
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, title="pre-training checkpoint", loc="upper left", bbox_to_anchor=(1.0, 0.95),
                   fontsize=8)
    fig.suptitle(f"Metrics per layer on target {target} images, per pre-training checkpoint ({arch}, mean over seeds)",
                 y=1.0)
    fig.tight_layout()
    save(fig, out, style)
