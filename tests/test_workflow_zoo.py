"""End to end: the CI-sized benchmark zoo (tests/data/config_zoo_tiny.yaml, the small version of configs/zoo.yaml):
three architecture families × two sources pre-trained, fine-tuned on one target in two modes with a learning rate
chosen on validation, scored by every transferability estimator at the penultimate tap and ranked (one target, so
the mean rows equal its rows)."""
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO
from transferscope.metrics.registry import ranking_metrics
from workflow_helpers import run_snakemake

pytestmark = pytest.mark.slow

ZOO = os.path.join(REPO, "tests", "data", "config_zoo_tiny.yaml")


@pytest.fixture(scope="module")
def zoo_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("zoo")
    # the benchmark's own outputs only: the zoo's other figures are the tiny run's (tests/test_workflow.py)
    targets = ["results/tables/leaderboard.csv", "results/tables/finetune.csv", "results/figures/leaderboard.png",
               "results/tables/html/leaderboard.html"]
    run_snakemake(workdir, "--cores", "2", configfile=ZOO, targets=targets)
    return workdir / "results"


def test_every_model_is_ranked_by_every_estimator_beside_the_baselines(zoo_run):
    import yaml

    config = yaml.safe_load(open(ZOO))
    board = pd.read_csv(zoo_run / "tables" / "leaderboard.csv")
    slices = board[["mode", "outcome"]].drop_duplicates()
    assert list(map(tuple, slices.to_numpy()))[0] == ("full", "test_acc") and len(slices) == 4
    head = board[(board["mode"] == "full") & (board["outcome"] == "test_acc")]
    for target in config["targets"]:
        rows = head[head["target"] == target].set_index("estimator")
        estimators = rows[~rows["baseline"]].index
        ranked = ranking_metrics(config["analysis"]["metrics"]) + ["etran", "ncti_zoo"]  # + the zoo-level scores
        assert sorted(estimators) == sorted(ranked) and len(estimators) >= 14
        assert {"baseline:source_acc", "baseline:params", "baseline:random"} <= set(rows.index)
        assert (rows["n_models"] == 6).all()  # 2 sources × 3 architectures, one seed
        assert rows.loc[estimators, "tau_w"].between(-1, 1).all()
        ci = rows.loc[estimators]
        assert ((ci["tau_w_ci_low"] <= ci["tau_w"] + 1e-12) & (ci["tau_w"] <= ci["tau_w_ci_high"] + 1e-12)).all()
    assert set(head.loc[head["target"] == "mean", "n_targets"]) <= {0, 1}


def test_the_zoo_table_is_the_rank_commands_input(zoo_run, tmp_path):
    zoo = pd.read_csv(zoo_run / "tables" / "benchmark_zoo.csv")
    layers = zoo.drop_duplicates(["model", "estimator"]).set_index(["model", "estimator"])["layer"]
    assert layers["digits03/mlp", "logme"] == "fc2" and layers["digits03/small_resnet", "logme"] == "pool"
    assert layers["digits03/mnist_cnn", "leep"] == "out"
    part = zoo[(zoo["mode"] == "full") & (zoo["outcome"] == "test_acc")].drop(columns=["mode", "outcome"])
    part.to_csv(tmp_path / "zoo.csv", index=False)
    subprocess.run([sys.executable, "-m", "transferscope.benchmark.rank", str(tmp_path / "zoo.csv"), "--out",
                    str(tmp_path / "ranked.csv"), "--bootstrap", "200", "--random-draws", "200"], check=True,
                   cwd=REPO)
    ranked = pd.read_csv(tmp_path / "ranked.csv")
    board = pd.read_csv(zoo_run / "tables" / "leaderboard.csv")
    head = board[(board["mode"] == "full") & (board["outcome"] == "test_acc")].drop(columns=["mode", "outcome"])
    pd.testing.assert_frame_equal(head.reset_index(drop=True), ranked)


def test_fine_tuning_chose_its_learning_rate_from_the_mode_grid(zoo_run):
    finetune = pd.read_csv(zoo_run / "tables" / "finetune.csv")
    assert set(finetune.loc[finetune["mode"] == "full", "lr"]) <= {0.0003, 0.003}
    assert set(finetune.loc[finetune["mode"] == "linear", "lr"]) <= {0.003, 0.03}
    metrics = pd.read_csv(zoo_run / "tables" / "metrics.csv")
    assert set(metrics["layer"]) == {"fc1", "fc2", "pool", "out"}  # analysis.layers: [penultimate]


def test_the_report_shows_the_leaderboard(zoo_run):
    assert (zoo_run / "figures" / "leaderboard.png").stat().st_size > 0
    page = (zoo_run / "tables" / "html" / "leaderboard.html").read_text()
    assert "logme" in page and "baseline:params" in page
