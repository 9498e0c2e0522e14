"""Do representation metrics and transferability scores predict fine-tuning outcomes?

Outcomes per fine-tuned model (target, source, arch, seed, checkpoint, mode):
- ``test_acc``: final fine-tuned test accuracy (fraction);
- ``gain``: test_acc minus the scratch baseline of the same (target, arch, seed);
- ``auc``: thesis A's transfer score, the trapezoid area under the fine-tuning curve with the eval-point index as
  x (unit spacing), accuracy as a fraction.
For each (target, arch, mode, outcome, metric, layer) the metric is paired with the outcome across all sources,
seeds and checkpoints and four statistics are reported: Spearman ρ, Kendall τ, weighted Kendall τ (scipy's
hyperbolic weighting, emphasising the top of the ranking) and Pearson r, with p-values (none for weighted τ).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

KEYS = ["target", "source", "arch", "seed", "checkpoint"]


def curve_auc(curves: pd.DataFrame, eval_points: list[str] | None = None) -> pd.DataFrame:
    """AUC per fine-tuned model: trapezoid of test accuracy over the eval-point index (0, 1, 2, ...)."""
    frame = curves[curves["source"] != "scratch"].copy()
    order = eval_points or list(dict.fromkeys(frame.sort_values("step")["point"]))
    frame["index"] = frame["point"].map({p: i for i, p in enumerate(order)})
    frame = frame.dropna(subset=["index"]).sort_values("index")

    def area(group: pd.DataFrame) -> float:
        return float(np.trapezoid(group["test_acc"].to_numpy(), group["index"].to_numpy()))

    auc = frame.groupby(KEYS + ["mode"])[["index", "test_acc"]].apply(area)
    return auc.rename("auc").reset_index()


def outcomes(finetune: pd.DataFrame, curves: pd.DataFrame | None = None, eval_points=None) -> pd.DataFrame:
    """Long table KEYS + mode, outcome, y."""
    from transferscope.tables import with_gain

    tuned = with_gain(finetune)
    tuned["seed"] = tuned["seed"].astype(int)
    parts = [tuned[KEYS + ["mode", "test_acc"]].rename(columns={"test_acc": "y"}).assign(outcome="test_acc"),
             tuned[KEYS + ["mode", "gain"]].rename(columns={"gain": "y"}).assign(outcome="gain")]
    if curves is not None and len(curves):
        auc = curve_auc(curves, eval_points)
        auc["seed"] = auc["seed"].astype(int)
        parts.append(auc.rename(columns={"auc": "y"}).assign(outcome="auc"))
    return pd.concat(parts, ignore_index=True).dropna(subset=["y"])


def correlation_stats(x: np.ndarray, y: np.ndarray) -> list[dict]:
    """Spearman, Kendall, weighted Kendall and Pearson between x and y (finite pairs only)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(len(x))
    rows = []
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        for name in ("spearman", "kendall", "weighted_tau", "pearson"):
            rows.append({"statistic": name, "value": np.nan, "p_value": np.nan, "n": n})
        return rows
    rho, p = stats.spearmanr(x, y)
    rows.append({"statistic": "spearman", "value": float(rho), "p_value": float(p), "n": n})
    tau, p = stats.kendalltau(x, y)
    rows.append({"statistic": "kendall", "value": float(tau), "p_value": float(p), "n": n})
    rows.append({"statistic": "weighted_tau", "value": float(stats.weightedtau(x, y).statistic), "p_value": np.nan, "n": n})
    r, p = stats.pearsonr(x, y)
    rows.append({"statistic": "pearson", "value": float(r), "p_value": float(p), "n": n})
    return rows


def transferability_table(metrics: pd.DataFrame, finetune: pd.DataFrame, curves: pd.DataFrame | None = None,
                          eval_points=None) -> pd.DataFrame:
    """Columns: target, arch, mode, outcome, metric, layer, statistic, value, p_value, n."""
    metrics = metrics.copy()
    metrics["seed"] = metrics["seed"].astype(int)
    merged = metrics.merge(outcomes(finetune, curves, eval_points), on=KEYS)
    rows = []
    for key, group in merged.groupby(["target", "arch", "mode", "outcome", "metric", "layer"], sort=True):
        for stat in correlation_stats(group["value"].to_numpy(float), group["y"].to_numpy(float)):
            rows.append(dict(zip(["target", "arch", "mode", "outcome", "metric", "layer"], key), **stat))
    return pd.DataFrame(rows, columns=["target", "arch", "mode", "outcome", "metric", "layer", "statistic", "value",
                                       "p_value", "n"])
