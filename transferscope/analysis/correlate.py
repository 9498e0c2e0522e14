"""Do representation metrics and transferability scores predict fine-tuning outcomes?

Outcomes per fine-tuned model (target, source, arch, seed, checkpoint, mode):
- ``test_acc``: final fine-tuned test accuracy (fraction);
- ``gain``: test_acc minus the scratch baseline of the same (target, arch, seed);
- ``auc``: thesis A's transfer score, the trapezoid area under the fine-tuning curve with the eval-point index as
  x (unit spacing), accuracy as a fraction.
For each (target, arch, mode, outcome, metric, layer) the metric is paired with the outcome across all sources,
seeds and checkpoints and four statistics are reported: Spearman ρ, Kendall τ, weighted Kendall τ (scipy's
hyperbolic weighting, emphasising the top of the ranking) and Pearson r, with p-values (none for weighted τ), plus
a percentile bootstrap interval of Spearman ρ over models (``analysis.bootstrap`` resamples).
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


def bootstrap_spearman_ci(x: np.ndarray, y: np.ndarray, n_boot: int, seed: int = 0, level: float = 0.95
                          ) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman ρ, resampling (x, y) pairs (models) with replacement.

    Vectorised: ranks of every resample at once; resamples with a constant x or y are skipped."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    rx = stats.rankdata(x[idx], axis=1)
    ry = stats.rankdata(y[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))
    ok = den > 0
    if not ok.any():
        return np.nan, np.nan
    rho = (rx * ry).sum(1)[ok] / den[ok]
    alpha = (1 - level) / 2
    return float(np.quantile(rho, alpha)), float(np.quantile(rho, 1 - alpha))


def correlation_stats(x: np.ndarray, y: np.ndarray, n_boot: int = 0, seed: int = 0) -> list[dict]:
    """Spearman, Kendall, weighted Kendall and Pearson between x and y (finite pairs only).

    ``n_boot`` > 0 adds a 95 % percentile bootstrap interval (``ci_low``, ``ci_high``) to Spearman's row."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(len(x))
    rows = []
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        for name in ("spearman", "kendall", "weighted_tau", "pearson"):
            rows.append({"statistic": name, "value": np.nan, "p_value": np.nan, "n": n})
        return rows
    rho, p = stats.spearmanr(x, y)
    low, high = bootstrap_spearman_ci(x, y, n_boot, seed) if n_boot else (np.nan, np.nan)
    rows.append({"statistic": "spearman", "value": float(rho), "p_value": float(p), "n": n, "ci_low": low,
                 "ci_high": high})
    tau, p = stats.kendalltau(x, y)
    rows.append({"statistic": "kendall", "value": float(tau), "p_value": float(p), "n": n})
    rows.append({"statistic": "weighted_tau", "value": float(stats.weightedtau(x, y).statistic), "p_value": np.nan, "n": n})
    r, p = stats.pearsonr(x, y)
    rows.append({"statistic": "pearson", "value": float(r), "p_value": float(p), "n": n})
    return rows


def transferability_table(metrics: pd.DataFrame, finetune: pd.DataFrame, curves: pd.DataFrame | None = None,
                          eval_points=None, n_boot: int = 0, seed: int = 0) -> pd.DataFrame:
    """Columns: target, arch, mode, outcome, metric, layer, statistic, value, p_value, n, ci_low, ci_high
    (bootstrap interval of Spearman ρ over models when ``n_boot`` > 0, else NaN)."""
    metrics = metrics.copy()
    metrics["seed"] = metrics["seed"].astype(int)
    merged = metrics.merge(outcomes(finetune, curves, eval_points), on=KEYS)
    rows = []
    for key, group in merged.groupby(["target", "arch", "mode", "outcome", "metric", "layer"], sort=True):
        for stat in correlation_stats(group["value"].to_numpy(float), group["y"].to_numpy(float), n_boot, seed):
            rows.append(dict(zip(["target", "arch", "mode", "outcome", "metric", "layer"], key), **stat))
    return pd.DataFrame(rows, columns=["target", "arch", "mode", "outcome", "metric", "layer", "statistic", "value",
                                       "p_value", "n", "ci_low", "ci_high"])
