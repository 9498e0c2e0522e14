"""Per-layer weight distance of member k to member 1 (mean squared difference of the layer's parameters, log scale;
``ensemble_distances.csv``, measure ``weight_mse``): one panel per layer of the architecture (stages of the ResNets),
one line per method over k = 2..K (mean over runs). Thesis B plotted the log-MSE per stage of ResNet-50.
:func:`per_layer_figure` draws any per-layer measure of that table so (``ensemble_stage_outputs`` uses it)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from transferscope.plots.style import apply_style, save

MEASURE = "weight_mse"
SKIP_LAYERS = ("all",)  # the whole network: not a layer


def per_layer_figure(distances: str, measure: str, ylabel: str) -> plt.Figure:
    """One panel per layer of ``measure`` in ``distances`` (table order, :data:`SKIP_LAYERS` left out) and target,
    one line per method: mean over runs against k = 2..K, log y (values ≤ 0 left out: a frozen layer)."""
    frame = pd.read_csv(distances)
    frame = frame[(frame["measure"] == measure) & ~frame["layer"].isin(SKIP_LAYERS) & (frame["k"] >= 2)]
    targets = sorted(frame["target"].unique()) or ["(none)"]
    layers = list(dict.fromkeys(frame["layer"])) or ["(none)"]  # the table keeps the architecture's layer order
    methods = list(dict.fromkeys(frame["method"]))
    palette = dict(zip(methods, sns.color_palette(n_colors=max(1, len(methods)))))
    fig, axes = plt.subplots(len(targets), len(layers), figsize=(3.6 * len(layers) + 1.5, 3.6 * len(targets)),
                             squeeze=False, sharey="row")
    for row, target in enumerate(targets):
        means = frame[frame["target"] == target].groupby(["layer", "method", "k"])["value"].mean()
        for col, layer in enumerate(layers):
            ax = axes[row, col]
            for method in methods:
                if (layer, method) not in means.index.droplevel("k"):
                    continue
                line = means.loc[(layer, method)].sort_index()
                line = line[line > 0]  # a frozen layer does not move: 0 has no place on a log axis
                ax.plot(line.index, line.values, marker="o", color=palette[method], label=method,
                        linestyle="--" if method.startswith("starsse") else "-")
            if ax.lines:
                ax.set_yscale("log")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set(title=f"{target}: {layer}", xlabel="member k", ylabel=ylabel if col == 0 else "")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    for ax in axes.flat:
        if len(ax.get_legend_handles_labels()[0]) > len(handles):
            handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def draw(distances: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    save(per_layer_figure(distances, MEASURE, "weight MSE to member 1"), out, style)
