"""Gain over scratch against the fine-tuning step (symlog axis): fine-tuned minus from-scratch test accuracy of the
same seed at the same eval point (percentage points), one line per source (mean ± sd over seeds), fine-tuning from
one pre-training checkpoint (default: the last in step order), one panel per target; the legend gives each
source's peak. Thesis A: the benefit is transient, largest after about 30 steps and gone after about 10 epochs."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.plots._common import (NO_SCRATCH, checkpoint_order, choose, gain_at_points, log_step_axis,
                                         no_data_figure, source_palette)
from transferscope.plots.style import apply_style, save
from transferscope.tables import seed_mean


def draw(table: str, out: str, style: dict | None = None, pretrain_points: str | None = None,
         checkpoint: str | None = None, mode: str | None = None) -> None:
    """``table``: finetune_curves.csv; ``pretrain_points``: pretrain_points.csv (step order of the checkpoints);
    ``checkpoint``: pre-training checkpoint fine-tuned from; ``mode``: fine-tuning mode (default: the first)."""
    style = apply_style(style)
    curves = pd.read_csv(table)
    tuned = curves[curves["source"] != "scratch"]
    checkpoint = checkpoint or checkpoint_order(tuned["checkpoint"], pretrain_points)[-1]
    gains = gain_at_points(curves, checkpoint).dropna(subset=["gain"])
    if gains.empty:
        return no_data_figure(out, style, NO_SCRATCH)
    arch, mode = choose(gains, "arch"), choose(gains, "mode", mode)
    gains = gains[(gains["arch"] == arch) & (gains["mode"] == mode)]
    targets, sources = sorted(gains["target"].unique()), sorted(gains["source"].unique())
    colours = source_palette(sources)
    fig, axes = plt.subplots(1, len(targets), figsize=(5.6 * len(targets), 4.2), squeeze=False, sharey=True)
    for ax, target in zip(axes[0], targets):
        sub = gains[gains["target"] == target]
        mean = seed_mean(sub, ["source", "point"], ["step", "gain"]).sort_values("step")  # ties: earliest peak
        labels = {}
        for source, rows in mean.groupby("source"):
            peak = rows.loc[rows["gain"].idxmax()]
            labels[source] = f"{source} (peak {peak['gain']:+.1f} at step {int(peak['step'])})"
        sub = sub.assign(source=sub["source"].map(labels))
        sns.lineplot(sub, x="step", y="gain", hue="source", errorbar="sd", marker="o", ax=ax,
                     hue_order=[labels[s] for s in sources if s in labels],
                     palette={labels[s]: colours[s] for s in labels})
        ax.axhline(0, color="black", lw=0.8)
        log_step_axis(ax, "fine-tuning optimizer steps (symlog, 0 = start)")
        ax.set(title=f"target {target}", ylabel="gain over scratch (percentage points)" if ax is axes[0, 0] else "")
        ax.legend(title="source (mean ± sd over seeds)", fontsize=8)
    fig.suptitle(f"Gain over scratch at equal fine-tuning steps, from pre-training checkpoint '{checkpoint}' "
                 f"({arch}, mode {mode})", y=1.02)
    fig.tight_layout()
    save(fig, out, style)
