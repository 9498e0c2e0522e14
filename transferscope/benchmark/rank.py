"""How well does a transferability score rank a zoo of pre-trained models on a target?

Usage::

    python -m transferscope.benchmark.rank SCORES.csv [TRUTH.csv] --out RESULT.csv
        [--bootstrap 1000] [--seed 0] [--random-draws 1000] [--summary SUMMARY.csv]

Inputs (long format, one row per model):

- SCORES: ``target, model, estimator, score``. **Higher score = predicted better**; negate an estimator for which
  lower is better (e.g. a loss or an entropy) before passing it.
- TRUTH: ``target, model, accuracy``: the fine-tuned accuracy on the target (any unit, fraction or percent, but
  > 0: rel@k divides by the best accuracy). Optional columns: ``params`` (parameter count) and ``source_acc``
  (source-task test accuracy), ranked as static baselines (larger = predicted better).
- One CSV holding both ``score`` and ``accuracy`` (rows ``target, model, estimator, score, accuracy``) may be
  passed alone (TRUTH omitted) or twice.
- Optional ``seed`` (in either table): the model's seed; the sub-zoo of a seed is the models with that seed. When
  both tables carry ``seed`` a model is identified by (model, seed), so model names may repeat across seeds.

Per (target, estimator), over the n models that the estimator scores (non-finite scores dropped, ``n_dropped``):

- ``tau_w``: weighted Kendall τ, exactly ``scipy.stats.weightedtau(accuracy, score)`` with scipy's defaults
  (``rank=True, weigher=None, additive=True``): an exchange of the models ranked r and s (0 = best) weighs
  1/(r+1) + 1/(s+1), ranks taken in decreasing order, and the result is the average of the values obtained with
  the ranks by (accuracy, score) and by (score, accuracy), so the argument order does not matter. This is the
  field's ``weightedtau(truth, score)`` (LogME, LEEP, SFDA, ... benchmarks).
- ``kendall_tau`` (τ-b), ``spearman_rho``, ``pearson_r``: scipy's kendalltau, spearmanr, pearsonr.
- ``rel_at_1``, ``rel_at_3``: max accuracy among the k models with the highest score / max accuracy overall
  (1 = the best model is among the top k). Scores tied at the cut are broken pessimistically (lower accuracy
  first), so a constant score earns no credit.
- ``tau_w_ci_low``, ``tau_w_ci_high``: 95 % percentile bootstrap interval of τ_w, resampling models with
  replacement (``--bootstrap`` resamples, seeded; resamples with < 3 distinct models or a constant score or
  accuracy are skipped; ``n_boot`` = resamples used); ``tau_w_sd``: sd of those resampled values.
- ``n_seeds``, ``seed_tau_w_mean``, ``seed_tau_w_sd``: with a ``seed`` column, τ_w on each seed's sub-zoo, its
  mean and sample sd (ddof 1) over the seeds whose sub-zoo gives a τ_w.

Fewer than 3 models, or a constant score or accuracy, give NaN correlations (rel@k is still reported).

Static baselines are ranked exactly the same way, as extra estimators (``baseline`` = True) on the models that
the scores cover for the target: ``baseline:source_acc`` and ``baseline:params`` (when TRUTH has those columns)
and ``baseline:random``: ``--random-draws`` seeded random permutations of the models; its row holds the mean of
every statistic over the draws, ``tau_w_sd`` their sd and the interval the 2.5/97.5 % quantiles of τ_w over
the draws (``n_boot`` = draws used).

Rows with ``target = "mean"`` summarise each estimator across targets: the mean of every statistic over the
targets (NaN skipped), ``n_targets`` (targets with a finite τ_w) and a 95 % bootstrap interval of the mean τ_w,
resampling targets. The ``interval`` column says what each row's interval resamples: ``bootstrap_models``,
``random_draws`` or ``bootstrap_targets``.
"""
from __future__ import annotations

import argparse
import sys
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from transferscope.io import write_csv

SCORE_COLUMNS = ("target", "model", "estimator", "score")
TRUTH_COLUMNS = ("target", "model", "accuracy")
KEY_COLUMNS = ("target", "model", "estimator", "seed")  # read as text, so "01" and "1" stay names
STATIC_BASELINES = ("source_acc", "params")  # optional truth columns, larger = predicted better
BASELINE_PREFIX = "baseline:"
RANDOM_BASELINE = "baseline:random"
MEAN_TARGET = "mean"
MIN_MODELS = 3  # a ranking of fewer models is not evaluated
TOP_K = (1, 3)
STATISTICS = ("tau_w", "kendall_tau", "spearman_rho", "pearson_r", "rel_at_1", "rel_at_3")
COLUMNS = ["target", "estimator", "baseline", "n_models", "n_dropped", *STATISTICS, "tau_w_sd", "tau_w_ci_low",
           "tau_w_ci_high", "n_boot", "interval", "n_seeds", "seed_tau_w_mean", "seed_tau_w_sd", "n_targets"]
# Averaged over targets on the "mean" rows; the interval columns are recomputed there instead.
MEAN_COLUMNS = ["n_models", "n_dropped", *STATISTICS, "n_seeds", "seed_tau_w_mean", "seed_tau_w_sd"]
# Independent random streams from one --seed: models bootstrap, random permutations, targets bootstrap.
_RANDOM_STREAM, _TARGET_STREAM = 1, 2


class Interval(NamedTuple):
    """Percentile interval of replicate values: ``low``/``high`` quantiles, ``sd`` (ddof 1) and ``n`` used."""
    low: float
    high: float
    sd: float
    n: int


# --- statistics of one ranking -------------------------------------------------------------------------------------

def weighted_tau(score: np.ndarray, accuracy: np.ndarray) -> float:
    """``scipy.stats.weightedtau(accuracy, score).statistic`` with scipy's defaults (see the module docstring).

    score, accuracy: n values each (higher = better). Symmetric in its arguments because ``rank=True`` averages
    the ranks by (accuracy, score) and by (score, accuracy)."""
    return float(stats.weightedtau(accuracy, score).statistic)


def _informative(score: np.ndarray, accuracy: np.ndarray) -> bool:
    """Whether a ranking can be evaluated: at least MIN_MODELS models, neither score nor accuracy constant."""
    return len(score) >= MIN_MODELS and np.ptp(score) > 0 and np.ptp(accuracy) > 0


def rel_at_k(score: np.ndarray, accuracy: np.ndarray, k: int) -> float:
    """max(accuracy of the k highest-scored models) / max(accuracy); dimensionless, in (0, 1] for accuracy > 0.

    Ties in score at the cut are broken by lower accuracy first (pessimistic): a score that cannot tell models
    apart must not be credited with the better one. NaN for no models or a best accuracy ≤ 0."""
    if len(score) == 0 or accuracy.max() <= 0:
        return float("nan")
    order = np.lexsort((accuracy, -score))  # score descending, then accuracy ascending
    return float(accuracy[order[:k]].max() / accuracy.max())


def _as_pair(score, accuracy) -> tuple[np.ndarray, np.ndarray]:
    score = np.asarray(score, dtype=float)
    accuracy = np.asarray(accuracy, dtype=float)
    if score.ndim != 1 or score.shape != accuracy.shape:
        raise ValueError(f"score and accuracy must be 1-D of the same length, got {score.shape} and {accuracy.shape}")
    if not (np.isfinite(score).all() and np.isfinite(accuracy).all()):
        raise ValueError("score and accuracy must be finite (drop the models without a value first)")
    return score, accuracy


def rank_statistics(score, accuracy) -> dict:
    """Agreement of one ranking of n models with their fine-tuned accuracy.

    Args:
        score: n finite predicted scores, higher = predicted better (any unit).
        accuracy: n finite fine-tuned accuracies (any unit > 0), paired with ``score`` by position.

    Returns:
        ``n_models`` and the STATISTICS: ``tau_w`` (:func:`weighted_tau`), ``kendall_tau`` (τ-b),
        ``spearman_rho``, ``pearson_r`` (all in [−1, 1], NaN unless :func:`_informative`) and ``rel_at_1``,
        ``rel_at_3`` (:func:`rel_at_k`).
    """
    score, accuracy = _as_pair(score, accuracy)
    row = {"n_models": len(score)}
    if _informative(score, accuracy):
        row.update(tau_w=weighted_tau(score, accuracy),
                   kendall_tau=float(stats.kendalltau(score, accuracy).statistic),  # variant "b" by default
                   spearman_rho=float(stats.spearmanr(score, accuracy).statistic),
                   pearson_r=float(stats.pearsonr(score, accuracy).statistic))
    else:
        row.update(tau_w=np.nan, kendall_tau=np.nan, spearman_rho=np.nan, pearson_r=np.nan)
    for k in TOP_K:
        row[f"rel_at_{k}"] = rel_at_k(score, accuracy, k)
    return row


# --- intervals ------------------------------------------------------------------------------------------------------

def percentile_interval(values, level: float = 0.95) -> Interval:
    """(1 − level)/2 and (1 + level)/2 quantiles, sd (ddof 1) and count of the finite ``values``."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return Interval(np.nan, np.nan, np.nan, 0)
    alpha = (1 - level) / 2
    sd = float(values.std(ddof=1)) if len(values) > 1 else np.nan
    return Interval(float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha)), sd, len(values))


def bootstrap_tau_w(score, accuracy, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of τ_w, resampling the n models with replacement.

    Args:
        score, accuracy: n finite values each, paired by position (see :func:`rank_statistics`).
        n_boot: resamples drawn; those with < MIN_MODELS distinct models or a constant score or accuracy are
            skipped (``Interval.n`` = resamples used).
        seed: ``numpy.random.default_rng(seed)``; the indices depend only on (seed, n), so estimators scoring the
            same models in the same order share their resamples (paired comparison).
        level: coverage of the interval (0.95: the 2.5 % and 97.5 % quantiles).
    """
    score, accuracy = _as_pair(score, accuracy)
    n = len(score)
    if n_boot <= 0 or n == 0:
        return Interval(np.nan, np.nan, np.nan, 0)
    indices = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    values = [weighted_tau(score[idx], accuracy[idx]) for idx in indices
              if len(np.unique(idx)) >= MIN_MODELS and _informative(score[idx], accuracy[idx])]
    return percentile_interval(values, level)


def bootstrap_mean(values, n_boot: int = 1000, seed: int | Sequence[int] = 0, level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of the mean of ``values`` (e.g. τ_w of T targets), resampling them."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if n_boot <= 0 or len(values) == 0:
        return Interval(np.nan, np.nan, np.nan, 0)
    indices = np.random.default_rng(seed).integers(0, len(values), size=(n_boot, len(values)))
    return percentile_interval(values[indices].mean(axis=1), level)


# --- rows of the result ---------------------------------------------------------------------------------------------

def seed_stability(score, accuracy, seeds) -> dict:
    """τ_w on each seed's sub-zoo (the models with that seed): ``n_seeds`` (seeds whose sub-zoo gives a τ_w),
    ``seed_tau_w_mean`` and ``seed_tau_w_sd`` (ddof 1; NaN below 2 seeds).

    score, accuracy: n finite values; seeds: n seed labels (None: no seed column, all NaN)."""
    if seeds is None:
        return {"n_seeds": 0, "seed_tau_w_mean": np.nan, "seed_tau_w_sd": np.nan}
    score, accuracy = _as_pair(score, accuracy)
    seeds = np.asarray(seeds)
    values = []
    for label in pd.unique(seeds):
        mask = seeds == label
        if _informative(score[mask], accuracy[mask]):
            values.append(weighted_tau(score[mask], accuracy[mask]))
    return {"n_seeds": len(values), "seed_tau_w_mean": float(np.mean(values)) if values else np.nan,
            "seed_tau_w_sd": float(np.std(values, ddof=1)) if len(values) > 1 else np.nan}


def ranking_row(score, accuracy, seeds=None, bootstrap: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Every column of one (target, estimator) row but the names: models with a non-finite score are dropped
    (``n_dropped``), then :func:`rank_statistics`, :func:`bootstrap_tau_w` and :func:`seed_stability`.

    score: n values (NaN allowed); accuracy: n finite values; seeds: n labels or None."""
    score = np.asarray(score, dtype=float)
    accuracy = np.asarray(accuracy, dtype=float)
    kept = np.isfinite(score)
    score, accuracy = score[kept], accuracy[kept]
    interval = bootstrap_tau_w(score, accuracy, bootstrap, seed, level)
    return {**rank_statistics(score, accuracy), "n_dropped": int((~kept).sum()), "tau_w_sd": interval.sd,
            "tau_w_ci_low": interval.low, "tau_w_ci_high": interval.high, "n_boot": interval.n,
            "interval": "bootstrap_models",
            **seed_stability(score, accuracy, None if seeds is None else np.asarray(seeds)[kept])}


def random_baseline(accuracy, draws: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """The ``baseline:random`` row: every statistic of ``draws`` random rankings of the n models.

    Each draw scores the models by a uniformly random permutation of 0..n−1 (``default_rng((seed, 1))``). Returns
    the mean of each statistic over the draws, ``tau_w_sd`` = sd of τ_w over the draws and the interval = its
    (1 ∓ level)/2 quantiles (``n_boot`` = draws with a finite τ_w). accuracy: n finite values."""
    accuracy = np.asarray(accuracy, dtype=float)
    n = len(accuracy)
    rng = np.random.default_rng((seed, _RANDOM_STREAM))
    rows = pd.DataFrame([rank_statistics(rng.permutation(n).astype(float), accuracy) for _ in range(draws)],
                        columns=["n_models", *STATISTICS])
    interval = percentile_interval(rows["tau_w"], level)
    means = {name: float(rows[name].mean()) if len(rows) else np.nan for name in STATISTICS}
    return {"n_models": n, "n_dropped": 0, **means, "tau_w_sd": interval.sd, "tau_w_ci_low": interval.low,
            "tau_w_ci_high": interval.high, "n_boot": interval.n, "interval": "random_draws", "n_seeds": 0,
            "seed_tau_w_mean": np.nan, "seed_tau_w_sd": np.nan}


# --- tables ---------------------------------------------------------------------------------------------------------

def require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """ValueError "NAME: missing column 'c'" naming every column of ``columns`` that ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        raise ValueError(f"{name}: missing column{'s' if len(missing) > 1 else ''} {listed}")


def _names(frame: pd.DataFrame, columns: Sequence[str], name: str) -> pd.DataFrame:
    """Key columns as text (so the two tables join whatever dtypes they were read with); empty keys are an error."""
    frame = frame.copy()
    for column in columns:
        if frame[column].isna().any():
            raise ValueError(f"{name}: column {column!r} has empty values")
        frame[column] = frame[column].astype(str)
    return frame


def _numbers(frame: pd.DataFrame, columns: Sequence[str], name: str) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        try:
            frame[column] = pd.to_numeric(frame[column]).astype(float)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{name}: column {column!r} is not numeric ({error})") from None
    return frame


def _listing(labels: Sequence[str], limit: int = 10) -> str:
    labels = list(labels)
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return ", ".join(labels[:limit]) + more


def _model_labels(frame: pd.DataFrame, key: Sequence[str]) -> list[str]:
    if "seed" in key:
        return [f"{m} (seed {s})" for m, s in zip(frame["model"], frame["seed"])]
    return [str(m) for m in frame["model"]]


def join_zoo(scores_frame: pd.DataFrame, truth_frame: pd.DataFrame | None = None, scores_name: str = "scores",
             truth_name: str = "truth") -> pd.DataFrame:
    """One row per (target, model, estimator): ``target, model, estimator, score, accuracy`` plus ``seed``,
    ``params``, ``source_acc`` where given, sorted by target, estimator, model, seed.

    ``truth_frame`` None: the accuracy comes from ``scores_frame`` (the combined form). A model is identified by
    (target, model), and by (target, model, seed) when both tables carry ``seed``. Raises ValueError naming the
    table (``scores_name``/``truth_name``, e.g. the file) for a missing column, duplicate or conflicting rows,
    reserved names, and scored models without an accuracy (listed per target)."""
    if truth_frame is None:
        truth_frame, truth_name = scores_frame, scores_name
    require_columns(scores_frame, SCORE_COLUMNS, scores_name)
    require_columns(truth_frame, TRUTH_COLUMNS, truth_name)
    seed_in_scores, seed_in_truth = "seed" in scores_frame.columns, "seed" in truth_frame.columns
    key = ["target", "model"] + (["seed"] if seed_in_scores and seed_in_truth else [])
    scores_seed = ["seed"] if seed_in_scores and not seed_in_truth else []
    truth_seed = ["seed"] if seed_in_truth and not seed_in_scores else []
    attributes = [c for c in STATIC_BASELINES if c in truth_frame.columns]

    scores = scores_frame[key + scores_seed + ["estimator", "score"]]
    scores = _numbers(_names(scores, key + scores_seed + ["estimator"], scores_name), ["score"], scores_name)
    duplicated = scores.duplicated(key + ["estimator"], keep=False)
    if duplicated.any():
        rows = scores[duplicated].drop_duplicates(key + ["estimator"])
        raise ValueError(f"{scores_name}: several scores for the same (target, model, estimator): "
                         + _listing([f"{t}/{m}/{e}" for t, m, e in zip(rows.target, _model_labels(rows, key),
                                                                         rows.estimator)]))
    if (scores["target"] == MEAN_TARGET).any():
        raise ValueError(f"{scores_name}: target name {MEAN_TARGET!r} is reserved for the summary rows")
    reserved = sorted(e for e in scores["estimator"].unique() if e.startswith(BASELINE_PREFIX))
    if reserved:
        raise ValueError(f"{scores_name}: estimator names starting with {BASELINE_PREFIX!r} are reserved for the "
                         f"static baselines: {_listing(reserved)}")
    if scores_seed:  # without a seed in the truth, the model name alone must identify a model
        seeds_per_model = scores[["target", "model", "seed"]].drop_duplicates().groupby(["target", "model"]).size()
        several = seeds_per_model[seeds_per_model > 1]
        if len(several):
            raise ValueError(f"{scores_name}: models with several seeds, while {truth_name} has no 'seed' column "
                             f"to tell them apart: " + _listing([f"{t}/{m}" for t, m in several.index]))

    truth = truth_frame[key + truth_seed + ["accuracy"] + attributes]
    truth = _numbers(_names(truth, key + truth_seed, truth_name), ["accuracy"] + attributes, truth_name)
    truth = truth.drop_duplicates()  # the combined form repeats a model's accuracy on each estimator's row
    conflicting = truth.duplicated(key, keep=False)
    if conflicting.any():
        rows = truth[conflicting].drop_duplicates(key)
        raise ValueError(f"{truth_name}: several different rows (accuracy, seed, params or source_acc) for the same "
                         f"model, e.g. average replicates first: "
                         + _listing([f"{t}/{m}" for t, m in zip(rows.target, _model_labels(rows, key))]))

    zoo = scores.merge(truth, on=key, how="left")
    missing = zoo[~np.isfinite(zoo["accuracy"].to_numpy(float))].drop_duplicates(key)
    if len(missing):
        lines = [f"target {t!r}: {_listing(_model_labels(group, key))}" for t, group in missing.groupby("target")]
        raise ValueError(f"{truth_name}: no accuracy for models that {scores_name} scores; " + "; ".join(lines))
    return zoo.sort_values(["target", "estimator"] + key[1:], ignore_index=True)


def evaluate(scores_frame: pd.DataFrame, truth_frame: pd.DataFrame | None = None, bootstrap: int = 1000,
             seed: int = 0, random_draws: int = 1000, level: float = 0.95, *, scores_name: str = "scores",
             truth_name: str = "truth") -> pd.DataFrame:
    """The ranking evaluation of a zoo: one row per (target, estimator), static baselines included, then the
    ``target = "mean"`` rows of :func:`summary_over_targets`; columns ``COLUMNS`` (see the module docstring).

    Args:
        scores_frame: rows ``target, model, estimator, score`` (higher = better; optional ``seed``), or the
            combined form that also holds ``accuracy``.
        truth_frame: rows ``target, model, accuracy`` (optional ``seed``, ``params``, ``source_acc``); None: take
            them from ``scores_frame``.
        bootstrap: resamples of the models per row (and of the targets per mean row); 0: no interval.
        seed: seeds every resampling and the random baseline's permutations.
        random_draws: random permutations for ``baseline:random``; 0: no random baseline.
        level: coverage of the intervals.
        scores_name, truth_name: how errors name the two tables (the CLI passes the file names).
    """
    zoo = join_zoo(scores_frame, truth_frame, scores_name, truth_name)
    key = ["model", "seed"] if "seed" in zoo.columns else ["model"]
    has_seed = "seed" in zoo.columns
    rows = []
    for target, at_target in zoo.groupby("target", sort=True):
        for estimator, ranking in at_target.groupby("estimator", sort=True):
            rows.append({"target": target, "estimator": estimator, "baseline": False,
                         **ranking_row(ranking["score"], ranking["accuracy"],
                                       ranking["seed"] if has_seed else None, bootstrap, seed, level)})
        # Baselines rank the models that some estimator scores here: the zoo under evaluation.
        models = at_target.drop_duplicates(key).sort_values(key)
        for attribute in STATIC_BASELINES:
            if attribute in zoo.columns:
                rows.append({"target": target, "estimator": BASELINE_PREFIX + attribute, "baseline": True,
                             **ranking_row(models[attribute], models["accuracy"],
                                           models["seed"] if has_seed else None, bootstrap, seed, level)})
        if random_draws > 0:
            rows.append({"target": target, "estimator": RANDOM_BASELINE, "baseline": True,
                         **random_baseline(models["accuracy"], random_draws, seed, level)})
    per_target = pd.DataFrame(rows, columns=COLUMNS)
    per_target["n_targets"] = np.isfinite(per_target["tau_w"].to_numpy(float)).astype(int)
    return pd.concat([per_target, summary_over_targets(per_target, bootstrap, seed, level)], ignore_index=True)


def _estimator_order(baseline: bool, estimator: str) -> tuple:
    """Estimators by name, then the baselines in the order of the per-target rows (static ones, then random)."""
    kinds = [BASELINE_PREFIX + attribute for attribute in STATIC_BASELINES] + [RANDOM_BASELINE]
    return (bool(baseline), kinds.index(estimator) if estimator in kinds else -1, estimator)


def summary_over_targets(per_target: pd.DataFrame, bootstrap: int = 1000, seed: int = 0, level: float = 0.95
                         ) -> pd.DataFrame:
    """One ``target = "mean"`` row per estimator: the MEAN_COLUMNS averaged over targets (NaN skipped),
    ``n_targets`` = targets with a finite τ_w and the interval a percentile bootstrap of the mean τ_w over those
    targets (:func:`bootstrap_mean`, ``bootstrap`` resamples, ``default_rng((seed, 2))``).

    per_target: rows of :func:`evaluate` (any ``target = "mean"`` rows are ignored); columns ``COLUMNS``."""
    per_target = per_target[per_target["target"] != MEAN_TARGET]
    rows = []
    groups = per_target.groupby(["baseline", "estimator"], sort=False)
    for (baseline, estimator), group in sorted(groups, key=lambda item: _estimator_order(*item[0])):
        tau_w = group["tau_w"].to_numpy(float)
        interval = bootstrap_mean(tau_w, bootstrap, (seed, _TARGET_STREAM), level)
        rows.append({"target": MEAN_TARGET, "estimator": estimator, "baseline": bool(baseline),
                     **{column: float(group[column].mean()) for column in MEAN_COLUMNS},
                     "tau_w_sd": interval.sd, "tau_w_ci_low": interval.low, "tau_w_ci_high": interval.high,
                     "n_boot": interval.n, "interval": "bootstrap_targets",
                     "n_targets": int(np.isfinite(tau_w).sum())})
    return pd.DataFrame(rows, columns=COLUMNS)


# --- command line ---------------------------------------------------------------------------------------------------

def read_table(path: str) -> pd.DataFrame:
    """A CSV with its key columns (target, model, estimator, seed) read as text; errors name the file."""
    try:
        return pd.read_csv(path, dtype={column: str for column in KEY_COLUMNS})
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, ValueError) as error:  # pandas' parser and empty-data errors are ValueErrors
        raise ValueError(f"{path}: {error}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m transferscope.benchmark.rank",
        description="Rank a model zoo by transferability scores and compare with the fine-tuned accuracy "
                    "(weighted Kendall tau, Kendall tau-b, Spearman, Pearson, rel@1, rel@3, bootstrap intervals, "
                    "seed stability, static and random baselines). Higher score = predicted better.")
    parser.add_argument("scores", help="CSV: target, model, estimator, score [, seed] (or the combined form with "
                                       "accuracy as well)")
    parser.add_argument("truth", nargs="?", help="CSV: target, model, accuracy [, seed, params, source_acc]; "
                                                 "omit when SCORES holds accuracy")
    parser.add_argument("--out", required=True, help="result CSV, one row per (target, estimator) + mean rows")
    parser.add_argument("--summary", help="also write the target = 'mean' rows to this CSV")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000; 0: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling and random baseline")
    parser.add_argument("--random-draws", type=int, default=1000,
                        help="random permutations for baseline:random (default 1000; 0: no random baseline)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.bootstrap < 0 or args.random_draws < 0:
        parser.error("--bootstrap and --random-draws must be ≥ 0")
    try:
        scores = read_table(args.scores)
        truth = read_table(args.truth) if args.truth else None
        result = evaluate(scores, truth, bootstrap=args.bootstrap, seed=args.seed, random_draws=args.random_draws,
                          scores_name=args.scores, truth_name=args.truth or args.scores)
    except ValueError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    write_csv(args.out, result)  # atomic: a temporary file in the same directory, then os.replace
    if args.summary:
        write_csv(args.summary, result[result["target"] == MEAN_TARGET])
    print(f"{args.out}: {len(result)} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
