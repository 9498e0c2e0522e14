"""Pairwise weight cosine against pairwise diversity of every member pair (``ensemble_pairs.csv``), one colour per
method, with Spearman's ρ (``ensemble_pair_correlations.csv``): in the legend per method (its runs pooled), in the
title over every distinct pair of the target and the median over single runs. Thesis B: −0.625 across the runs of
the parent grid, 0.02 within a single run."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save


def _rho(value) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:+.2f}"


def draw(pairs: str, correlations: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(pairs)
    rho = pd.read_csv(correlations)
    targets = sorted(frame["target"].unique()) or ["(none)"]
    methods = list(dict.fromkeys(frame["method"]))
    palette = dict(zip(methods, sns.color_palette(n_colors=max(1, len(methods)))))
    fig, axes = plt.subplots(1, len(targets), figsize=(7 * len(targets), 5.2), squeeze=False)
    for ax, target in zip(axes.flat, targets):
        sub, r = frame[frame["target"] == target], rho[rho["target"] == target]
        per_method = r[r["scope"] == "method"].set_index("method")["spearman"]
        for method in methods:
            m = sub[sub["method"] == method]
            if not m.empty:
                ax.scatter(m["weight_cosine"], m["diversity"], s=22, alpha=0.7, color=palette[method],
                           label=f"{method} (ρ {_rho(per_method.get(method, np.nan))})")
        pooled = r[r["scope"] == "all"]["spearman"]
        runs = r[r["scope"] == "run"]["spearman"].dropna()
        ax.set(title=f"{target}: ρ over all pairs {_rho(pooled.iloc[0] if len(pooled) else np.nan)}, "
                     f"median within a run {_rho(runs.median() if len(runs) else np.nan)}",
               xlabel="cosine similarity of the weight vectors (pair)",
               ylabel="diversity of the pair (normalised disagreement × 100)")
        ax.ticklabel_format(axis="x", useOffset=False)
        if ax.collections:
            ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save(fig, out, style)
