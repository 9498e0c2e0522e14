"""The benchmark leaderboard (headline slice: all weights fine-tuned, test accuracy). Left: weighted Kendall τ of
each estimator's ranking of the zoo, one marker per target and a black diamond for the mean over targets, 95 %
bootstrap intervals, baselines in grey, a dashed line at the best static baseline's mean τ_w. Right: score against
fine-tuned accuracy for the best and the worst estimator (by mean τ_w) on the target with the most models, one
point per pre-trained model, coloured by architecture."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transferscope.benchmark.rank import MEAN_TARGET, RANDOM_BASELINE
from transferscope.benchmark.zoo import headline_slice, reading_order
from transferscope.plots.style import apply_style, save


def draw(leaderboard: str, zoo: str, out: str, style: dict | None = None) -> None:
    """``leaderboard``: leaderboard.csv; ``zoo``: benchmark_zoo.csv (scores and accuracies per model)."""
    style = apply_style(style)
    head, (mode, outcome) = headline_slice(pd.read_csv(leaderboard))
    mean = head[head["target"] == MEAN_TARGET].set_index("estimator")
    order = reading_order(mean)
    targets = [t for t in dict.fromkeys(head["target"]) if t != MEAN_TARGET]
    fig = plt.figure(figsize=(12, max(4.5, 0.32 * len(order) + 1.5)))
    grid = fig.add_gridspec(2, 2, width_ratios=(1.35, 1))
    ax = fig.add_subplot(grid[:, 0])
    y = {estimator: len(order) - 1 - i for i, estimator in enumerate(order)}
    colours = dict(zip(targets, sns.color_palette(n_colors=max(len(targets), 1))))
    offsets = dict(zip(targets, np.linspace(-0.25, 0.25, len(targets) + 2)[1:-1]))
    for target in targets + [MEAN_TARGET]:
        rows = head[head["target"] == target].dropna(subset=["tau_w"])
        ys = np.array([y[e] + offsets.get(target, 0.0) for e in rows["estimator"]])
        colour = "black" if target == MEAN_TARGET else colours[target]
        alpha = 1 if target == MEAN_TARGET else 0.75
        # Segments, not errorbar(xerr=...): a percentile interval need not contain its point estimate (tied
        # scores, e.g. parameter counts shared by an architecture's models), and errorbar rejects the negative
        # half-width that would give; the point is drawn where it is, outside its interval if so.
        ax.hlines(ys, rows["tau_w_ci_low"], rows["tau_w_ci_high"], color=colour, lw=0.8, alpha=alpha)
        ax.plot(rows["tau_w"], ys, "D" if target == MEAN_TARGET else "o", ms=6 if target == MEAN_TARGET else 4,
                color=colour, alpha=alpha, label="mean over targets" if target == MEAN_TARGET else target)
    static = mean[mean["baseline"] & (mean.index != RANDOM_BASELINE)]["tau_w"].dropna()
    if len(static):  # named in the legend: a text above the top row ran into the title
        ax.axvline(static.max(), ls="--", color="grey", lw=1,
                   label=f"best static baseline ({static.idxmax().split(':', 1)[1]}, mean τ_w {static.max():+.2f})")
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks([y[e] for e in order], order)
    for label in ax.get_yticklabels():
        if mean.loc[label.get_text(), "baseline"]:
            label.set_color("grey")
            label.set_style("italic")
    ax.set(xlabel="weighted Kendall τ with fine-tuned accuracy (95 % bootstrap interval)", xlim=(-1.05, 1.05),
           title=f"Ranking the zoo (mode {mode}, outcome {outcome})")
    ax.legend(fontsize=7, loc="best")
    _scatter_best_and_worst(fig, grid, pd.read_csv(zoo), head, mean, mode, outcome)
    fig.tight_layout()
    save(fig, out, style)


def _scatter_best_and_worst(fig, grid, zoo: pd.DataFrame, head: pd.DataFrame, mean: pd.DataFrame, mode: str,
                            outcome: str) -> None:
    """Right column: score against accuracy of the best and the worst non-baseline estimator by mean τ_w (its
    rows of ``mean``: the leaderboard's mean rows by estimator) on the target of ``zoo`` (benchmark_zoo.csv) with
    the most models, titled with τ_w on that target (``head``: the headline slice's rows) and the mean τ_w."""
    zoo = zoo[(zoo["mode"] == mode) & (zoo["outcome"] == outcome)]
    ranked = mean[~mean["baseline"]]["tau_w"].dropna().sort_values()
    if zoo.empty or ranked.empty:
        return
    target = zoo.groupby("target")["model"].size().idxmax()
    for row, (estimator, kind) in enumerate(((ranked.index[-1], "best"), (ranked.index[0], "worst"))):
        ax = fig.add_subplot(grid[row, 1])
        part = zoo[(zoo["target"] == target) & (zoo["estimator"] == estimator)]
        archs = part["model"].str.split("/").str[-1]
        sns.scatterplot(x=part["score"], y=part["accuracy"], hue=archs, s=28, ax=ax)
        at_target = head.loc[(head["target"].astype(str) == str(target)) & (head["estimator"] == estimator), "tau_w"]
        here = f"τ_w {at_target.iloc[0]:+.2f}, " if len(at_target) and pd.notna(at_target.iloc[0]) else ""
        ax.set(title=f"{kind}: {estimator} on {target} ({here}mean τ_w {ranked[estimator]:+.2f})",
               xlabel=f"{estimator} score (higher = predicted better)", ylabel=f"{outcome} ({mode})")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7, title=None)
