"""Pre-training test accuracy at every saved checkpoint against the optimizer step (symlog axis, so the untrained
step 0 is shown), one line per source (mean over seeds), each seed a marker; one panel per architecture."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from transferscope.plots._common import log_step_axis, source_palette
from transferscope.plots.style import apply_style, save
from transferscope.tables import seed_mean


def draw(table: str, out: str, style: dict | None = None) -> None:
    """``table``: pretrain_points.csv (one row per saved checkpoint and seed)."""
    style = apply_style(style)
    frame = pd.read_csv(table).dropna(subset=["step", "test_acc"])
    frame["acc"] = 100 * frame["test_acc"]
    archs = sorted(frame["arch"].unique()) or ["-"]
    sources = sorted(frame["source"].unique())
    colours = source_palette(sources)
    fig, axes = plt.subplots(len(archs), 1, figsize=(7.5, 4.2 * len(archs)), squeeze=False)
    for ax, arch in zip(axes[:, 0], archs):
        sub = frame[frame["arch"] == arch]
        for source in sources:
            runs = sub[sub["source"] == source]
            if runs.empty:
                continue
            mean = seed_mean(runs, ["checkpoint"], ["step", "acc"]).sort_values("step")
            ax.scatter(runs["step"], runs["acc"], s=14, alpha=0.45, color=colours[source], linewidths=0)
            ax.plot(mean["step"], mean["acc"], color=colours[source], lw=1.8,
                    label=f"{source} (last: {mean['acc'].iloc[-1]:.1f} %)")
        log_step_axis(ax, "pre-training optimizer steps (symlog axis: 0 = untrained, log scale above 1)")
        ax.set(ylabel="pre-training test accuracy (%)", title=f"{arch}: test accuracy at every saved checkpoint")
        ax.legend(title="source (mean over seeds; dots = seeds)", fontsize=8, loc="best")
    fig.tight_layout()
    save(fig, out, style)
