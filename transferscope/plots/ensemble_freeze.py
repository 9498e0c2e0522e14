"""Accuracy–time trade-off of freezing in StarSSE: total training time of the K members (member 1 included, never
frozen) against ensemble accuracy (left) and diversity (right), mean ± sd over runs, StarSSE without freezing and
Local DE for reference. Times are wall-clock seconds of the training loops as measured on this machine."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save


def _is_freeze_family(method: str) -> bool:
    return method == "starsse" or method == "local_de" or method.startswith("starsse_freeze")


def draw(table: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(table)
    frame = frame[frame["method"].map(_is_freeze_family)]
    k = frame.groupby(["target", "method"])["k"].transform("max")
    sub = frame[(frame["k"] == k) & frame["metric"].isin(["train_seconds", "ens_acc", "diversity"])]
    wide = sub.pivot_table(index=["target", "method", "seed", "replicate"], columns="metric", values="value").reset_index()
    targets = sorted(wide["target"].unique()) or ["(none)"]
    fig, axes = plt.subplots(len(targets), 2, figsize=(12, 4.6 * len(targets)), squeeze=False)
    methods = list(dict.fromkeys(wide["method"])) if not wide.empty else []
    palette = dict(zip(methods, sns.color_palette(n_colors=max(1, len(methods)))))
    for row, target in enumerate(targets):
        t = wide[wide["target"] == target] if not wide.empty else wide
        for col, (metric, label, scale) in enumerate([("ens_acc", "ensemble test accuracy (%)", 100),
                                                      ("diversity", "diversity (normalised disagreement × 100)", 1)]):
            ax = axes[row, col]
            if t.empty or metric not in t:
                ax.text(0.5, 0.5, "no StarSSE / freezing runs in this table", ha="center", transform=ax.transAxes)
                continue
            stats = t.groupby("method", sort=False).agg(x=("train_seconds", "mean"), y=(metric, "mean"),
                                                        xe=("train_seconds", "std"), ye=(metric, "std"))
            for method, r in stats.iterrows():
                ax.errorbar(r["x"], r["y"] * scale, xerr=r["xe"], yerr=r["ye"] * scale, fmt="o",
                            color=palette[method], capsize=3, label=method)
                ax.annotate(method, (r["x"], r["y"] * scale), fontsize=7, xytext=(4, 3), textcoords="offset points")
            ax.set(title=f"{target}: freezing in StarSSE", xlabel="training time of all members (s)", ylabel=label)
            ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, out, style)
