"""Heat maps of transfer gain: fine-tuned minus scratch test accuracy at the same fine-tuning point (percentage
points), source × target, fine-tuning from the last pre-training checkpoint; mean over seeds with the standard
deviation in brackets. One column per fine-tuning point (thesis A: the benefit of pre-training is largest early in
fine-tuning and fades), one row per fine-tuning mode."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save
from transferscope.tables import with_gain


def gain_at_points(curves: pd.DataFrame, checkpoint: str) -> pd.DataFrame:
    """Curve rows fine-tuned from ``checkpoint`` with ``gain`` = acc − scratch acc at the same point and seed, in
    accuracy points."""
    gains = with_gain(curves, on=("target", "arch", "seed", "point"))
    gains = gains[gains["checkpoint"] == checkpoint].copy()
    gains["gain"] *= 100
    return gains


def draw(table: str, out: str, style: dict | None = None, points: list[str] | None = None,
         checkpoint: str | None = None) -> None:
    """``table``: finetune_curves.csv; ``points``: fine-tuning points to show (default: the first after step0, and
    final); ``checkpoint``: pre-training checkpoint fine-tuned from (default: the last one)."""
    style = apply_style(style)
    curves = pd.read_csv(table)
    tuned = curves[curves["source"] != "scratch"]
    checkpoint = checkpoint or tuned["checkpoint"].iloc[-1]
    order = list(dict.fromkeys(curves.sort_values("step")["point"]))
    if points is None:
        early = [p for p in order if p not in ("step0", "final")]
        points = (early[:1] + ["final"]) if early else ["final"]
    gains = gain_at_points(curves, checkpoint)
    modes = sorted(gains["mode"].unique())
    n_targets = max(1, gains["target"].nunique())
    fig, axes = plt.subplots(len(modes), len(points), squeeze=False,
                             figsize=(1.6 + 2.4 * n_targets * len(points), 0.6 + 0.55 * gains["source"].nunique() * len(modes) + 1.2))
    lim = max(1.0, float(np.nanmax(np.abs(gains.groupby(["mode", "point", "source", "target"])["gain"].mean()))))
    for i, mode in enumerate(modes):
        for j, point in enumerate(points):
            ax = axes[i, j]
            sub = gains[(gains["mode"] == mode) & (gains["point"] == point)].groupby(["source", "target"])["gain"]
            mean, sd = sub.mean().unstack("target"), sub.std(ddof=0).unstack("target")
            if mean.empty:
                ax.set_visible(False)
                continue
            labels = np.vectorize(lambda m, s: f"{m:+.1f}\n(±{s:.1f})")(mean.values, sd.reindex_like(mean).fillna(0).values)
            sns.heatmap(mean, annot=labels, fmt="", cmap="RdBu", vmin=-lim, vmax=lim, center=0, ax=ax,
                        cbar_kws={"label": "gain over scratch (accuracy points)"})
            ax.set(title=f"mode {mode}, after fine-tuning point {point}", xlabel="target", ylabel="source")
    fig.suptitle(f"Transfer gain from pre-training checkpoint '{checkpoint}' (mean over seeds, ±sd)", y=1.0)
    fig.tight_layout()
    save(fig, out, style)
