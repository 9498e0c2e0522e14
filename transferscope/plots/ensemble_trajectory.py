"""Member accuracy against the distance from member 1, thesis B's Figs. 4.2 and 4.3 (bottom): one point per member
of every SSE / StarSSE-family run (member accuracy from ``ensembles.csv``, distance from ``ensemble_distances.csv``),
coloured by the member's index k (sequential colormap, colour bar), one marker per method. Panels: the pooled test
features by MSE, RTD and Wasserstein distance W1 (point clouds), then the weights by MSE per stage of the
architecture (log x; member 1, at 0, has no place there). Deep Ensembles have no trajectory and are left out."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from transferscope.names import variant_head
from transferscope.plots.style import apply_style, save

KEYS = ["target", "source", "arch", "seed", "replicate", "method"]  # a run, in both tables
FEATURE_PANELS = [("feature_mse", "feature MSE to member 1"),
                  ("feature_rtd", "feature RTD to member 1"),
                  ("feature_wasserstein", "feature Wasserstein distance W1 to member 1")]
FEATURE_LAYER = "pool"
WEIGHT_MEASURE = "weight_mse"
NOT_A_STAGE = ("all", "other")  # weight rows of the whole network and of parameters outside the named layers
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
CMAP = "viridis"
# The SSE / StarSSE families (plan.METHODS whose members start from an earlier member, not from a checkpoint; a
# test keeps the two lists equal), in legend order: the SSE family, then the StarSSE family.
CYCLE_METHODS = ("sse", "sse_mse", "sse_rtd", "starsse", "starsse_mse", "starsse_rtd", "starsse_freeze", "starsse_wo",
                 "starsse_ce")


def base_method(method: str) -> str:
    """The method a variant label belongs to: ``starsse[members=15]`` / ``starsse_freeze-stage1`` -> ``starsse`` /
    ``starsse_freeze`` (the leading name)."""
    return variant_head(method) or method


def method_order(method: str) -> tuple[int, str]:
    base = base_method(method)
    return (CYCLE_METHODS.index(base) if base in CYCLE_METHODS else len(CYCLE_METHODS), method)


def is_cycle_method(method: str) -> bool:
    return base_method(method) in CYCLE_METHODS


def weight_layers(dist: pd.DataFrame) -> list[str]:
    """The layers of the weight panels: the architecture's stages (``stage_taps``, which name their layers in the
    ResNets) that have weight rows; else every named layer; else the whole network (``all``)."""
    from transferscope.models import stage_taps

    present = list(dict.fromkeys(dist.loc[dist["measure"] == WEIGHT_MEASURE, "layer"]))
    stages = []
    for arch in dict.fromkeys(dist["arch"]):
        try:
            stages += [tap for tap in stage_taps(arch) if tap in present and tap not in stages]
        except ValueError:  # an architecture outside the registry: fall back to its table's layers
            continue
    return stages or [layer for layer in present if layer not in NOT_A_STAGE] or [NOT_A_STAGE[0]]


def member_points(table: str, distances: str) -> pd.DataFrame:
    """Rows KEYS, k, measure, layer, value (distance to member 1), acc (member accuracy 0..1): one per member of a
    cycle-method run and distance."""
    members = pd.read_csv(table)
    members = members[(members["metric"] == "member_acc") & members["method"].map(is_cycle_method)]
    dist = pd.read_csv(distances)
    dist = dist[dist["method"].map(is_cycle_method)]
    return dist.merge(members[KEYS + ["k", "value"]].rename(columns={"value": "acc"}), on=KEYS + ["k"])


def draw(table: str, distances: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    points = member_points(table, distances)
    panels = [(measure, FEATURE_LAYER, label, False) for measure, label in FEATURE_PANELS]
    panels += [(WEIGHT_MEASURE, layer, f"weight MSE to member 1: {layer}", True) for layer in weight_layers(points)]
    targets = sorted(points["target"].unique()) or ["(none)"]
    methods = sorted(points["method"].unique(), key=method_order)
    marker = {m: MARKERS[i % len(MARKERS)] for i, m in enumerate(methods)}
    norm = Normalize(1, max(2, int(points["k"].max()) if len(points) else 2))
    fig, axes = plt.subplots(len(targets), len(panels), figsize=(3.8 * len(panels) + 1.5, 3.9 * len(targets)),
                             squeeze=False, layout="constrained")
    for row, target in enumerate(targets):
        for col, (measure, layer, label, log) in enumerate(panels):
            ax = axes[row, col]
            sub = points[(points["target"] == target) & (points["measure"] == measure) & (points["layer"] == layer)]
            if log:
                sub = sub[sub["value"] > 0]  # member 1 and frozen layers sit at 0
            for method in methods:
                m = sub[sub["method"] == method]
                if not m.empty:
                    ax.scatter(m["value"], m["acc"] * 100, c=m["k"], cmap=CMAP, norm=norm, marker=marker[method],
                               s=36, edgecolors="black", linewidths=0.4, label=method)
            if not ax.collections:
                ax.text(0.5, 0.5, f"no {measure} ({layer})\nof SSE / StarSSE runs", ha="center", va="center",
                        transform=ax.transAxes)
            elif log:
                ax.set_xscale("log")
            ax.set(title=f"{target}: {measure.replace('_', ' ')}" + (f" ({layer})" if log else ""), xlabel=label,
                   ylabel="member test accuracy (%)" if col == 0 else "")
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=CMAP), ax=axes, label="member k (index along the trajectory)",
                       shrink=0.9)
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if methods:
        handles = [Line2D([], [], linestyle="", marker=marker[m], color="0.5", markeredgecolor="black", label=m)
                   for m in methods]
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(methods), 6), fontsize=8)
    save(fig, out, style)
