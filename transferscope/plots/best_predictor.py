"""Scatter of the best predictor (largest |Spearman ρ| with fine-tuned test accuracy, per target) against the
fine-tuned accuracy of every model: colour = source, marker = pre-training checkpoint."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save


def draw(transferability: str, metrics: str, finetune: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    corr = pd.read_csv(transferability)
    corr = corr[(corr["outcome"] == "test_acc") & (corr["statistic"] == "spearman") & (corr["layer"] != "in")]
    mode = sorted(corr["mode"].unique())[0]
    corr = corr[corr["mode"] == mode].dropna(subset=["value"])
    met, tuned = pd.read_csv(metrics), pd.read_csv(finetune)
    tuned = tuned[(tuned["source"] != "scratch") & (tuned["mode"] == mode)]
    targets = sorted(corr["target"].unique())
    fig, axes = plt.subplots(1, len(targets), figsize=(5.2 * len(targets), 4.2), squeeze=False)
    for ax, target in zip(axes.flat, targets):
        sub = corr[corr["target"] == target]
        best = sub.loc[sub["value"].abs().idxmax()]
        x = met[(met["target"] == target) & (met["metric"] == best["metric"]) & (met["layer"] == best["layer"])]
        merged = x.merge(tuned, on=["target", "source", "arch", "seed", "checkpoint"])
        sns.scatterplot(merged, x="value", y="test_acc", hue="source", style="checkpoint", s=60, ax=ax)
        ax.set(title=f"target {target}: {best['metric']} @ {best['layer']} (ρ = {best['value']:+.2f}, n = {int(best['n'])})",
               xlabel=f"{best['metric']} at {best['layer']} (pre-trained model)", ylabel=f"fine-tuned test accuracy ({mode})")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, out, style)
