"""Fine-tuning curves: fine-tuned test accuracy against the fine-tuning step (symlog axis), one line per
pre-training checkpoint (light = early, dark = late, in step order), panels source (rows) × target (columns), the
from-scratch baseline dashed in every panel; one fine-tuning mode and architecture, mean over seeds."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from transferscope.plots._common import checkpoint_order, checkpoint_palette, choose, log_step_axis
from transferscope.plots.style import apply_style, save
from transferscope.tables import seed_mean


def draw(table: str, out: str, style: dict | None = None, pretrain_points: str | None = None,
         mode: str | None = None) -> None:
    """``table``: finetune_curves.csv; ``pretrain_points``: pretrain_points.csv (orders the checkpoints by step);
    ``mode``: fine-tuning mode (default: the first)."""
    style = apply_style(style)
    curves = pd.read_csv(table).dropna(subset=["test_acc"])
    curves["acc"] = 100 * curves["test_acc"]
    arch = choose(curves, "arch")
    curves = curves[curves["arch"] == arch]
    scratch = curves[curves["source"] == "scratch"]
    tuned = curves[curves["source"] != "scratch"]
    mode = choose(tuned, "mode", mode)
    tuned = tuned[tuned["mode"] == mode]
    order = checkpoint_order(tuned["checkpoint"], pretrain_points)
    colours = checkpoint_palette(order)
    sources, targets = sorted(tuned["source"].unique()), sorted(curves["target"].unique())
    fig, axes = plt.subplots(len(sources), len(targets), figsize=(4.2 * len(targets), 3.2 * len(sources)),
                             squeeze=False, sharex=True, sharey="col")
    for i, source in enumerate(sources):
        for j, target in enumerate(targets):
            ax = axes[i, j]
            sub = seed_mean(tuned[(tuned["source"] == source) & (tuned["target"] == target)],
                            ["checkpoint", "point"], ["step", "acc"])
            for checkpoint in order:
                line = sub[sub["checkpoint"] == checkpoint].sort_values("step")
                if len(line):
                    ax.plot(line["step"], line["acc"], color=colours[checkpoint], lw=1.4, label=checkpoint)
            base = seed_mean(scratch[scratch["target"] == target], ["point"], ["step", "acc"]).sort_values("step")
            if len(base):
                ax.plot(base["step"], base["acc"], color="black", ls="--", lw=1.4, label="scratch")
            log_step_axis(ax, "fine-tuning optimizer steps (symlog)" if i == len(sources) - 1 else "")
            ax.set(title=f"{source} → {target}", ylabel="fine-tuned test accuracy (%)" if j == 0 else "")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, title="pre-training checkpoint", loc="upper left", bbox_to_anchor=(1.0, 0.95),
               fontsize=8)
    fig.suptitle(f"Fine-tuning curves ({arch}, mode {mode}; mean over seeds; dashed = scratch)", y=1.0)
    fig.tight_layout()
    save(fig, out, style)
