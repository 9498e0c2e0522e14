"""Do representation metrics and transferability scores predict fine-tuning outcomes? Thesis A's statistics.

Seed means before correlations: a metric (per target, source, arch, checkpoint, layer) and an outcome (per target,
source, arch, checkpoint, mode; ``transferscope.outcomes``) are each averaged over seeds, and the seed
means are correlated at these levels, as thesis A did:

- ``all``: across every (source, checkpoint) model (n = sources × checkpoints);
- ``per_source``: for each source, across its checkpoints (``group`` = the source, n = checkpoints);
- ``per_checkpoint``: for each pre-training checkpoint, across sources (``group`` = the checkpoint, n = sources);
- ``per_point`` (only when the fine-tuning curves are given): for each fine-tuning eval point, across every
  (source, checkpoint) model like ``all``, the metric against the test accuracy at that point (``group`` = the point,
  outcome ``point_acc``, one row set per point in training order; thesis A's VGG16 half: one ρ per eval point
  across its 7 sources).

Per-seed values give the noise floor, never pseudo-replicates: level ``per_seed`` is level ``all`` computed on one
seed at a time (``group`` = the seed) and its spread over seeds is reported on the ``all`` rows (``seed_sd``,
``seed_min``, ``seed_max``); level ``per_seed_pooled`` correlates every per-seed row at once (the former table).

Statistics per (target, arch, mode, outcome, metric, layer, level, group): Spearman ρ, Kendall τ, weighted Kendall τ
(scipy's hyperbolic weighting) and Pearson r with p-values (none for weighted τ). Spearman rows also carry the
thesis' 95 % band for ρ under the null (``band``, config ``analysis.band``: ``permutation``, the default,
±tanh(1.96/√(n−3)) for n ≥ 10 and the exact permutation quantile for smaller n, e.g. ±0.886 at n = 6, NaN when no
value of ρ can reach 5 %; ``fisher``, Fisher's normal approximation ±tanh(1.96/√(n−3)) for every n ≥ 4, e.g.
±0.753 at n = 7, as thesis A's VGG16 half computed it), ``significant`` (|ρ| at or beyond the band) and, on level
``all``, a percentile bootstrap interval that resamples (source, checkpoint) models.
Diagnostics of the metrics table (e.g. RSA's ``constant_rows``) are never correlated.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from transferscope.metrics.registry import diagnostic_names
from transferscope.outcomes import point_accuracy, point_order
from transferscope.tables import seed_mean

GROUP_KEYS = ["target", "arch", "mode", "outcome", "metric", "layer"]
COLUMNS = GROUP_KEYS + ["level", "group", "statistic", "value", "p_value", "n", "band", "significant", "ci_low",
                        "ci_high", "seed_sd", "seed_min", "seed_max"]
STATISTICS = ("spearman", "kendall", "weighted_tau", "pearson")
EXACT_BAND_MAX_N = 9  # exact permutation quantiles up to 9! = 362,880 permutations; the normal band from n = 10
BANDS = ("permutation", "fisher")  # config analysis.band


@lru_cache(maxsize=None)
def spearman_band(n: int, level: float = 0.95, method: str = "permutation") -> float:
    """Half-width of the two-sided ``level`` band of Spearman ρ under independence for n pairs (no ties).

    ``method`` ``permutation``: n ≥ 10: tanh(z/√(n−3)) with z the normal quantile (thesis A: ±0.232 at n = 72,
    ±0.574 at n = 12). Smaller n: the smallest attainable r with P(|ρ| ≥ r) ≤ 1 − level over all n! equally likely
    rankings (±0.886 at n = 6, 1.0 at n = 5); NaN when even |ρ| = 1 is more likely than that (n ≤ 4) or n < 3.
    ``fisher``: tanh(z/√(n−3)) for every n ≥ 4 (±0.753 at n = 7, thesis A's VGG16 band), NaN below."""
    if method not in BANDS:
        raise ValueError(f"unknown band method {method!r}; expected one of {BANDS}")
    if method == "fisher":
        return float(np.tanh(stats.norm.ppf(0.5 + level / 2) / np.sqrt(n - 3))) if n >= 4 else float("nan")
    if n < 3:
        return float("nan")
    if n > EXACT_BAND_MAX_N:
        return float(np.tanh(stats.norm.ppf(0.5 + level / 2) / np.sqrt(n - 3)))
    perms = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
    d2 = ((perms - np.arange(n)) ** 2).sum(axis=1)
    rho = np.round(1 - 6 * d2 / (n * (n * n - 1)), 12)
    values, counts = np.unique(np.abs(rho), return_counts=True)
    tail = np.cumsum(counts[::-1])[::-1] / len(perms)  # P(|ρ| ≥ value)
    ok = values[tail <= 1 - level + 1e-12]
    return float(ok.min()) if len(ok) else float("nan")


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


def correlation_stats(x: np.ndarray, y: np.ndarray, n_boot: int = 0, seed: int = 0, band: str = "permutation"
                      ) -> list[dict]:
    """Spearman, Kendall, weighted Kendall and Pearson between x and y (finite pairs only).

    The Spearman row carries ``band`` (``spearman_band`` by method ``band``) and ``significant``; ``n_boot`` > 0
    adds its 95 % percentile bootstrap interval (``ci_low``, ``ci_high``)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(len(x))
    band = spearman_band(n, method=band)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        rows = [{"statistic": name, "value": np.nan, "p_value": np.nan, "n": n} for name in STATISTICS]
        rows[0].update(band=band, significant=False)
        return rows
    rho, p = stats.spearmanr(x, y)
    low, high = bootstrap_spearman_ci(x, y, n_boot, seed) if n_boot else (np.nan, np.nan)
    rows = [{"statistic": "spearman", "value": float(rho), "p_value": float(p), "n": n, "band": band,
             "significant": bool(np.isfinite(band) and abs(rho) >= band - 1e-12), "ci_low": low, "ci_high": high}]
    tau, p = stats.kendalltau(x, y)
    rows.append({"statistic": "kendall", "value": float(tau), "p_value": float(p), "n": n})
    rows.append({"statistic": "weighted_tau", "value": float(stats.weightedtau(x, y).statistic), "p_value": np.nan,
                 "n": n})
    r, p = stats.pearsonr(x, y)
    rows.append({"statistic": "pearson", "value": float(r), "p_value": float(p), "n": n})
    return rows


def paired_rows(metrics: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per-seed (metric value x, outcome value y) pairs: GROUP_KEYS + source, seed, checkpoint, x, y.

    Diagnostics (``constant_rows``) are dropped; each metric row of a pre-trained model meets every outcome of the
    models fine-tuned from it (every mode)."""
    metrics = metrics[~metrics["metric"].isin(diagnostic_names())]
    metrics = metrics[["target", "source", "arch", "seed", "checkpoint", "layer", "metric", "value"]]
    metrics = metrics.assign(seed=metrics["seed"].astype(int)).rename(columns={"value": "x"})
    outcomes = outcomes.assign(seed=outcomes["seed"].astype(int)).rename(columns={"value": "y"})
    return metrics.merge(outcomes, on=["target", "source", "arch", "seed", "checkpoint"])


def seed_means(pairs: pd.DataFrame, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """x and y averaged over seeds per GROUP_KEYS + (source, checkpoint) + ``extra`` (e.g. ``point``)."""
    return seed_mean(pairs, GROUP_KEYS + ["source", "checkpoint", *extra], ["x", "y"])


def _level_rows(frame: pd.DataFrame, level: str, by: str | None, n_boot: int, seed: int,
                band: str = "permutation") -> list[dict]:
    rows = []
    for key, group in frame.groupby(GROUP_KEYS + ([by] if by else []), sort=False):
        head = dict(zip(GROUP_KEYS, key[: len(GROUP_KEYS)]), level=level, group=key[-1] if by else "")
        for stat in correlation_stats(group["x"].to_numpy(float), group["y"].to_numpy(float), n_boot, seed, band):
            rows.append({**head, **stat})
    return rows


def per_point_means(metrics: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Seed means of (metric x, test accuracy y at one eval point) per GROUP_KEYS + (source, checkpoint, point),
    outcome ``point_acc``; within each GROUP_KEYS block (in order of first appearance) the points run in training
    order (``transferscope.outcomes.point_order``)."""
    means = seed_means(paired_rows(metrics, point_accuracy(curves)), ("point",))
    if means.empty:
        return means
    rank = {point: i for i, point in enumerate(point_order(curves))}
    block = means.groupby(GROUP_KEYS, sort=False).ngroup()
    order = np.lexsort((means["point"].map(rank).to_numpy(), block.to_numpy()))  # block first, then point
    return means.iloc[order].reset_index(drop=True)


def pool_archs(*tables: pd.DataFrame | None) -> list[pd.DataFrame | None]:
    """The tables with every architecture in one group, so models of different architectures are correlated
    together (thesis A's seven VGG sources: VGG16, VGG16-BN and VGG19): ``arch`` becomes the '+'-joined sorted
    names of all of them, and a source that comes in several architectures becomes ``<source>@<arch>`` (one model
    per source and architecture, never averaged together)."""
    present = [t for t in tables if t is not None and len(t)]
    pairs = pd.concat([t[["source", "arch"]] for t in present]).drop_duplicates() if present else None
    if pairs is None:
        return list(tables)
    joined = "+".join(sorted(pairs["arch"].unique()))
    several = set(pairs.loc[pairs.duplicated("source", keep=False), "source"])

    def pooled(table):
        if table is None:
            return None
        source = table["source"].where(~table["source"].isin(several), table["source"] + "@" + table["arch"])
        return table.assign(source=source, arch=joined)

    return [pooled(t) for t in tables]


def transferability_table(metrics: pd.DataFrame, outcomes: pd.DataFrame, n_boot: int = 0, seed: int = 0,
                          curves: pd.DataFrame | None = None, band: str = "permutation",
                          pool: bool = False) -> pd.DataFrame:
    """Every metric × layer against every outcome at every level (columns ``COLUMNS``), layers in the order of
    ``metrics`` (the models' forward order), so tables and figures read like the network.

    ``metrics``: metrics.csv rows; ``outcomes``: outcomes.csv rows (``transferscope.outcomes``);
    ``n_boot`` > 0: bootstrap interval of Spearman ρ on level ``all``; ``curves``: finetune_curves.csv rows, adds
    level ``per_point`` (None: no such rows); ``band``: method of the null band (``BANDS``, config
    ``analysis.band``); ``pool``: correlate models of every architecture together (:func:`pool_archs`, config
    ``analysis.pool_archs``)."""
    if band not in BANDS:
        raise ValueError(f"unknown band method {band!r}; expected one of {BANDS}")
    if pool:
        metrics, outcomes, curves = pool_archs(metrics, outcomes, curves)
    pairs = paired_rows(metrics, outcomes)
    means = seed_means(pairs)
    rows = _level_rows(means, "all", None, n_boot, seed, band)
    rows += _level_rows(means, "per_source", "source", 0, seed, band)
    rows += _level_rows(means, "per_checkpoint", "checkpoint", 0, seed, band)
    if curves is not None:
        rows += _level_rows(per_point_means(metrics, curves), "per_point", "point", 0, seed, band)
    per_seed = _level_rows(pairs, "per_seed", "seed", 0, seed, band)
    rows += per_seed
    rows += _level_rows(pairs, "per_seed_pooled", None, 0, seed, band)
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    spread = (pd.DataFrame(per_seed).query("statistic == 'spearman'").groupby(GROUP_KEYS)["value"]
              .agg(seed_sd="std", seed_min="min", seed_max="max") if per_seed else None)
    if spread is not None and len(spread):
        on_all = (table["level"] == "all") & (table["statistic"] == "spearman")
        noise = table.loc[on_all, GROUP_KEYS].merge(spread.reset_index(), on=GROUP_KEYS, how="left")
        table.loc[on_all, ["seed_sd", "seed_min", "seed_max"]] = noise[["seed_sd", "seed_min", "seed_max"]].to_numpy()
    return table
