"""Linear CKA between each layer before and after fine-tuning (1 = unchanged representation), per source and
pre-training checkpoint, one panel per (target, mode); mean ± sd over seeds."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save


def draw(table: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(table)
    frame = frame[frame["source"] != "scratch"]
    panels = frame[["target", "mode"]].drop_duplicates().sort_values(["target", "mode"]).values.tolist()
    ncols = min(4, len(panels))
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.6 * nrows), squeeze=False)
    for k, (ax, (target, mode)) in enumerate(zip(axes.flat, panels)):
        sub = frame[(frame["target"] == target) & (frame["mode"] == mode)]
        sns.lineplot(sub, x="layer", y="cka", hue="source", style="checkpoint", marker="o", errorbar="sd", ax=ax,
                     legend=k == 0, sort=False)
        ax.set(title=f"target {target}, mode {mode}", xlabel="layer", ylabel="CKA(pre-trained, fine-tuned)", ylim=(0, 1.05))
        ax.tick_params(axis="x", rotation=30)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if axes.flat[0].get_legend() is not None:
        axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    save(fig, out, style)
