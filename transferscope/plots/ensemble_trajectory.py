"""Member accuracy along the SSE trajectories against the distance to member 1, thesis B's analysis: pooled test-set
features by MSE, RTD and 1-D Wasserstein distance, and the weights by L2 distance (``ensemble_distances.csv``;
member accuracy from ``ensembles.csv``). Lines join members 1..K in training order (mean over runs; k labelled);
the StarSSE family is drawn dashed for contrast."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save

METHODS = ("sse", "sse_mse", "sse_rtd", "starsse", "starsse_mse", "starsse_rtd")  # and their variants
DISTANCES = [("feature_mse", "pool", "feature MSE to member 1"),
             ("feature_rtd", "pool", "feature RTD to member 1"),
             ("feature_wasserstein", "pool", "feature Wasserstein distance to member 1"),
             ("weight_l2", "all", "weight-space L2 distance to member 1")]


def _base(method: str) -> str:
    return method.split("[")[0].split("-")[0]


def draw(table: str, distances: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    members = pd.read_csv(table)
    members = members[(members["metric"] == "member_acc") & members["method"].map(_base).isin(METHODS)]
    dist = pd.read_csv(distances)
    dist = dist[dist["method"].map(_base).isin(METHODS)]
    acc = members.groupby(["target", "method", "k"])["value"].mean().rename("acc").reset_index()
    targets = sorted(set(acc["target"]) | set(dist["target"])) or ["(none)"]
    fig, axes = plt.subplots(len(targets), len(DISTANCES), figsize=(5.2 * len(DISTANCES), 4.4 * len(targets)),
                             squeeze=False)
    methods = sorted(set(acc["method"]), key=lambda m: (METHODS.index(_base(m)), m))
    palette = dict(zip(methods, sns.color_palette(n_colors=max(1, len(methods)))))
    for row, target in enumerate(targets):
        for col, (measure, layer, label) in enumerate(DISTANCES):
            ax = axes[row, col]
            sub = dist[(dist["target"] == target) & (dist["measure"] == measure) & (dist["layer"] == layer)]
            wide = sub.groupby(["method", "k"])["value"].mean().reset_index().merge(
                acc[acc["target"] == target], on=["method", "k"])
            if wide.empty:
                ax.text(0.5, 0.5, f"no {measure} of SSE / StarSSE runs", ha="center", transform=ax.transAxes)
                continue
            for method in methods:
                m = wide[wide["method"] == method].sort_values("k")
                ax.plot(m["value"], m["acc"] * 100, marker="o", color=palette[method], label=method,
                        linestyle="--" if method.startswith("starsse") else "-")
                for _, r in m.iterrows():
                    ax.annotate(str(int(r["k"])), (r["value"], r["acc"] * 100), fontsize=7, xytext=(3, 3),
                                textcoords="offset points")
            ax.set(title=f"{target}: {measure.replace('_', ' ')}", xlabel=label, ylabel="member test accuracy (%)")
            ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, out, style)
