"""Scatter of the best predictor (largest |Spearman ρ| with the headline outcome across all models on seed means,
level ``all``, per target) against that outcome: one point per (source, pre-training checkpoint), metric and outcome
averaged over seeds; colour = source, marker = pre-training checkpoint."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.metrics.registry import metric_label
from transferscope.plots._common import level_all_note, outcome_label, spearman_rows
from transferscope.plots.style import apply_style, save
from transferscope.tables import seed_mean

MODEL = ["target", "source", "arch", "checkpoint"]


def draw(transferability: str, metrics: str, outcomes: str, out: str, style: dict | None = None,
         outcome: str = "auc", mode: str | None = None) -> None:
    """``transferability``: transferability.csv; ``metrics``: metrics.csv; ``outcomes``: outcomes.csv;
    ``outcome``: the headline outcome (config analysis.outcome)."""
    style = apply_style(style)
    corr, mode = spearman_rows(transferability, outcome, ("all",), mode)
    corr = corr.dropna(subset=["value"])
    met, res = pd.read_csv(metrics), pd.read_csv(outcomes)
    res = res[(res["outcome"] == outcome) & (res["mode"] == mode) & (res["source"] != "scratch")]
    res = seed_mean(res, MODEL, ["value"]).rename(columns={"value": "y"})
    res["y"] *= 100  # fractions in the table, percent in the figure
    targets = sorted(corr["target"].unique())
    fig, axes = plt.subplots(1, max(len(targets), 1), figsize=(5.4 * max(len(targets), 1), 4.4), squeeze=False)
    if not targets:  # e.g. fewer than 3 models per architecture: every ρ at level all undefined
        axes[0, 0].text(0.5, 0.5, f"no defined Spearman ρ at level all\n(outcome {outcome}, mode {mode})",
                        ha="center", va="center")
        axes[0, 0].set_axis_off()
    for ax, target in zip(axes.flat, targets):
        sub = corr[corr["target"] == target]
        best = sub.loc[sub["value"].abs().idxmax()]
        x = met[(met["target"] == target) & (met["metric"] == best["metric"]) & (met["layer"] == best["layer"])
                & met["arch"].isin(str(best["arch"]).split("+"))]  # analysis.pool_archs: "vgg16+vgg19"
        merged = seed_mean(x, MODEL, ["value"]).merge(res, on=MODEL)
        sns.scatterplot(merged, x="value", y="y", hue="source", style="checkpoint", s=60, ax=ax)
        ax.set(title=f"target {target}: {best['metric']} @ {best['layer']}\n"
                     f"ρ = {best['value']:+.2f} ({level_all_note(sub)})",
               xlabel=f"{metric_label(best['metric'])} at {best['layer']}\n(pre-trained model, seed mean)",
               ylabel=f"{outcome_label(outcome)}\n(mode {mode}, seed mean)")
        ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    save(fig, out, style)
