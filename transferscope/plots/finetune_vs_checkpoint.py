"""Fine-tuned test accuracy vs pre-training checkpoint, one panel per (target, mode), lines per source,
with the from-scratch baseline as a dashed band (mean ± sd over seeds)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save


def draw(table: str, out: str, style: dict | None = None, checkpoints: list[str] | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(table)
    scratch = frame[frame["source"] == "scratch"]
    tuned = frame[frame["source"] != "scratch"].copy()
    order = checkpoints or sorted(tuned["checkpoint"].unique())
    tuned["checkpoint"] = pd.Categorical(tuned["checkpoint"], categories=order, ordered=True)
    tuned["ckpt_index"] = tuned["checkpoint"].cat.codes
    panels = tuned[["target", "mode"]].drop_duplicates().sort_values(["target", "mode"]).values.tolist()
    ncols = min(len(panels), 4)
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    for ax, (target, mode) in zip(axes.flat, panels):
        sub = tuned[(tuned["target"] == target) & (tuned["mode"] == mode)]
        sns.lineplot(sub, x="ckpt_index", y="test_acc", hue="source", marker="o", errorbar="sd", ax=ax,
                     legend=ax is axes.flat[0])
        base = scratch[scratch["target"] == target]["test_acc"]
        if len(base):
            ax.axhline(base.mean(), color="black", ls="--", lw=1, label="scratch")
            ax.axhspan(base.mean() - base.std(ddof=0), base.mean() + base.std(ddof=0), color="grey", alpha=0.2)
        ax.set_xticks(range(len(order)), order, rotation=30)
        ax.set(title=f"target {target}, mode {mode}", xlabel="pre-training checkpoint",
               ylabel="fine-tuned test accuracy")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if axes.flat[0].get_legend() is not None:
        axes.flat[0].get_legend().remove()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 6), bbox_to_anchor=(0.5, 1.06))
    fig.tight_layout()
    save(fig, out, style)
