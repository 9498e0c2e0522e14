"""Level per_point of transferability.csv (the metric against the test accuracy at each fine-tuning eval point,
across every (source, checkpoint) model on seed means) and config analysis.band (permutation | fisher)."""
import os

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from transferscope.analysis.correlate import spearman_band, transferability_table
from transferscope.config import ConfigError, validate_config
from transferscope.outcomes import POINT_OUTCOME, point_accuracy, point_order

from conftest import REPO

SOURCES = list("abcdefg")
SEEDS = (1, 2)
# Listed out of training order on purpose: the rows must come out step0, epoch1, final.
POINTS = {"final": 90, "step0": 0, "epoch1": 30}
RNG = np.random.default_rng(7)
METRIC = {(s, seed): float(v) for (s, seed), v in zip(
    [(s, seed) for s in SOURCES for seed in SEEDS], RNG.normal(size=len(SOURCES) * len(SEEDS)))}
ACC = {(s, seed, p): float(v) for (s, seed, p), v in zip(
    [(s, seed, p) for s in SOURCES for seed in SEEDS for p in POINTS], RNG.uniform(0.1, 0.9, 42))}


def _tables():
    """7 sources × 1 checkpoint × 2 seeds, 3 eval points; a diagnostic metric and scratch curves that must be
    ignored; the final outcome (auc) for the other levels."""
    metrics, outcomes, curves = [], [], []
    for source in SOURCES:
        for seed in SEEDS:
            keys = dict(target="t", source=source, arch="vgg16", seed=seed, checkpoint="final")
            metrics.append({**keys, "layer": "fc7", "metric": "rsa", "value": METRIC[source, seed]})
            metrics.append({**keys, "layer": "fc7", "metric": "constant_rows", "value": 0.0})
            outcomes.append({**keys, "mode": "full", "outcome": "auc", "value": ACC[source, seed, "final"]})
            for point, step in POINTS.items():
                curves.append({**keys, "mode": "full", "point": point, "step": step, "epoch": step / 30,
                               "test_acc": ACC[source, seed, point], "test_loss": 1.0})
    for seed in SEEDS:
        for point, step in POINTS.items():
            curves.append(dict(target="t", source="scratch", arch="vgg16", seed=seed, checkpoint="none",
                               mode="full", point=point, step=step, epoch=step / 30, test_acc=0.5, test_loss=1.0))
    return pd.DataFrame(metrics), pd.DataFrame(outcomes), pd.DataFrame(curves)


def _by_hand(point):
    x = [np.mean([METRIC[s, seed] for seed in SEEDS]) for s in SOURCES]
    y = [np.mean([ACC[s, seed, point] for seed in SEEDS]) for s in SOURCES]
    return stats.spearmanr(x, y).statistic


def _per_point(table):
    return table[(table["level"] == "per_point") & (table["statistic"] == "spearman")]


def test_per_point_rho_is_spearman_of_seed_means_in_training_order():
    metrics, outcomes, curves = _tables()
    table = transferability_table(metrics, outcomes, curves=curves)
    rows = _per_point(table)
    assert list(rows["group"]) == ["step0", "epoch1", "final"]
    assert set(rows["outcome"]) == {POINT_OUTCOME} == {"point_acc"}
    assert set(rows["metric"]) == {"rsa"} and (rows["n"] == 7).all()
    expected = [_by_hand(p) for p in ("step0", "epoch1", "final")]
    assert len(set(np.round(expected, 6))) == 3  # the three points really differ
    assert rows["value"].to_numpy(float) == pytest.approx(expected, abs=1e-12)
    # final accuracy is the auc outcome of this toy: level all on it equals per_point at final
    overall = table[(table["level"] == "all") & (table["statistic"] == "spearman")].iloc[0]
    assert overall["value"] == pytest.approx(expected[-1])
    # every statistic per point, like the other levels
    assert set(table.loc[table["level"] == "per_point", "statistic"]) == {"spearman", "kendall", "weighted_tau",
                                                                          "pearson"}
    assert np.isnan(rows[["ci_low", "ci_high", "seed_sd"]].to_numpy(float)).all()


def test_per_point_only_with_curves():
    metrics, outcomes, _ = _tables()
    table = transferability_table(metrics, outcomes)
    assert "per_point" not in set(table["level"]) and POINT_OUTCOME not in set(table["outcome"])
    assert {"all", "per_source", "per_checkpoint", "per_seed", "per_seed_pooled"} == set(table["level"])


def test_band_permutation_by_default_and_fisher_on_request():
    metrics, outcomes, curves = _tables()
    default = _per_point(transferability_table(metrics, outcomes, curves=curves))
    assert default["band"].to_numpy(float) == pytest.approx([spearman_band(7)] * 3)
    assert spearman_band(7) == pytest.approx(0.7857, abs=1e-4)  # exact permutation quantile
    fisher_table = transferability_table(metrics, outcomes, curves=curves, band="fisher")
    fisher = _per_point(fisher_table)
    assert fisher["band"].to_numpy(float) == pytest.approx([np.tanh(1.96 / 2)] * 3, abs=1e-4)
    assert fisher["band"].iloc[0] == pytest.approx(0.7530, abs=1e-4)
    assert list(fisher["significant"]) == [abs(v) >= 0.7530 for v in fisher["value"]]
    # the option applies to every level: level all has n = 7 too
    overall = fisher_table[(fisher_table["level"] == "all") & (fisher_table["statistic"] == "spearman")]
    assert overall["band"].iloc[0] == pytest.approx(0.7530, abs=1e-4)
    with pytest.raises(ValueError, match="band"):
        transferability_table(metrics, outcomes, band="normal")


@pytest.mark.parametrize("n", [4, 5, 6, 7, 8, 9, 10, 12, 72])
def test_fisher_band_for_every_n_from_4(n):
    assert spearman_band(n, method="fisher") == pytest.approx(np.tanh(1.959964 / np.sqrt(n - 3)), abs=1e-6)
    if n >= 10:  # the two methods agree where permutation uses the normal band
        assert spearman_band(n, method="fisher") == spearman_band(n)
    assert np.isnan(spearman_band(3, method="fisher"))


def test_point_order_and_point_accuracy():
    _, _, curves = _tables()
    assert point_order(curves) == ["step0", "epoch1", "final"]
    acc = point_accuracy(curves)
    assert "scratch" not in set(acc["source"]) and len(acc) == 7 * 2 * 3
    # a point whose step differs between targets still sorts by its place in each model's curve
    other = curves.assign(target="u", step=curves["point"].map({"step0": 0, "epoch1": 100, "final": 120}))
    assert point_order(pd.concat([other, curves])) == ["step0", "epoch1", "final"]


def test_figures_skip_per_point_rows():
    from transferscope.plots._common import spearman_rows
    from transferscope.plots.correlation_levels import LEVELS

    metrics, outcomes, curves = _tables()
    table = transferability_table(metrics, outcomes, curves=curves)
    frame, _ = spearman_rows(table, "auc", tuple(LEVELS))
    assert "per_point" not in set(frame["level"])
    frame, _ = spearman_rows(table, "auc", ("all",))
    assert len(frame) == 1


def _config():
    with open(os.path.join(REPO, "config.yaml")) as fh:
        return yaml.safe_load(fh)


def test_config_band_default_and_schema_error():
    assert validate_config(_config())["analysis"]["band"] == "permutation"
    cfg = _config()
    cfg["analysis"]["band"] = "fisher"
    assert validate_config(cfg)["analysis"]["band"] == "fisher"
    cfg = _config()
    cfg["analysis"]["band"] = "normal"
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    assert "analysis.band" in str(info.value)
