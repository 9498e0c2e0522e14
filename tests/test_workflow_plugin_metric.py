"""End to end: a layer metric registered at run time by a plugin module (config key ``plugins``) is computed for
every layer, correlated with transfer and drawn, with no edit of the package, the schema or the rules."""
import os
import textwrap

import pandas as pd
import pytest

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


def test_plugin_metric_reaches_metrics_correlations_and_figure(tmp_path):
    plugin = tmp_path / "toy_metric.py"
    plugin.write_text(textwrap.dedent(PLUGIN))

    def edit(config):
        config["plugins"] = [str(plugin)]
        config["analysis"].update(metrics=["sum_of_squares", "toy_variance"], finetuned=False, twonn_subsets=0)
        config["finetune"].update(modes=["full"], cka_samples=0)

    configfile = edited_config(TINY, tmp_path / "config.yaml", edit)
    workdir = tmp_path / "run"
    targets = ["results/tables/metrics.csv", "results/tables/transferability.csv", "results/figures/metrics_by_layer.png"]
    run_snakemake(workdir, "--cores", "2", configfile=configfile, targets=targets)

    metrics = pd.read_csv(workdir / "results/tables/metrics.csv")
    toy = metrics[metrics["metric"] == "toy_variance"]
    assert set(toy["layer"]) == set(metrics.loc[metrics["metric"] == "sum_of_squares", "layer"])
    assert len(toy) and (toy["value"] > 0).all()
    corr = pd.read_csv(workdir / "results/tables/transferability.csv")
    assert "toy_variance" in set(corr["metric"])
    log = (workdir / "results/logs/figures/metrics_by_layer.log").read_text()
    assert "'toy_variance'" in log and "'sum_of_squares'" in log  # the figure has a row of panels for it


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
