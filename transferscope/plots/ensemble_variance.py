"""The variance study in the (mean member accuracy, diversity) plane (thesis B's Figure 6.1): every size-k subset
of a method's runs (``ensemble_variance.csv``), the best and worst fraction (5 %) by ensemble accuracy within their
run marked, and the logistic-regression boundary between those two groups fitted on all runs of the method
(``ensemble_variance_summary.csv``, scope "method"). One panel per (target, method) — per (target, source, arch,
method) when the tables hold several sources or architectures."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save

GROUPS = {"best": ("best", "^", 0), "worst": ("worst", "v", 3)}  # label, marker, colour-palette index
EMPTY = "no run with more members than the subset size"


def _read(path: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:  # a file without even a header
        return pd.DataFrame()


def _value(summary: pd.DataFrame, key: tuple, group: str, metric: str, statistic: str) -> float:
    """One number of the method-scope summary of ``key`` = (target, source, arch, method), NaN when absent."""
    if summary.empty:
        return float("nan")
    target, source, arch, method = key
    hit = summary[(summary["scope"] == "method") & (summary["target"] == target) & (summary["source"] == source)
                  & (summary["arch"] == arch) & (summary["method"] == method) & (summary["group"] == group)
                  & (summary["metric"] == metric) & (summary["statistic"] == statistic)]
    return float(hit["value"].iloc[0]) if len(hit) else float("nan")


def boundary(ax, x_percent: np.ndarray, w_acc: float, w_div: float, intercept: float) -> None:
    """Draw w_acc · acc + w_div · div + intercept = 0 with acc = x / 100 (x in %) across the panel's x range."""
    if not np.isfinite([w_acc, w_div, intercept]).all():
        return
    style = {"color": "black", "lw": 1.2, "ls": "--", "label": "logistic boundary"}
    if abs(w_div) < 1e-12:  # the diversity plays no part: a vertical line
        if abs(w_acc) > 1e-12:
            ax.axvline(-100.0 * intercept / w_acc, **style)
        return
    ylim = ax.get_ylim()
    xs = np.linspace(x_percent.min(), x_percent.max(), 2)
    ax.plot(xs, -(intercept + w_acc * xs / 100.0) / w_div, **style)
    ax.set_ylim(ylim)  # a steep line must not stretch the panel away from the points


def draw(subsets: str, summary: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    frame, stats = _read(subsets), _read(summary)
    palette = sns.color_palette(n_colors=4)
    if frame.empty:
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
        ax.text(0.5, 0.5, EMPTY, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        save(fig, out, style)
        return
    places = list(dict.fromkeys(zip(frame["target"], frame["source"], frame["arch"])))
    methods = list(dict.fromkeys(frame["method"]))
    fig, axes = plt.subplots(len(places), len(methods), figsize=(4.6 * len(methods), 4.2 * len(places)),
                             squeeze=False)
    for row, (target, source, arch) in enumerate(places):
        for col, method in enumerate(methods):
            ax = axes[row, col]
            key = (target, source, arch, method)
            sub = frame[(frame["target"] == target) & (frame["source"] == source) & (frame["arch"] == arch)
                        & (frame["method"] == method)]
            if sub.empty:
                ax.text(0.5, 0.5, f"no {method} run", ha="center", va="center", transform=ax.transAxes)
                ax.set_axis_off()
                continue
            x, y = 100 * sub["mean_member_acc"].to_numpy(dtype=float), sub["diversity"].to_numpy(dtype=float)
            middle = (sub["group"] == "middle").to_numpy()
            ax.scatter(x[middle], y[middle], s=4, color="0.7", alpha=0.5, linewidths=0, label="other subsets")
            share = 100 * (sub["group"] == "best").sum() / len(sub)  # the configured fraction, as ceil'ed per run
            for group, (label, marker, colour) in GROUPS.items():
                chosen = (sub["group"] == group).to_numpy()
                ax.scatter(x[chosen], y[chosen], s=16, marker=marker, color=palette[colour],
                           label=f"{label} {share:.2g} % of each run", zorder=3)
            boundary(ax, x, *(_value(stats, key, "best_vs_worst", "boundary", name)
                              for name in ("w_mean_member_acc", "w_diversity", "intercept")))
            runs = len(sub[["seed", "replicate"]].drop_duplicates())
            cv, cv_sd = (_value(stats, key, "best_vs_worst", "separability", s) for s in ("cv_acc_mean", "cv_acc_sd"))
            separation = f"CV acc. {100 * cv:.0f} ± {100 * cv_sd:.0f} %" if np.isfinite(cv) else "CV acc. n/a"
            where = f"{target}" if len(places) == 1 or len({p[0] for p in places}) == len(places) else \
                f"{source}→{target}, {arch}"
            ax.set_title(f"{where}: {method}\n{len(sub)} subsets of {int(sub['subset_size'].iloc[0])}, "
                         f"{runs} run{'s' if runs != 1 else ''}; best vs worst {separation}", fontsize=8)
            ax.set(xlabel="mean member test accuracy (%)", ylabel="diversity (normalised disagreement × 100)")
            ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    save(fig, out, style)
