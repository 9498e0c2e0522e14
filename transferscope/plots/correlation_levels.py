"""Spearman ρ between each metric and the headline outcome per layer at thesis A's two within-group levels:
per source (across its pre-training checkpoints, one line per source) and per pre-training checkpoint (across
sources, one line per checkpoint, light = early, dark = late). Rows = metrics (registry order), columns = target ×
level, one fine-tuning mode (default: the first). The shaded region is the 95 % band of ρ under the null (the widest
of the panel's groups where n differs); filled markers lie beyond it (significant), hollow ones inside."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from transferscope.metrics.registry import metric_names
from transferscope.plots._common import (checkpoint_order, checkpoint_palette, is_significant, metric_axis_label,
                                         outcome_label, source_palette, spearman_rows)
from transferscope.plots.style import apply_style, save

LEVELS = {"per_source": "per source (across checkpoints)", "per_checkpoint": "per checkpoint (across sources)"}


def _band_note(bands: np.ndarray) -> tuple[float, str]:
    """Half-width to shade and how to say it: the widest band, flagged when the groups' bands differ."""
    bands = bands[np.isfinite(bands)]
    if not len(bands):
        return np.nan, "no band: n too small for significance"
    widest = float(bands.max())
    if np.ptp(bands) > 1e-9:
        return widest, f"band ±{widest:.3f} (widest; n differs by group)"
    return widest, f"band ±{widest:.3f}"


def draw(table: str, out: str, style: dict | None = None, pretrain_points: str | None = None,
         outcome: str = "auc", mode: str | None = None) -> None:
    """``table``: transferability.csv; ``pretrain_points``: pretrain_points.csv (step order of the checkpoints);
    ``outcome``: the headline outcome correlated with."""
    style = apply_style(style)
    frame, mode = spearman_rows(table, outcome, tuple(LEVELS), mode)
    frame = frame.assign(group=frame["group"].astype(str), significant=is_significant(frame["significant"]))
    layers = list(dict.fromkeys(frame["layer"]))
    metrics = [m for m in metric_names() if m in set(frame["metric"])]
    targets = sorted(frame["target"].unique())
    panels = [(target, level) for target in targets for level in LEVELS]
    colours = {"per_source": source_palette(sorted(frame.loc[frame["level"] == "per_source", "group"].unique())),
               "per_checkpoint": checkpoint_palette(checkpoint_order(
                   frame.loc[frame["level"] == "per_checkpoint", "group"], pretrain_points))}
    fig, axes = plt.subplots(max(len(metrics), 1), max(len(panels), 1), squeeze=False, sharex=True, sharey=True,
                             figsize=(1.0 + 3.6 * len(panels), 0.6 + 2.6 * len(metrics)))
    for i, metric in enumerate(metrics):
        for j, (target, level) in enumerate(panels):
            ax = axes[i, j]
            sub = frame[(frame["metric"] == metric) & (frame["target"] == target) & (frame["level"] == level)]
            band, note = _band_note(sub["band"].to_numpy(float))
            if np.isfinite(band):
                ax.axhspan(-band, band, color="grey", alpha=0.25, lw=0)
            ax.axhline(0, color="black", lw=0.6)
            for group, colour in colours[level].items():
                line = sub[sub["group"] == group].copy()
                if line.empty:
                    continue
                line["x"] = line["layer"].map({layer: k for k, layer in enumerate(layers)})
                line = line.sort_values("x")
                ax.plot(line["x"], line["value"], color=colour, lw=1.1)
                sig = line["significant"].to_numpy(bool)
                ax.scatter(line["x"][sig], line["value"][sig], s=22, color=colour, zorder=3)
                ax.scatter(line["x"][~sig], line["value"][~sig], s=22, facecolors="white", edgecolors=colour,
                           zorder=3)
            ax.set_xticks(range(len(layers)), layers, rotation=30)
            ax.set_ylabel(metric_axis_label(metric, "Spearman ρ") if j == 0 else "", fontsize=8)
            ax.set(ylim=(-1.05, 1.05),
                   xlabel="layer" if i == len(metrics) - 1 else "",
                   title=(f"target {target}, {LEVELS[level]}\n" if i == 0 else "") + note)
            ax.title.set_fontsize(8)
    for k, level in enumerate(LEVELS):
        handles = [Line2D([], [], color=c, marker="o", label=g) for g, c in colours[level].items()]
        if k == 0:
            handles += [Line2D([], [], color="grey", marker="o", ls="", label="significant (beyond the band)"),
                        Line2D([], [], color="grey", marker="o", ls="", markerfacecolor="white",
                               label="inside the band")]
        fig.legend(handles=handles, title=LEVELS[level].split(" (")[0].replace("per", "one line per"), fontsize=7,
                   loc="upper left", bbox_to_anchor=(1.0, 0.95 - 0.45 * k))
    fig.suptitle(f"Spearman ρ with {outcome_label(outcome)}, mode {mode} (shaded: 95 % null band)", y=1.0)
    fig.tight_layout()
    save(fig, out, style)
