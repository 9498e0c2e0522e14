"""The variance study: accuracy of the ensembles of size-k subsets of a run's members (``ensemble_subsets.csv``,
member 1 in every subset for the SSE / StarSSE families, every subset for Deep Ensembles). One box per method and
run (whiskers min–max, box quartiles, white dot the mean, black cross the first k members in training order); one
panel per ensemble size k ≥ 2 with more than one subset (at most four sizes, evenly spread)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save

MAX_SIZES = 4


def sizes(frame: pd.DataFrame) -> list[int]:
    """Ensemble sizes k ≥ 2 with more than one subset for some method, at most MAX_SIZES of them spread evenly."""
    ks = sorted(frame.loc[(frame["subsets"] > 1) & (frame["k"] >= 2), "k"].unique())
    if len(ks) <= MAX_SIZES:
        return [int(k) for k in ks]
    return [int(ks[i]) for i in np.unique(np.linspace(0, len(ks) - 1, MAX_SIZES).round().astype(int))]


def draw(subsets: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(subsets)
    targets = sorted(frame["target"].unique()) or ["(none)"]
    methods = list(dict.fromkeys(frame["method"]))
    palette = dict(zip(methods, sns.color_palette(n_colors=max(1, len(methods)))))
    ks = sizes(frame) or [0]
    fig, axes = plt.subplots(len(targets), len(ks), figsize=(max(6.0, 0.55 * len(methods) + 2) * len(ks),
                                                             4.8 * len(targets)), squeeze=False)
    for row, target in enumerate(targets):
        for col, k in enumerate(ks):
            ax = axes[row, col]
            sub = frame[(frame["target"] == target) & (frame["k"] == k)]
            if sub.empty:
                ax.text(0.5, 0.5, "no subsets with more than one choice", ha="center", transform=ax.transAxes)
                continue
            stats, positions, colours = [], [], []
            for i, method in enumerate(methods):
                runs = sub[sub["method"] == method].sort_values(["seed", "replicate"])
                offsets = np.linspace(-0.25, 0.25, len(runs)) if len(runs) > 1 else [0.0]
                for offset, (_, r) in zip(offsets, runs.iterrows()):
                    stats.append({"whislo": 100 * r["min_acc"], "q1": 100 * r["q25_acc"], "med": 100 * r["median_acc"],
                                  "q3": 100 * r["q75_acc"], "whishi": 100 * r["max_acc"], "mean": 100 * r["mean_acc"],
                                  "fliers": []})
                    positions.append(i + offset)
                    colours.append(palette[method])
                    ax.scatter(i + offset, 100 * r["first_k_acc"], marker="x", color="black", s=18, zorder=4)
            width = 0.4 / max(1, sub.groupby("method").size().max())
            boxes = ax.bxp(stats, positions=positions, widths=width, showmeans=True, patch_artist=True,
                           meanprops={"marker": "o", "markerfacecolor": "white", "markeredgecolor": "black",
                                      "markersize": 4})
            for patch, colour in zip(boxes["boxes"], colours):
                patch.set_facecolor(colour)
            counts = sub.groupby("method", sort=False)["subsets"].max()
            ax.set_xticks(range(len(methods)), [f"{m}\n({counts.get(m, 0)})" for m in methods], rotation=60,
                          ha="right", fontsize=7)
            ax.set(title=f"{target}: ensembles of {k} members (subsets per run)",
                   ylabel="ensemble test accuracy (%)")
    fig.tight_layout()
    save(fig, out, style)
