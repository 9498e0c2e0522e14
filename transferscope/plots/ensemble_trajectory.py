"""Member accuracy along the SSE trajectories against the distance to member 1 (left: mean squared difference of
pooled test-set features, thesis B's MSE analysis; right: L2 distance of the weights). Lines join members 1..K in
training order (mean over runs; k labelled); StarSSE is drawn for contrast."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save

METHODS = ("sse", "sse_mse", "sse_rtd", "starsse")


def draw(table: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(table)
    frame = frame[frame["method"].isin(METHODS)]
    targets = sorted(frame["target"].unique()) or ["(none)"]
    distances = [("dist_features", "feature MSE to member 1 (pooled, test set)"),
                 ("dist_weights", "weight-space L2 distance to member 1")]
    fig, axes = plt.subplots(len(targets), 2, figsize=(12, 4.6 * len(targets)), squeeze=False)
    methods = [m for m in METHODS if m in set(frame["method"])]
    palette = dict(zip(methods, sns.color_palette(n_colors=max(1, len(methods)))))
    for row, target in enumerate(targets):
        sub = frame[frame["target"] == target]
        wide = sub.pivot_table(index=["method", "k"], columns="metric", values="value", aggfunc="mean").reset_index()
        for col, (metric, label) in enumerate(distances):
            ax = axes[row, col]
            if metric not in wide or wide.empty:
                ax.text(0.5, 0.5, "no SSE / StarSSE runs in this table", ha="center", transform=ax.transAxes)
                continue
            for method in methods:
                m = wide[wide["method"] == method].sort_values("k")
                ax.plot(m[metric], m["member_acc"] * 100, marker="o", color=palette[method], label=method,
                        linestyle="--" if method.startswith("starsse") else "-")
                for _, r in m.iterrows():
                    ax.annotate(str(int(r["k"])), (r[metric], r["member_acc"] * 100), fontsize=7, xytext=(3, 3),
                                textcoords="offset points")
            ax.set(title=f"{target}: member accuracy along the trajectory", xlabel=label,
                   ylabel="member test accuracy (%)")
            ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, out, style)
