"""The run's own model zoo as a ranking benchmark: every pre-trained (source, arch, seed) model is a zoo member.

From the pipeline's tidy tables to the two benchmark tables (config ``benchmark:``):

- :func:`zoo_table` -> ``benchmark_zoo.csv``, one row per (mode, outcome, target, model, seed, estimator): the
  estimator's score of the pre-trained model at ``benchmark.checkpoint`` on the target (from ``metrics.csv``, at the
  architecture's penultimate tap for feature estimators and at ``out`` for those of the source head's output;
  oriented so that higher = predicted better: an estimator whose registry entry says lower is better is negated),
  the fine-tuning outcome it predicts (``outcomes.csv``: test accuracy after the learning rate chosen on validation,
  or the curve's AUC), and the static baselines' attributes: ``source_acc`` (the model's test accuracy on its own
  source task, ``pretrain_points.csv``) and ``params`` (its parameter count, ``finetune.csv``'s full-mode rows).
  ``model`` is ``<source>/<arch>``; a mode/outcome slice of it is a valid input of
  ``python -m transferscope.benchmark.rank`` (the combined form).
- :func:`leaderboard_table` -> ``leaderboard.csv``: :func:`transferscope.benchmark.rank.evaluate` on each
  (mode, outcome) slice, with those two columns first.
"""
from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
import pandas as pd

from transferscope.benchmark import rank
from transferscope.metrics.energy_collapse import etran_zoo, ncti_zoo
from transferscope.metrics.registry import layer_metric
from transferscope.models import arch_spec

log = logging.getLogger("transferscope")

ZOO_COLUMNS = ["mode", "outcome", "target", "model", "seed", "estimator", "layer", "score", "accuracy", "params",
               "source_acc"]
MODEL_KEYS = ["target", "source", "arch", "seed"]
HEADLINE = ("full", "test_acc")  # the slice the report's leaderboard shows first
# Estimators whose papers scale their parts over the models ranked: name -> (per-model parts in metrics.csv,
# f(part arrays over one target's models) -> one score per model). Added when every part is in metrics.csv.
ZOO_SCORES = {
    "etran": (("etran_energy", "etran_lda"), etran_zoo),
    "ncti_zoo": (("ncti_seli", "ncti_ncc", "ncti_vc"), lambda *parts: ncti_zoo(np.stack(parts, axis=1))),
}


def estimator_layer(estimator: str, arch: str) -> str:
    """Where an estimator scores a model: ``out`` for a score of the source head's output, else the penultimate
    tap of ``arch``."""
    return "out" if layer_metric(estimator).needs == "log_probs" else arch_spec(arch).penultimate


def zoo_scores(metrics: pd.DataFrame, estimators: list[str], checkpoint: str) -> pd.DataFrame:
    """Rows MODEL_KEYS, estimator, layer, score (higher = better) of every model at ``checkpoint``: the
    ``estimators`` and the :data:`ZOO_SCORES` whose parts metrics.csv holds.

    metrics: the tidy ``metrics.csv`` (MODEL_KEYS, checkpoint, layer, metric, value, ...)."""
    checkpoint_rows = metrics[metrics["checkpoint"] == checkpoint]
    at_point = checkpoint_rows[checkpoint_rows["metric"].isin(estimators)]
    wanted = at_point["layer"] == [estimator_layer(m, a) for m, a in zip(at_point["metric"], at_point["arch"])]
    scores = at_point[wanted].rename(columns={"metric": "estimator"})
    sign = np.where([layer_metric(m).higher_is_better for m in scores["estimator"]], 1.0, -1.0)
    scores = scores.assign(score=sign * scores["value"].to_numpy(float))
    missing = sorted(set(estimators) - set(scores["estimator"]))
    if missing:
        raise ValueError(f"metrics.csv has no values of {missing} at checkpoint {checkpoint!r} on the penultimate "
                         "taps: add them to analysis.metrics and keep 'penultimate' in analysis.layers")
    return pd.concat([scores[MODEL_KEYS + ["estimator", "layer", "score"]], zoo_level_scores(checkpoint_rows)],
                     ignore_index=True)


def zoo_level_scores(at_point: pd.DataFrame) -> pd.DataFrame:
    """Rows MODEL_KEYS, estimator, layer, score of the ZOO_SCORES whose parts ``at_point`` (metrics.csv rows of one
    checkpoint) holds at the penultimate taps: each part scaled over all models of a target (every architecture
    and seed), as the papers scale over the zoo they rank. A seed's sub-zoo keeps these whole-zoo scores."""
    feature_rows = at_point[at_point["layer"] == [arch_spec(a).penultimate for a in at_point["arch"]]]
    frames = []
    for name, (parts, combine) in ZOO_SCORES.items():
        if not set(parts) <= set(feature_rows["metric"]):
            continue
        wide = feature_rows[feature_rows["metric"].isin(parts)].pivot_table(
            index=MODEL_KEYS + ["layer"], columns="metric", values="value").dropna().reset_index()
        for _, models in wide.groupby("target"):
            frames.append(models[MODEL_KEYS + ["layer"]].assign(
                estimator=name, score=combine(*(models[p].to_numpy(float) for p in parts))))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=MODEL_KEYS + ["estimator", "layer", "score"])


def zoo_truth(outcomes: pd.DataFrame, outcome_names: list[str], checkpoint: str) -> pd.DataFrame:
    """Rows MODEL_KEYS, mode, outcome, accuracy of every fine-tuned model pre-trained to ``checkpoint``."""
    rows = outcomes[(outcomes["checkpoint"] == checkpoint) & outcomes["outcome"].isin(outcome_names)]
    return rows.rename(columns={"value": "accuracy"})[MODEL_KEYS + ["mode", "outcome", "accuracy"]]


def model_attributes(pretrain_points: pd.DataFrame, finetune: pd.DataFrame, checkpoint: str) -> pd.DataFrame:
    """Rows source, arch, seed, source_acc, params: the static baselines' view of each pre-trained model."""
    points = pretrain_points[pretrain_points["checkpoint"] == checkpoint]
    source_acc = points.rename(columns={"test_acc": "source_acc"})[["source", "arch", "seed", "source_acc"]]
    full = finetune[(finetune["mode"] == "full") & (finetune["source"] != "scratch")
                    & (finetune["checkpoint"] == checkpoint)]
    # all weights train in mode full; the head's size differs by target, so take each model's largest count
    params = full.groupby(["source", "arch", "seed"], as_index=False)["trainable_params"].max()
    return source_acc.merge(params.rename(columns={"trainable_params": "params"}), how="outer",
                            on=["source", "arch", "seed"])


def zoo_table(metrics: pd.DataFrame, outcomes: pd.DataFrame, pretrain_points: pd.DataFrame, finetune: pd.DataFrame,
              *, estimators: list[str], outcome_names: list[str], checkpoint: str) -> pd.DataFrame:
    """``benchmark_zoo.csv`` (ZOO_COLUMNS) from the pipeline's tables; see the module docstring."""
    scores = zoo_scores(metrics, estimators, checkpoint)
    truth = zoo_truth(outcomes, outcome_names, checkpoint)
    if truth.empty:
        raise ValueError(f"outcomes.csv has no {outcome_names} of models pre-trained to {checkpoint!r}: "
                         "benchmark.checkpoint must be one of pretrain.checkpoints")
    for key in (scores, truth):
        key["seed"] = key["seed"].astype(int)
    zoo = scores.merge(truth, on=MODEL_KEYS, how="inner")
    unmatched = scores.merge(truth[MODEL_KEYS].drop_duplicates(), on=MODEL_KEYS, how="left", indicator=True)
    if (unmatched["_merge"] == "left_only").any():
        log.warning("benchmark: %d scored models have no fine-tuning outcome; left out",
                    unmatched.loc[unmatched["_merge"] == "left_only", MODEL_KEYS].drop_duplicates().shape[0])
    attributes = model_attributes(pretrain_points, finetune, checkpoint)
    attributes["seed"] = attributes["seed"].astype(int)
    zoo = zoo.merge(attributes, on=["source", "arch", "seed"], how="left")
    zoo["model"] = zoo["source"] + "/" + zoo["arch"]
    order = ["mode", "outcome", "target", "estimator", "model", "seed"]
    return zoo[ZOO_COLUMNS].sort_values(order, ignore_index=True)


def leaderboard_table(zoo: pd.DataFrame, *, bootstrap: int, random_draws: int, seed: int) -> pd.DataFrame:
    """``leaderboard.csv``: mode, outcome, then :data:`transferscope.benchmark.rank.COLUMNS`, per (mode, outcome)
    slice of ``zoo`` (:func:`zoo_table`'s rows); the headline slice (mode full, outcome test_acc) first."""
    slices = sorted(zoo.groupby(["mode", "outcome"], sort=True), key=lambda item: item[0] != HEADLINE)
    parts = []
    for (mode, outcome), part in slices:
        log.info("leaderboard: mode %s, outcome %s: %d models, %d estimators, %d targets", mode, outcome,
                 part[["model", "seed"]].drop_duplicates().shape[0], part["estimator"].nunique(),
                 part["target"].nunique())
        ranked = rank.evaluate(part.astype({"seed": str}), bootstrap=bootstrap, seed=seed, random_draws=random_draws,
                               scores_name="benchmark_zoo.csv", truth_name="benchmark_zoo.csv")
        parts.append(ranked.assign(mode=mode, outcome=outcome))
    board = pd.concat(parts, ignore_index=True)
    return board[["mode", "outcome"] + rank.COLUMNS]


def headline_slice(board: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, str]]:
    """The rows of the headline (mode, outcome) of a leaderboard (mode full, outcome test_acc where present, else
    its first slice), ``baseline`` as booleans whether read from CSV or not, and that pair."""
    pairs = list(dict.fromkeys(zip(board["mode"], board["outcome"])))
    pair = HEADLINE if HEADLINE in pairs else pairs[0]
    head = board[(board["mode"] == pair[0]) & (board["outcome"] == pair[1])]
    return head.assign(baseline=head["baseline"].astype(str).str.lower() == "true"), pair


def reading_order(mean: pd.DataFrame) -> list[str]:
    """Estimators of the mean rows (indexed by estimator) by mean τ_w, best first (undefined last), baselines
    after the estimators: the order of the leaderboard's table and figure."""
    return sorted(mean.index, key=lambda e: (bool(mean.loc[e, "baseline"]), -np.nan_to_num(mean.loc[e, "tau_w"],
                                                                                           nan=-9)))


class Leaderboard(NamedTuple):
    """The headline slice of a leaderboard laid out for reading: ``cells`` (estimators × targets then ``mean``,
    "τ_w [low, high]" text, "" where undefined; best mean τ_w first, baselines last), ``best`` (same shape: the
    best non-baseline τ_w of its column), ``baselines`` (the baseline rows' names), ``pair`` (mode, outcome) and
    ``verdict`` (which estimators' mean-row interval lies above the best static baseline's mean τ_w)."""

    cells: pd.DataFrame
    best: pd.DataFrame
    baselines: list[str]
    pair: tuple[str, str]
    verdict: str


def leaderboard_layout(board: pd.DataFrame) -> Leaderboard:
    """:class:`Leaderboard` of ``board`` (``leaderboard.csv``'s rows)."""
    head, pair = headline_slice(board)
    targets = [t for t in dict.fromkeys(head["target"]) if t != rank.MEAN_TARGET] + [rank.MEAN_TARGET]
    mean = head[head["target"] == rank.MEAN_TARGET].set_index("estimator")
    order = reading_order(mean)
    rows = head.set_index(["estimator", "target"])
    top = {t: head[(head["target"] == t) & ~head["baseline"]]["tau_w"].max() for t in targets}
    cells = pd.DataFrame("", index=pd.Index(order, name="estimator"), columns=targets)
    best = pd.DataFrame(False, index=cells.index, columns=targets)
    for (estimator, target), row in rows.iterrows():
        if estimator in cells.index and target in targets and pd.notna(row["tau_w"]):
            cells.loc[estimator, target] = (f"{row['tau_w']:+.2f} [{row['tau_w_ci_low']:+.2f}, "
                                            f"{row['tau_w_ci_high']:+.2f}]")
            best.loc[estimator, target] = bool(row["tau_w"] == top[target] and not row["baseline"])
    baselines = [e for e in order if mean.loc[e, "baseline"]]
    static = mean.loc[[e for e in baselines if e != rank.RANDOM_BASELINE], "tau_w"].dropna()
    if static.empty:
        verdict = "No static baseline has a defined mean τ_w."
    else:
        floor, which = static.max(), static.idxmax()
        above = [e for e in order if e not in baselines and mean.loc[e, "tau_w_ci_low"] > floor]
        verdict = (f"Mean over targets: the best static baseline is {which} (τ_w {floor:+.2f}); "
                   + (f"interval entirely above it: {', '.join(above)}." if above
                      else "no estimator's interval lies entirely above it."))
    if len(targets) == 2:  # one target: its mean row repeats it and the interval over targets is a point
        verdict += " One target only: the mean row is that target's, its interval a single value."
    return Leaderboard(cells, best, baselines, pair, verdict)


def markdown_table(board: pd.DataFrame) -> str:
    """The headline slice as README shows it (:func:`leaderboard_layout`): the best estimator of each column in
    bold, baselines in italics, then the verdict line."""
    layout = leaderboard_layout(board)
    mode, outcome = layout.pair
    targets = list(layout.cells.columns)
    lines = [f"Weighted Kendall τ (mode {mode}, outcome {outcome}; [95 % bootstrap interval: models per target, "
             "targets for the mean]; best estimator per column in bold, baselines in italics)", "",
             "| estimator | " + " | ".join(targets) + " |", "|---" * (len(targets) + 1) + "|"]
    for estimator, texts in layout.cells.iterrows():
        row = [f"**{text}**" if layout.best.loc[estimator, t] else text for t, text in texts.items()]
        name = f"*{estimator}*" if estimator in layout.baselines else estimator
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    return "\n".join(lines + ["", layout.verdict]) + "\n"


if __name__ == "__main__":  # python -m transferscope.benchmark.zoo results/tables/leaderboard.csv
    import sys

    print(markdown_table(pd.read_csv(sys.argv[1])), end="")
