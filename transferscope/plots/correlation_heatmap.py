"""Heat map of Spearman ρ between each metric (rows) at each layer (columns) and the headline outcome across all
(source, checkpoint) models on seed means (level ``all`` of transferability.csv), one panel per target (first
fine-tuning mode); stars mark cells beyond the 95 % null band of ρ (``significant``)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from transferscope.metrics.registry import metric_names
from transferscope.plots._common import is_significant, level_all_note, outcome_label, spearman_rows
from transferscope.plots.style import apply_style, save


def draw(table: str, out: str, style: dict | None = None, outcome: str = "auc", mode: str | None = None) -> None:
    """``table``: transferability.csv; ``outcome``: the headline outcome (config analysis.outcome)."""
    style = apply_style(style)
    frame, mode = spearman_rows(table, outcome, ("all",), mode)
    frame = frame.assign(significant=is_significant(frame["significant"]))
    order = [m for m in metric_names() if m in set(frame["metric"])]
    targets = sorted(frame["target"].unique())
    fig, axes = plt.subplots(1, max(len(targets), 1), squeeze=False,
                             figsize=((3.2 + 0.8 * frame["layer"].nunique()) * len(targets), 1.8 + 0.45 * len(order)))
    for ax, target in zip(axes.flat, targets):
        sub = frame[frame["target"] == target]
        layers = list(dict.fromkeys(sub["layer"]))
        value = sub.pivot_table(index="metric", columns="layer", values="value").reindex(index=order, columns=layers)
        sig = sub.pivot_table(index="metric", columns="layer", values="significant", aggfunc="max")
        sig = sig.reindex(index=order, columns=layers).fillna(False).to_numpy(bool)
        annot = np.vectorize(lambda v, s: "" if np.isnan(v) else f"{v:+.2f}{'*' if s else ''}")(value.values, sig)
        sns.heatmap(value, annot=annot, fmt="", cmap="RdBu_r", vmin=-1, vmax=1, center=0, ax=ax,
                    cbar_kws={"label": "Spearman ρ"})
        ax.set(title=f"target {target}, mode {mode}\n{level_all_note(sub)}", xlabel="layer", ylabel="metric")
    fig.suptitle(f"Spearman ρ with {outcome_label(outcome)}\nacross all models on seed means (* beyond the band)",
                 y=1.05)
    fig.tight_layout()
    save(fig, out, style)
