"""Heat map of Spearman ρ between each metric (rows) at each layer (columns) and the fine-tuned test accuracy,
one panel per target (first fine-tuning mode); stars mark p < 0.05."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save


def draw(table: str, out: str, style: dict | None = None, outcome: str = "test_acc", statistic: str = "spearman",
         mode: str | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(table)
    mode = mode or sorted(frame["mode"].unique())[0]
    frame = frame[(frame["outcome"] == outcome) & (frame["statistic"] == statistic) & (frame["mode"] == mode)]
    frame = frame[frame["layer"] != "in"]
    targets = sorted(frame["target"].unique())
    fig, axes = plt.subplots(1, len(targets), figsize=(1.5 + 0.9 * frame["layer"].nunique() * len(targets), 4.4),
                             squeeze=False)
    for ax, target in zip(axes.flat, targets):
        sub = frame[frame["target"] == target]
        layers = list(dict.fromkeys(sub["layer"]))
        value = sub.pivot_table(index="metric", columns="layer", values="value").reindex(columns=layers)
        p = sub.pivot_table(index="metric", columns="layer", values="p_value").reindex(index=value.index, columns=layers)
        annot = np.vectorize(lambda v, q: "" if np.isnan(v) else f"{v:+.2f}{'*' if q < 0.05 else ''}")(value.values, p.values)
        sns.heatmap(value, annot=annot, fmt="", cmap="RdBu_r", vmin=-1, vmax=1, center=0, ax=ax,
                    cbar_kws={"label": f"{statistic} vs {outcome}"})
        n = int(sub["n"].max()) if len(sub) else 0
        ax.set(title=f"target {target} (mode {mode}, n = {n})", xlabel="layer", ylabel="metric")
    fig.tight_layout()
    save(fig, out, style)
