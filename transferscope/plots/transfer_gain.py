"""Heat map of transfer gain: fine-tuned minus scratch test accuracy (percentage points), source × target,
final pre-training checkpoint, mean over seeds with the standard deviation in brackets; one panel per mode."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save
from transferscope.tables import with_gain


def gain_matrix(table: pd.DataFrame, mode: str, checkpoint: str = "final") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean and sd over seeds of the gain (in points) for one mode at one checkpoint: source × target."""
    sub = with_gain(table)
    sub = sub[(sub["mode"] == mode) & (sub["checkpoint"] == checkpoint)]
    grouped = sub.groupby(["source", "target"])["gain"]
    mean = grouped.mean().unstack("target") * 100
    sd = grouped.std(ddof=0).unstack("target") * 100
    return mean, sd


def draw(table: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(table)
    checkpoint = "final" if (frame["checkpoint"] == "final").any() else frame.loc[frame["source"] != "scratch", "checkpoint"].iloc[-1]
    modes = sorted(frame.loc[frame["source"] != "scratch", "mode"].unique())
    fig, axes = plt.subplots(1, len(modes), figsize=(1.0 + 2.6 * len(modes) * max(1, frame["target"].nunique() / 2), 4.2),
                             squeeze=False)
    for ax, mode in zip(axes.flat, modes):
        mean, sd = gain_matrix(frame, mode, checkpoint)
        labels = np.vectorize(lambda m, s: f"{m:+.1f}\n(±{s:.1f})")(mean.values, sd.fillna(0).values)
        lim = max(1.0, float(np.nanmax(np.abs(mean.values))))
        sns.heatmap(mean, annot=labels, fmt="", cmap="RdBu", vmin=-lim, vmax=lim, center=0, ax=ax,
                    cbar_kws={"label": "gain over scratch (accuracy points)"})
        ax.set(title=f"mode {mode}, checkpoint {checkpoint}", xlabel="target", ylabel="source")
    fig.tight_layout()
    save(fig, out, style)
