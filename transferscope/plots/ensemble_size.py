"""Ensemble accuracy against ensemble size (the first k members, training order), one line per method, mean ± sd
over runs (pre-training seeds × replicates); one panel per target. Member 1 is shared by every method, so all lines start together."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save


def draw(table: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(table)
    sub = frame[frame["metric"] == "ens_acc"].copy()
    sub["value"] *= 100
    targets = sorted(sub["target"].unique())
    methods = list(dict.fromkeys(sub["method"]))
    fig, axes = plt.subplots(1, len(targets), figsize=(6.5 * len(targets), 4.6), squeeze=False)
    for ax, target in zip(axes.flat, targets):
        sns.lineplot(sub[sub["target"] == target], x="k", y="value", hue="method", hue_order=methods,
                     style="method", style_order=methods, markers=True, dashes=False, errorbar="sd", ax=ax)
        ax.set(title=f"{target}: ensemble of the first k members", xlabel="ensemble size k",
               ylabel="test accuracy of the mean probabilities (%)")
        ax.set_xticks(sorted(sub["k"].unique()))
        ax.legend(fontsize=7, ncol=2, title="method")
    fig.tight_layout()
    save(fig, out, style)
