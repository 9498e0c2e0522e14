"""End to end: a layer metric registered at run time by a plugin module (config key ``plugins``) is computed for
every layer, correlated with transfer and drawn, with no edit of the package, the schema or the rules; and the
correlation at level ``all`` is the Spearman ρ of seed means, recomputed here by hand."""
import os
import textwrap

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import REPO
from workflow_helpers import edited_config, run_snakemake

pytestmark = pytest.mark.slow
TINY = os.path.join(REPO, "tests", "data", "config_tiny.yaml")
PLUGIN = '''
    """Toy metric: the mean variance of the features (not a transferability measure, a registry check)."""
    import numpy as np

    from transferscope.metrics import LayerMetric, register


    def mean_feature_variance(X, y):
        return float(np.var(X, axis=0).mean())


    register(LayerMetric("toy_variance", mean_feature_variance, "toy: mean feature variance", default=False))
'''


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory):
    """A tiny run with two seeds whose metrics are sum_of_squares and a metric registered by a plugin file."""
    tmp_path = tmp_path_factory.mktemp("plugin")
    plugin = tmp_path / "toy_metric.py"
    plugin.write_text(textwrap.dedent(PLUGIN))

    def edit(config):
        config["plugins"] = [str(plugin)]
        config["seeds"] = [1, 2]
        config["analysis"].update(metrics=["sum_of_squares", "toy_variance"], finetuned=False, twonn_subsets=0)
        config["finetune"].update(modes=["full"], cka_samples=0)

    configfile = edited_config(TINY, tmp_path / "config.yaml", edit)
    workdir = tmp_path / "run"
    targets = ["results/tables/metrics.csv", "results/tables/transferability.csv", "results/figures/metrics_by_layer.png"]
    run_snakemake(workdir, "--cores", "2", configfile=configfile, targets=targets)
    return workdir / "results"


def test_plugin_metric_reaches_metrics_correlations_and_figure(plugin_run):
    metrics = pd.read_csv(plugin_run / "tables/metrics.csv")
    toy = metrics[metrics["metric"] == "toy_variance"]
    assert set(toy["layer"]) == set(metrics.loc[metrics["metric"] == "sum_of_squares", "layer"])
    assert len(toy) and (toy["value"] > 0).all()
    corr = pd.read_csv(plugin_run / "tables/transferability.csv")
    assert "toy_variance" in set(corr["metric"])
    log = (plugin_run / "logs/figures/metrics_by_layer.log").read_text()
    assert "'toy_variance'" in log and "'sum_of_squares'" in log  # the figure has a row of panels for it


def test_level_all_is_spearman_of_seed_means_recomputed_by_hand(plugin_run):
    """transferability.csv, level all: Spearman ρ between the seed means of a metric (metrics.csv) and of the AUC
    of the fine-tuning curve (finetune_curves.csv, trapezoid over the eval-point index in step order)."""
    metrics = pd.read_csv(plugin_run / "tables/metrics.csv")
    curves = pd.read_csv(plugin_run / "tables/finetune_curves.csv")
    corr = pd.read_csv(plugin_run / "tables/transferability.csv")
    assert {"all", "per_source", "per_checkpoint", "per_seed", "per_seed_pooled"} <= set(corr["level"])
    assert "constant_rows" not in set(corr["metric"])

    tuned = curves[curves["source"] != "scratch"].sort_values("step", kind="stable")
    auc = {}
    for (source, checkpoint, seed), curve in tuned.groupby(["source", "checkpoint", "seed"]):
        auc.setdefault((source, checkpoint), []).append(np.trapezoid(curve["test_acc"], np.arange(len(curve))))
    checked = 0
    for layer in ("conv1", "conv2", "fc1"):
        ss = metrics[(metrics["metric"] == "sum_of_squares") & (metrics["layer"] == layer)]
        ss_mean = ss.groupby(["source", "checkpoint"])["value"].mean()
        models = sorted(ss_mean.index)
        x = [ss_mean[m] for m in models]
        y = [np.mean(auc[m]) for m in models]
        row = corr[(corr["level"] == "all") & (corr["statistic"] == "spearman") & (corr["outcome"] == "auc")
                   & (corr["metric"] == "sum_of_squares") & (corr["layer"] == layer)]
        assert len(row) == 1 and int(row["n"].iloc[0]) == 2 * 2  # sources × checkpoints, not seed rows
        expected = stats.spearmanr(x, y).statistic
        if np.isfinite(expected):
            assert row["value"].iloc[0] == pytest.approx(expected, abs=1e-12)
            checked += 1
    assert checked


def test_unknown_metric_without_its_plugin_is_a_schema_error(tmp_path):
    def edit(config):
        config["analysis"]["metrics"] = ["sum_of_squares", "toy_variance"]

    configfile = edited_config(TINY, tmp_path / "config.yaml", edit)
    proc = run_snakemake(tmp_path / "run", "-n", configfile=configfile, check=False)
    assert proc.returncode != 0
    assert "analysis.metrics[1]" in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "results").exists()


def test_plugin_that_fails_to_import_names_itself(tmp_path):
    def edit(config):
        config["plugins"] = [str(tmp_path / "missing_plugin.py")]

    configfile = edited_config(TINY, tmp_path / "config.yaml", edit)
    proc = run_snakemake(tmp_path / "run", "-n", configfile=configfile, check=False)
    assert proc.returncode != 0 and "missing_plugin.py" in proc.stdout + proc.stderr
