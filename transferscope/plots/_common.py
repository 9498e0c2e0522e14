"""Helpers shared by the plotting modules: seed means, checkpoint order, the log step axis, outcome labels and the
rows of transferability.csv a figure reads."""
from __future__ import annotations

import re
import textwrap

import numpy as np
import pandas as pd
import seaborn as sns

from transferscope.metrics.registry import metric_label
from transferscope.outcomes import OUTCOMES
from transferscope.tables import point_gains

def outcome_label(outcome: str) -> str:
    """Figure label of a fine-tuning outcome (registry ``transferscope.outcomes.OUTCOMES``)."""
    return OUTCOMES.get(outcome, outcome)


def metric_axis_label(metric: str, suffix: str = "", width: int = 24) -> str:
    """A metric's registry label wrapped for a narrow axis, with an optional last line (e.g. "Spearman ρ")."""
    return textwrap.fill(metric_label(metric), width) + (f"\n{suffix}" if suffix else "")


def no_data_figure(out: str, style: dict, message: str) -> None:
    """A figure that says why there is nothing to draw (e.g. no from-scratch baseline, so no gain), so a config
    without the needed runs still finishes with every declared output."""
    import matplotlib.pyplot as plt

    from transferscope.plots.style import save

    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.text(0.5, 0.5, textwrap.fill(message, 60), ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    save(fig, out, style)


NO_SCRATCH = "no gain over scratch to draw: the config trains no from-scratch baseline (finetune.scratch: false)"


def choose(frame: pd.DataFrame, column: str, value=None):
    """``value`` if given, else the first value of ``column`` in sorted order (e.g. the first fine-tuning mode)."""
    return value if value is not None else sorted(frame[column].dropna().unique())[0]


def _name_key(name: str) -> tuple:
    """Order of a checkpoint by its name alone: step0 < stepN < epochN < final < anything else."""
    match = re.fullmatch(r"(step|epoch)(\d+)", str(name))
    if match:
        return (0 if match[1] == "step" else 1, int(match[2]))
    return (2, 0) if name == "final" else (3, str(name))


def checkpoint_order(names, pretrain_points: str | pd.DataFrame | None = None) -> list[str]:
    """Pre-training checkpoints in step order: by the median step recorded in pretrain_points.csv where known, by
    name otherwise (stepN, epochN, final)."""
    names = list(dict.fromkeys(names))
    steps = {}
    if pretrain_points is not None:
        points = pd.read_csv(pretrain_points) if isinstance(pretrain_points, str) else pretrain_points
        steps = points.dropna(subset=["step"]).groupby("checkpoint")["step"].median().to_dict()
    return sorted(names, key=lambda name: (steps.get(name, np.inf), _name_key(name)))


def checkpoint_palette(order: list[str]) -> dict[str, tuple]:
    """Sequential colours for pre-training checkpoints: light = early, dark = late."""
    return dict(zip(order, sns.color_palette("viridis_r", max(len(order), 1))))


def source_palette(sources) -> dict[str, tuple]:
    """One colour of the configured (categorical) palette per source."""
    sources = list(sources)
    return dict(zip(sources, sns.color_palette(n_colors=max(len(sources), 1))))


def log_step_axis(ax, label: str) -> None:
    """Symlog x axis: linear between 0 and 1, so step 0 (untrained / before fine-tuning) is shown, log above."""
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.set_xlabel(label)


def is_significant(column: pd.Series) -> np.ndarray:
    """The ``significant`` column of transferability.csv as booleans (NaN or missing = not significant)."""
    return column.map(lambda v: str(v).strip().lower() in ("true", "1", "1.0")).to_numpy(bool)


def spearman_rows(table: str | pd.DataFrame, outcome: str, levels: tuple[str, ...], mode: str | None = None
                  ) -> tuple[pd.DataFrame, str]:
    """Spearman rows of transferability.csv for ``outcome`` at ``levels``, one fine-tuning mode (default: the first)
    and the first architecture, without the input layer; a table without a ``level`` column is level ``all``."""
    frame = pd.read_csv(table) if isinstance(table, str) else table
    if "level" not in frame:
        frame = frame.assign(level="all")
    frame = frame[(frame["statistic"] == "spearman") & (frame["outcome"] == outcome) & frame["level"].isin(levels)
                  & (frame["layer"] != "in")]
    if frame.empty:
        return frame, mode
    mode = choose(frame, "mode", mode)
    return frame[(frame["mode"] == mode) & (frame["arch"] == choose(frame, "arch"))].copy(), mode


def level_all_note(sub) -> str:
    """Title note of a target's level-all Spearman rows: the largest n and its band, "n = 72, band ±0.232"."""
    if sub.empty:
        return "n = 0"
    row = sub.loc[sub["n"].idxmax()]
    band = f", band ±{row['band']:.3f}" if np.isfinite(row["band"]) else ", no band (n too small)"
    return f"n = {int(row['n'])}{band}"


def gain_at_points(curves: pd.DataFrame, checkpoint: str) -> pd.DataFrame:
    """Curve rows fine-tuned from ``checkpoint`` with ``gain`` = acc − scratch acc at the same point and seed, in
    accuracy points."""
    gains = point_gains(curves)
    gains = gains[gains["checkpoint"] == checkpoint].copy()
    gains["gain"] *= 100
    return gains
