"""Pairwise weight cosine against pairwise diversity of every member pair (``ensemble_pairs.csv``), one colour per
method, pairs with member 1 drawn as crosses and the others as dots, with Spearman's ρ and Pearson's r
(``ensemble_pair_correlations.csv``): per method (its runs pooled) in the legend; in the title over every distinct
pair of the SSE / StarSSE families' runs, over every distinct pair of the target, and the median over single runs
of the pairs with and without member 1 (thesis B's Fig. 6.4 split)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from transferscope.plots.style import apply_style, save

CYCLE_POOLED, POOLED = "cycle_methods", "all"  # the pooled scopes of ensemble_pair_correlations.csv
MEMBER1_MARKERS = {False: "o", True: "X"}  # with_member1 -> marker


def _value(value) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:+.2f}"


def _pair(rows: pd.DataFrame) -> str:
    """'ρ +0.12, r −0.30 (n pairs)' of one correlations row, or of the median over several (single runs)."""
    if rows.empty:
        return "n/a"
    if len(rows) == 1:
        row = rows.iloc[0]
        return f"ρ {_value(row['spearman'])}, r {_value(row['pearson'])} ({int(row['pairs'])} pairs)"
    return (f"median ρ {_value(rows['spearman'].median())}, r {_value(rows['pearson'].median())} "
            f"({len(rows)} runs)")


def draw(pairs: str, correlations: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(pairs)
    rho = pd.read_csv(correlations)
    targets = sorted(frame["target"].unique()) or ["(none)"]
    methods = list(dict.fromkeys(frame["method"]))
    palette = dict(zip(methods, sns.color_palette(n_colors=max(1, len(methods)))))
    fig, axes = plt.subplots(1, len(targets), figsize=(7.5 * len(targets), 6.0), squeeze=False)
    for ax, target in zip(axes.flat, targets):
        sub, r = frame[frame["target"] == target], rho[rho["target"] == target]
        per_method = r[r["scope"] == "method"].set_index("method")
        for method in methods:
            for with_first, marker in MEMBER1_MARKERS.items():
                m = sub[(sub["method"] == method) & (sub["with_member1"] == with_first)]
                if m.empty:
                    continue
                label = None
                if not with_first or sub[(sub["method"] == method) & ~sub["with_member1"]].empty:
                    label = (f"{method} (ρ {_value(per_method['spearman'].get(method, np.nan))}, "
                             f"r {_value(per_method['pearson'].get(method, np.nan))})")
                ax.scatter(m["weight_cosine"], m["diversity"], s=26, alpha=0.75, color=palette[method],
                           marker=marker, label=label)
        ax.set_title("\n".join([
            f"{target}, SSE / StarSSE pairs pooled: {_pair(r[r['scope'] == CYCLE_POOLED])}",
            f"all pairs pooled: {_pair(r[r['scope'] == POOLED])}",
            f"within a run, pairs with member 1: {_pair(r[r['scope'] == 'run_with_member1'])}",
            f"within a run, other pairs: {_pair(r[r['scope'] == 'run_without_member1'])}"]), fontsize=9)
        ax.set(xlabel="cosine similarity of the weight vectors (pair)",
               ylabel="diversity of the pair (normalised disagreement × 100)")
        ax.ticklabel_format(axis="x", useOffset=False)
        if ax.collections:
            handles, labels = ax.get_legend_handles_labels()
            handles += [Line2D([], [], linestyle="", marker=MEMBER1_MARKERS[w], color="0.4", label=text)
                        for w, text in ((True, "pair with member 1"), (False, "pair without member 1"))]
            ax.legend(handles=handles, fontsize=7, ncol=2)
    fig.tight_layout()
    save(fig, out, style)
