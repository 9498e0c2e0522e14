"""Ranking evaluation of a transferability benchmark (transferscope.benchmark.rank): analytic cases."""
import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from transferscope.benchmark import rank

REPO = Path(__file__).resolve().parents[1]
ACC = np.array([0.5, 0.6, 0.7, 0.8, 0.9])


def zoo(n_models=6, targets=("cifar", "pets"), estimators=("logme", "leep"), seeds=None, noise=0.05, rng_seed=0):
    """Combined-form table: target, model, [seed,] estimator, score, accuracy, params, source_acc."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for target in targets:
        for seed in seeds or [None]:
            for m in range(n_models):
                accuracy, source_acc = 0.5 + 0.4 * rng.random(), rng.random()
                for estimator in estimators:
                    row = {"target": target, "model": f"m{m}", "estimator": estimator,
                           "score": accuracy + noise * rng.normal(), "accuracy": accuracy,
                           "params": 1e6 * (m + 1), "source_acc": source_acc}
                    if seed is not None:
                        row["seed"] = seed
                    rows.append(row)
    return pd.DataFrame(rows)


def test_perfect_score_gives_one_everywhere():
    row = rank.rank_statistics(10 * ACC + 3, ACC)
    assert row["n_models"] == 5
    for name in rank.STATISTICS:
        assert row[name] == pytest.approx(1.0), name


def test_reversed_score_gives_minus_one_and_rel_at_1_worst_over_best():
    row = rank.rank_statistics(-ACC, ACC)
    for name in ("tau_w", "kendall_tau", "spearman_rho", "pearson_r"):
        assert row[name] == pytest.approx(-1.0), name
    assert row["rel_at_1"] == pytest.approx(0.5 / 0.9)
    assert row["rel_at_3"] == pytest.approx(0.7 / 0.9)  # top 3 by score: accuracies 0.5, 0.6, 0.7


def test_hand_computed_four_models():
    # Models A, B, C, D by decreasing score; accuracies A .7, B .8, C .6, D .9.
    score = np.array([0.9, 0.8, 0.3, 0.1])
    accuracy = np.array([0.7, 0.8, 0.6, 0.9])
    row = rank.rank_statistics(score, accuracy)
    assert row["rel_at_1"] == pytest.approx(0.7 / 0.9)  # top 1 = A
    assert row["rel_at_3"] == pytest.approx(0.8 / 0.9)  # top 3 = A, B, C
    # Pairs AB−, AC+, AD−, BC+, BD−, CD−: (2 − 4)/6.
    assert row["kendall_tau"] == pytest.approx(-1 / 3)
    # Ranks (ascending) score D1 C2 B3 A4, accuracy C1 A2 B3 D4: Σd² = 4 + 0 + 1 + 9 = 14, ρ = 1 − 6·14/60.
    assert row["spearman_rho"] == pytest.approx(-0.4)
    # Hyperbolic additive weights 1/(r+1) + 1/(s+1). Ranks by score A0 B1 C2 D3: pair weights AB 1.5, AC 4/3,
    # AD 1.25, BC 5/6, BD .75, CD 7/12 (Σ 6.25), signed sum −23/12 → −0.30667. Ranks by accuracy D0 B1 A2 C3:
    # AB 5/6, AC 7/12, AD 4/3, BC .75, BD 1.5, CD 1.25, signed sum −43/12 → −0.57333. Average: −0.44.
    assert row["tau_w"] == pytest.approx(-0.44)


def test_tau_w_is_scipy_weightedtau_truth_first_with_defaults():
    rng = np.random.default_rng(3)
    accuracy = np.round(rng.random(12), 1)  # ties on purpose
    score = accuracy + rng.normal(0, 0.3, 12)
    expected = stats.weightedtau(accuracy, score).statistic
    assert rank.rank_statistics(score, accuracy)["tau_w"] == pytest.approx(expected, abs=1e-15)
    # rank=True averages both lexicographic ranks, so the field's argument order is immaterial.
    assert stats.weightedtau(score, accuracy).statistic == pytest.approx(expected, abs=1e-12)


def test_constant_score_gives_nan_correlations_and_pessimistic_rel():
    row = rank.rank_statistics(np.ones(5), ACC)
    assert np.isnan([row[n] for n in ("tau_w", "kendall_tau", "spearman_rho", "pearson_r")]).all()
    assert row["rel_at_1"] == pytest.approx(0.5 / 0.9)  # tied scores: lower accuracy first
    assert row["rel_at_3"] == pytest.approx(0.7 / 0.9)


def test_bootstrap_interval_contains_estimate_and_is_seeded():
    rng = np.random.default_rng(7)
    accuracy = rng.random(15)
    score = accuracy + rng.normal(0, 0.2, 15)
    tau_w = rank.rank_statistics(score, accuracy)["tau_w"]
    interval = rank.bootstrap_tau_w(score, accuracy, n_boot=300, seed=4)
    assert interval.low < tau_w < interval.high
    assert 0 < interval.n <= 300 and interval.sd > 0
    assert rank.bootstrap_tau_w(score, accuracy, n_boot=300, seed=4) == interval
    assert rank.bootstrap_tau_w(score, accuracy, n_boot=300, seed=5) != interval


def test_bootstrap_skips_degenerate_resamples():
    # 3 models: every resample missing one of them (most of them) has < 3 distinct models and is skipped.
    interval = rank.bootstrap_tau_w([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], n_boot=200, seed=0)
    assert 0 < interval.n < 200
    assert interval.low == interval.high == pytest.approx(1.0)


def test_combined_csv_equals_two_file_form():
    combined = zoo()
    scores = combined[["target", "model", "estimator", "score"]]
    truth = combined[["target", "model", "accuracy", "params", "source_acc"]].drop_duplicates()
    truth = truth.sample(frac=1, random_state=1)  # row order must not matter
    kwargs = {"bootstrap": 50, "seed": 2, "random_draws": 50}
    two_files = rank.evaluate(scores, truth, **kwargs)
    pd.testing.assert_frame_equal(rank.evaluate(combined, **kwargs), two_files)
    pd.testing.assert_frame_equal(rank.evaluate(combined, combined, **kwargs), two_files)
    assert list(two_files.columns) == rank.COLUMNS


def test_result_rows_baselines_and_mean():
    result = rank.evaluate(zoo(), bootstrap=20, random_draws=20)
    per_target = result[result.target != "mean"]
    assert list(per_target.estimator[per_target.target == "cifar"]) == [
        "leep", "logme", "baseline:source_acc", "baseline:params", "baseline:random"]
    assert list(per_target.baseline[per_target.target == "cifar"]) == [False, False, True, True, True]
    mean = result[result.target == "mean"].set_index("estimator")
    assert list(mean.index) == ["leep", "logme", "baseline:source_acc", "baseline:params", "baseline:random"]
    for estimator in mean.index:
        values = per_target.loc[per_target.estimator == estimator, "tau_w"]
        assert mean.loc[estimator, "tau_w"] == pytest.approx(values.mean())
        assert mean.loc[estimator, "n_targets"] == 2
    assert set(result.interval) == {"bootstrap_models", "random_draws", "bootstrap_targets"}


def test_static_baseline_ranked_like_an_estimator():
    frame = pd.DataFrame({"target": "t", "model": [f"m{i}" for i in range(5)], "estimator": "e",
                          "score": ACC[::-1], "accuracy": ACC, "source_acc": ACC / 2})
    result = rank.evaluate(frame, bootstrap=0, random_draws=0).set_index(["target", "estimator"])
    assert result.loc[("t", "baseline:source_acc"), "tau_w"] == pytest.approx(1.0)
    assert result.loc[("t", "e"), "tau_w"] == pytest.approx(-1.0)
    assert "baseline:params" not in result.index.get_level_values(1)
    assert result.loc[("t", "e"), "n_boot"] == 0 and np.isnan(result.loc[("t", "e"), "tau_w_ci_low"])


def test_non_finite_scores_are_dropped_and_counted():
    frame = pd.DataFrame({"target": "t", "model": [f"m{i}" for i in range(5)], "estimator": "e",
                          "score": [1.0, 2.0, np.nan, 4.0, 5.0], "accuracy": ACC})
    row = rank.evaluate(frame, bootstrap=0, random_draws=0).iloc[0]
    assert (row.n_models, row.n_dropped, row.tau_w) == (4, 1, pytest.approx(1.0))


def test_seed_stability_identical_sub_zoos_have_sd_zero():
    combined = zoo(n_models=5, targets=("t",), estimators=("e",), seeds=[1], noise=0.1)
    both = pd.concat([combined, combined.assign(seed=2)], ignore_index=True)  # model names repeat across seeds
    result = rank.evaluate(both, bootstrap=0, random_draws=0)
    row = result[(result.target == "t") & (result.estimator == "e")].iloc[0]
    single = rank.rank_statistics(combined.score, combined.accuracy)["tau_w"]
    assert row.n_models == 10 and row.n_seeds == 2
    assert row.seed_tau_w_mean == pytest.approx(single)
    assert row.seed_tau_w_sd == pytest.approx(0.0, abs=1e-12)


def test_random_baseline_tau_w_distribution_centred_on_zero():
    accuracy = np.random.default_rng(0).random(20)
    row = rank.random_baseline(accuracy, draws=1000, seed=0)
    assert abs(row["tau_w"]) < 0.1
    assert row["n_boot"] == 1000 and row["interval"] == "random_draws"
    assert row["tau_w_ci_low"] < 0 < row["tau_w_ci_high"] and row["tau_w_sd"] > 0
    few = rank.random_baseline(accuracy, draws=50, seed=3)
    assert rank.random_baseline(accuracy, draws=50, seed=3) == few != rank.random_baseline(accuracy, draws=50, seed=4)


def test_missing_column_names_file_and_column():
    frame = zoo().drop(columns="estimator")
    with pytest.raises(ValueError, match=r"SCORES\.csv: missing column 'estimator'"):
        rank.evaluate(frame, scores_name="SCORES.csv")


def test_scored_models_without_accuracy_are_named():
    combined = zoo()
    truth = combined[["target", "model", "accuracy"]].drop_duplicates()
    truth = truth[~((truth.target == "pets") & truth.model.isin(["m2", "m4"]))]
    with pytest.raises(ValueError, match=r"TRUTH\.csv: no accuracy .*target 'pets': m2, m4"):
        rank.evaluate(combined.drop(columns="accuracy"), truth, truth_name="TRUTH.csv")


def test_conflicting_truth_rows_are_an_error():
    combined = zoo()
    combined.loc[0, "accuracy"] += 0.1  # one estimator's row disagrees on the model's accuracy
    with pytest.raises(ValueError, match="several different rows"):
        rank.evaluate(combined)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "transferscope.benchmark.rank", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_cli_end_to_end(tmp_path):
    combined = zoo()
    combined[["target", "model", "estimator", "score"]].to_csv(tmp_path / "scores.csv", index=False)
    combined[["target", "model", "accuracy", "params"]].drop_duplicates().to_csv(tmp_path / "truth.csv",
                                                                                  index=False)
    out, summary = tmp_path / "out" / "result.csv", tmp_path / "summary.csv"
    done = run_cli(tmp_path / "scores.csv", tmp_path / "truth.csv", "--out", out, "--summary", summary,
                   "--bootstrap", 30, "--random-draws", 30, "--seed", 1)
    assert done.returncode == 0, done.stderr
    result = pd.read_csv(out)
    assert list(result.columns) == rank.COLUMNS
    assert set(result.estimator) == {"logme", "leep", "baseline:params", "baseline:random"}
    assert set(pd.read_csv(summary).target) == {"mean"}
    assert sorted(p.name for p in out.parent.iterdir()) == ["result.csv"]  # no temporary file left
    # The combined form, passed alone: the same result (the truth's params make the same baseline).
    combined.drop(columns="source_acc").to_csv(tmp_path / "combined.csv", index=False)
    assert rank.main([str(tmp_path / "combined.csv"), "--out", str(tmp_path / "combined_result.csv"),
                      "--bootstrap", "30", "--random-draws", "30", "--seed", "1"]) == 0  # in-process: fast
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "combined_result.csv"), result)


def test_cli_missing_column_error(tmp_path, capsys):
    path = tmp_path / "SCORES.csv"
    zoo().drop(columns="estimator").to_csv(path, index=False)
    assert rank.main([str(path), "--out", str(tmp_path / "result.csv")]) != 0
    assert f"{path}: missing column 'estimator'" in capsys.readouterr().err
    assert not (tmp_path / "result.csv").exists()


def test_module_imports_only_numpy_scipy_pandas_and_base():
    """The rank command runs on any zoo with the package's I/O alone; the pipeline's zoo builder also reads the
    metric and architecture registries."""
    allowed = {"numpy", "scipy", "pandas", "transferscope", "__future__"} | set(sys.stdlib_module_names)
    own = {"rank.py": ("transferscope.io",),
           "zoo.py": ("transferscope.io", "transferscope.benchmark", "transferscope.metrics.registry",
                      "transferscope.metrics.energy_collapse", "transferscope.models")}
    for path in (REPO / "transferscope" / "benchmark").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                assert name.split(".")[0] in allowed, (path.name, name)
                if name.startswith("transferscope."):
                    assert name in own.get(path.name, ()), (path.name, name)
