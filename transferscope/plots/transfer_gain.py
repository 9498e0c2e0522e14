"""Heat maps of transfer gain: fine-tuned minus scratch test accuracy at the same fine-tuning point (percentage
points), source × target, fine-tuning from the last pre-training checkpoint; mean over seeds with the standard
deviation in brackets. One column per fine-tuning point (default: the point of the largest mean gain, and final;
thesis A: the benefit of pre-training is largest early in fine-tuning and fades), one row per fine-tuning mode."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transferscope.plots._common import NO_SCRATCH, gain_at_points, no_data_figure
from transferscope.plots.style import apply_style, save


def peak_point(gains: pd.DataFrame) -> str:
    """The fine-tuning point with the largest gain averaged over seeds, sources, targets and modes."""
    mean = gains.groupby("point")["gain"].mean().dropna()
    return str(mean.idxmax()) if len(mean) else "final"


def draw(table: str, out: str, style: dict | None = None, points: list[str] | None = None,
         checkpoint: str | None = None) -> None:
    """``table``: finetune_curves.csv; ``points``: fine-tuning points to show (default: the point of the largest mean
    gain, and final); ``checkpoint``: pre-training checkpoint fine-tuned from (default: the last one)."""
    style = apply_style(style)
    curves = pd.read_csv(table)
    tuned = curves[curves["source"] != "scratch"]
    checkpoint = checkpoint or tuned["checkpoint"].iloc[-1]
    gains = gain_at_points(curves, checkpoint)
    if gains["gain"].isna().all():
        return no_data_figure(out, style, NO_SCRATCH)
    points_default = points is None
    if points_default:
        points = list(dict.fromkeys([peak_point(gains), "final"]))
    modes = sorted(gains["mode"].unique())
    n_targets, n_sources = max(1, gains["target"].nunique()), gains["source"].nunique()
    fig, axes = plt.subplots(len(modes), len(points), squeeze=False,
                             figsize=(1.6 + 2.4 * n_targets * len(points), len(modes) * (1.6 + 0.7 * n_sources)))
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
                        cbar_kws={"label": "gain (percentage points)"})
            peak = " (peak of the mean gain)" if point == points[0] and points_default else ""
            ax.set(title=f"mode {mode}, after fine-tuning point {point}{peak}", xlabel="target", ylabel="source")
    fig.suptitle(f"Transfer gain from pre-training checkpoint '{checkpoint}' (mean over seeds, ±sd)", y=1.0)
    fig.tight_layout()
    save(fig, out, style)
