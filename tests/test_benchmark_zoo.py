"""The run's own zoo as a ranking benchmark (transferscope.benchmark.zoo): which value scores a model, which
accuracy it predicts, the static baselines' attributes, and the leaderboard per (mode, outcome)."""
import numpy as np
import pandas as pd
import pytest

from transferscope.benchmark import rank
from transferscope.benchmark.zoo import HEADLINE, ZOO_COLUMNS, leaderboard_table, zoo_table

ARCHS = ("mnist_cnn", "mlp")
PENULTIMATE = {"mnist_cnn": "fc1", "mlp": "fc2"}


def _tables(n_sources=4, seeds=(1, 2)):
    """metrics, outcomes, pretrain_points, finetune tables of a hand-made zoo: accuracy rises with the source index;
    logme (higher = better) and sum_of_squares (lower = better) follow it at the penultimate tap and are noise
    elsewhere; leep is given on the head's output."""
    rng = np.random.default_rng(0)
    metrics, outcomes, points, finetune = [], [], [], []
    for i in range(n_sources):
        for arch in ARCHS:
            for seed in seeds:
                key = {"target": "t", "source": f"s{i}", "arch": arch, "seed": seed}
                quality = i + 0.1 * seed + (0.05 if arch == "mlp" else 0)
                for layer in ("in", PENULTIMATE[arch]):
                    good = layer == PENULTIMATE[arch]
                    metrics += [{**key, "checkpoint": "final", "layer": layer, "metric": "logme",
                                 "value": quality if good else rng.normal()},
                                {**key, "checkpoint": "final", "layer": layer, "metric": "sum_of_squares",
                                 "value": 1 / (1 + quality) if good else rng.normal()},
                                {**key, "checkpoint": "step0", "layer": layer, "metric": "logme", "value": -quality}]
                metrics.append({**key, "checkpoint": "final", "layer": "out", "metric": "leep", "value": -quality})
                for mode in ("full", "linear"):
                    outcomes += [{**key, "checkpoint": "final", "mode": mode, "outcome": "test_acc",
                                  "value": 0.5 + 0.1 * quality},
                                 {**key, "checkpoint": "final", "mode": mode, "outcome": "auc", "value": quality}]
                    finetune.append({**key, "checkpoint": "final", "mode": mode,
                                     "trainable_params": (100 if arch == "mlp" else 90) + (mode == "full") * 1000})
                points.append({"source": f"s{i}", "arch": arch, "seed": seed, "checkpoint": "final",
                               "test_acc": 0.9 - 0.01 * i})
    return pd.DataFrame(metrics), pd.DataFrame(outcomes), pd.DataFrame(points), pd.DataFrame(finetune)


def test_zoo_scores_each_model_at_its_penultimate_tap_oriented_higher_is_better():
    zoo = zoo_table(*_tables(), estimators=["logme", "sum_of_squares", "leep"], outcome_names=["test_acc", "auc"],
                    checkpoint="final")
    assert list(zoo.columns) == ZOO_COLUMNS
    assert len(zoo) == 2 * 2 * 3 * (4 * 2 * 2)  # modes × outcomes × estimators × models
    by_estimator = {e: part for e, part in zoo[(zoo["mode"] == "full") & (zoo["outcome"] == "test_acc")]
                    .groupby("estimator")}
    assert set(by_estimator["logme"]["layer"]) == {"fc1", "fc2"} and set(by_estimator["leep"]["layer"]) == {"out"}
    for name in ("logme", "sum_of_squares"):  # sum_of_squares negated: both now rise with accuracy
        part = by_estimator[name]
        assert part["score"].corr(part["accuracy"], method="spearman") == pytest.approx(1)
    leep = by_estimator["leep"]
    assert leep["score"].corr(leep["accuracy"], method="spearman") == pytest.approx(-1)  # given the wrong way
    mlp = zoo[zoo["model"] == "s0/mlp"]
    assert set(mlp["params"]) == {1100} and set(mlp["source_acc"]) == {0.9}  # full-mode count; source test acc


def test_zoo_names_a_missing_estimator_and_a_missing_checkpoint():
    tables = _tables()
    with pytest.raises(ValueError, match=r"\['knn'\].*analysis.metrics"):
        zoo_table(*tables, estimators=["logme", "knn"], outcome_names=["test_acc"], checkpoint="final")
    with pytest.raises(ValueError, match="epoch1"):
        zoo_table(*tables, estimators=["logme"], outcome_names=["test_acc"], checkpoint="epoch1")


def test_leaderboard_ranks_each_mode_and_outcome_like_the_rank_command():
    zoo = zoo_table(*_tables(), estimators=["logme", "sum_of_squares", "leep"], outcome_names=["test_acc", "auc"],
                    checkpoint="final")
    board = leaderboard_table(zoo, bootstrap=50, random_draws=20, seed=0)
    assert list(board.columns) == ["mode", "outcome"] + rank.COLUMNS
    assert tuple(board.iloc[0][["mode", "outcome"]]) == HEADLINE  # headline slice first
    assert set(map(tuple, board[["mode", "outcome"]].drop_duplicates().to_numpy())) == {
        ("full", "test_acc"), ("full", "auc"), ("linear", "test_acc"), ("linear", "auc")}
    head = board[(board["mode"] == "full") & (board["outcome"] == "test_acc") & (board["target"] == "t")]
    tau = head.set_index("estimator")["tau_w"]
    assert tau["logme"] == pytest.approx(1) and tau["sum_of_squares"] == pytest.approx(1)
    assert tau["leep"] == pytest.approx(-1) and tau["baseline:source_acc"] < 0
    assert head.set_index("estimator").loc["logme", "n_seeds"] == 2  # seed stability over the two sub-zoos
    # the same slice through the command's own function gives the same rows
    part = zoo[(zoo["mode"] == "full") & (zoo["outcome"] == "test_acc")].drop(columns=["mode", "outcome", "layer"])
    direct = rank.evaluate(part.astype({"seed": str}), bootstrap=50, random_draws=20, seed=0)
    pd.testing.assert_frame_equal(
        board[(board["mode"] == "full") & (board["outcome"] == "test_acc")].drop(columns=["mode", "outcome"])
        .reset_index(drop=True), direct)


def test_markdown_table_bolds_the_best_estimator_and_names_those_above_the_best_static_baseline():
    from transferscope.benchmark.zoo import markdown_table

    zoo = zoo_table(*_tables(), estimators=["logme", "leep"], outcome_names=["test_acc"], checkpoint="final")
    text = markdown_table(leaderboard_table(zoo, bootstrap=50, random_draws=20, seed=0))
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert rows["logme"].count("**+1.00") == 2 and "**" not in rows["leep"]  # target t and the mean
    assert "*baseline:params*" in rows and list(rows)[1:3] == ["logme", "leep"]  # best first, baselines last
    assert "interval entirely above it: logme. One target only" in text


def test_zoo_level_etran_and_ncti_scale_their_parts_over_each_targets_models():
    from transferscope.metrics.energy_collapse import etran_zoo, ncti_zoo

    metrics, outcomes, points, finetune = _tables()
    rng = np.random.default_rng(1)
    keys = metrics[(metrics["checkpoint"] == "final") & (metrics["layer"] != "out")
                   ].drop_duplicates(["source", "arch", "seed", "layer"])
    parts = [keys.assign(metric=name, value=rng.normal(size=len(keys)))
             for name in ("etran_energy", "etran_lda", "ncti_seli", "ncti_ncc", "ncti_vc")]
    metrics = pd.concat([metrics, *parts], ignore_index=True)
    zoo = zoo_table(metrics, outcomes, points, finetune, estimators=["logme"], outcome_names=["test_acc"],
                    checkpoint="final")
    head = zoo[zoo["mode"] == "full"].sort_values(["model", "seed"])
    assert set(head["estimator"]) == {"logme", "etran", "ncti_zoo"}
    penultimate = {p["metric"].iloc[0]: p[p["layer"].isin(["fc1", "fc2"])].sort_values(["source", "arch", "seed"])
                   ["value"].to_numpy() for p in parts}
    etran = head[head["estimator"] == "etran"].sort_values(["model", "seed"])["score"].to_numpy()
    assert np.allclose(etran, etran_zoo(penultimate["etran_energy"], penultimate["etran_lda"]))
    ncti = head[head["estimator"] == "ncti_zoo"]["score"].to_numpy()
    expected = ncti_zoo(np.stack([penultimate[n] for n in ("ncti_seli", "ncti_ncc", "ncti_vc")], axis=1))
    assert np.allclose(ncti, expected) and set(head.loc[head["estimator"] == "etran", "layer"]) == {"fc1", "fc2"}
