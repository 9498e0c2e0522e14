"""Diversity against mean member accuracy of the full ensembles: each small point is one run (pre-training seed × replicate),
each large marker the mean over runs; thesis B's diversity is Fort et al.'s normalised pairwise disagreement × 100."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save


def full_ensembles(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run at the largest k: mean_member_acc, diversity, ens_acc (wide)."""
    k = frame.groupby(["target", "method"])["k"].transform("max")
    sub = frame[(frame["k"] == k) & frame["metric"].isin(["mean_member_acc", "diversity", "ens_acc"])]
    return sub.pivot_table(index=["target", "method", "seed", "replicate"], columns="metric", values="value").reset_index()


def draw(table: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    wide = full_ensembles(pd.read_csv(table))
    wide["mean_member_acc"] *= 100
    targets = sorted(wide["target"].unique())
    methods = list(dict.fromkeys(wide["method"]))
    palette = dict(zip(methods, sns.color_palette(n_colors=len(methods))))
    fig, axes = plt.subplots(1, len(targets), figsize=(6.5 * len(targets), 4.8), squeeze=False)
    for ax, target in zip(axes.flat, targets):
        sub = wide[wide["target"] == target]
        sns.scatterplot(sub, x="mean_member_acc", y="diversity", hue="method", hue_order=methods, palette=palette,
                        alpha=0.45, s=25, legend=False, ax=ax)
        means = sub.groupby("method", sort=False)[["mean_member_acc", "diversity"]].mean()
        for method, row in means.iterrows():
            ax.scatter(row["mean_member_acc"], row["diversity"], s=90, color=palette[method], edgecolor="black",
                       label=method, zorder=3)
            ax.annotate(method, (row["mean_member_acc"], row["diversity"]), fontsize=7, xytext=(4, 3),
                        textcoords="offset points")
        ax.set(title=f"{target}: diversity vs member accuracy (full ensembles)",
               xlabel="mean member test accuracy (%)", ylabel="diversity (normalised disagreement × 100)")
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save(fig, out, style)
