"""Outcomes of fine-tuning, per fine-tuned model and as seed means: what the representation metrics should predict.

One row per fine-tuned model (target, source, arch, seed, checkpoint, mode) and outcome, accuracy as a fraction:

- ``test_acc``: final fine-tuned test accuracy;
- ``early_acc``: test accuracy at an early fine-tuning eval point (config ``analysis.early_point``; thesis A: after
  30 steps; default: the first eval point after step 0);
- ``gain``: ``test_acc`` minus the scratch baseline's final accuracy (same target, arch, seed);
- ``peak_gain``: the largest gain over scratch at equal fine-tuning points (same seed), over the eval points;
- ``auc``: thesis A's transfer score, the trapezoid area under the fine-tuning curve with the eval-point index in
  *step* order as x (unit spacing, ≈ log time), whatever order the config lists the points in.
``OUTCOMES`` is the registry of these names with their figure labels (fractions in tables, percent in figures);
the schema's ``analysis.outcome`` enum and the figures read it. Pure pandas on tidy tables, like ``tables``.

``point_accuracy`` is not one outcome per model but the whole curve: test accuracy at every fine-tuning eval point
(outcome ``POINT_OUTCOME``, one row per model and ``point``), what level ``per_point`` of
``transferscope.analysis.correlate`` correlates point by point; ``point_order`` gives the points in training order.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from transferscope.tables import point_gains, with_gain

MODEL_KEYS = ["target", "source", "arch", "seed", "checkpoint", "mode"]
OUTCOMES = {
    "auc": "AUC of the fine-tuning curve (accuracy % × eval-point index)",
    "test_acc": "final fine-tuned test accuracy (%)",
    "early_acc": "early fine-tuned test accuracy (%)",
    "gain": "final gain over scratch (percentage points)",
    "peak_gain": "peak gain over scratch (percentage points)",
}
POINT_OUTCOME = "point_acc"  # test accuracy at one eval point (level per_point), not an OUTCOMES entry


def _in_step_order(curves: pd.DataFrame) -> pd.DataFrame:
    """Curve rows sorted by step within each model (a stable sort: points at the same step keep their order)."""
    return curves.sort_values(MODEL_KEYS + ["step"], kind="stable")


def curve_auc(curves: pd.DataFrame) -> pd.Series:
    """AUC per fine-tuned model: trapezoid of test accuracy over the eval-point index 0, 1, 2, … in step order."""
    def area(acc: pd.Series) -> float:
        values = acc.to_numpy(float)
        return float(np.trapezoid(values, np.arange(len(values))))

    return _in_step_order(curves).groupby(MODEL_KEYS, sort=True)["test_acc"].apply(area)


def early_accuracy(curves: pd.DataFrame, early_point: str | None = None) -> pd.Series:
    """Accuracy per fine-tuned model at ``early_point`` (None: the first eval point with step > 0)."""
    if early_point is not None:
        rows = curves[curves["point"] == early_point]
    else:
        rows = _in_step_order(curves[curves["step"] > 0]).groupby(MODEL_KEYS, sort=False).head(1)
    return rows.set_index(MODEL_KEYS)["test_acc"].sort_index()


def peak_gain(curves: pd.DataFrame) -> pd.Series:
    """Largest (accuracy − scratch accuracy at the same point and seed) per fine-tuned model."""
    return point_gains(curves).groupby(MODEL_KEYS, sort=True)["gain"].max()


def outcome_table(finetune: pd.DataFrame, curves: pd.DataFrame, early_point: str | None = None) -> pd.DataFrame:
    """Long table MODEL_KEYS, outcome, value for every fine-tuned model (scratch rows are the baseline, not rows)."""
    tuned = with_gain(finetune).set_index(MODEL_KEYS).sort_index()
    models = curves[curves["source"] != "scratch"]
    parts = {
        "test_acc": tuned["test_acc"],
        "early_acc": early_accuracy(models, early_point),
        "gain": tuned["gain"],
        "peak_gain": peak_gain(curves) if (curves["source"] == "scratch").any() else pd.Series(dtype=float),
        "auc": curve_auc(models),
    }
    frames = [series.rename("value").reset_index().assign(outcome=name) for name, series in parts.items() if len(series)]
    table = pd.concat(frames, ignore_index=True).dropna(subset=["value"])
    table["seed"] = table["seed"].astype(int)
    return table[MODEL_KEYS + ["outcome", "value"]].sort_values(MODEL_KEYS + ["outcome"], kind="stable",
                                                                  ignore_index=True)


def point_order(curves: pd.DataFrame) -> list[str]:
    """Eval-point names in training order: by their mean index in step order within each model (so points whose step
    differs between targets, e.g. epoch1, still sort where they are trained), ties in order of first appearance."""
    if curves.empty:
        return []
    ordered = _in_step_order(curves)
    index = ordered.groupby(MODEL_KEYS, sort=False).cumcount().rename("index")
    first = {point: i for i, point in enumerate(dict.fromkeys(curves["point"]))}
    mean = index.groupby(ordered["point"]).mean()
    return sorted(mean.index, key=lambda point: (mean[point], first[point]))


def point_accuracy(curves: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy of every fine-tuned model at every eval point: MODEL_KEYS, ``point``, ``outcome``
    (= ``POINT_OUTCOME``), ``value``; scratch rows (the baseline) and missing accuracies are left out."""
    rows = curves[(curves["source"] != "scratch") & curves["test_acc"].notna()]
    table = rows[MODEL_KEYS + ["point"]].assign(outcome=POINT_OUTCOME, value=rows["test_acc"].astype(float))
    return table.astype({"seed": int}).reset_index(drop=True)


def transfer_summary(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Seed mean, sd (ddof 1; NaN for one seed) and number of seeds of every outcome per (target, source, arch,
    checkpoint, mode)."""
    keys = ["target", "source", "arch", "checkpoint", "mode", "outcome"]
    summary = outcomes.groupby(keys, sort=True)["value"].agg(mean="mean", sd="std", n="count")
    return summary.reset_index()
