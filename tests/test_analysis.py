import numpy as np
import pandas as pd
import pytest
import torch

from transferscope.analysis.activations import balanced_sample, extract, load_activations, pool_taps, save_activations
from transferscope.analysis.correlate import correlation_stats, curve_auc, transferability_table
from transferscope.analysis.layer_metrics import layer_metric_rows
from transferscope.data.bundle import TEST, TRAIN
from transferscope.models import build_model


def test_balanced_sample_is_fixed_and_balanced():
    labels = torch.arange(4).repeat_interleave(30)
    split = torch.tensor([TRAIN, TEST] * 60, dtype=torch.int8)
    a, b = balanced_sample(labels, split, 40, seed=0), balanced_sample(labels, split, 40, seed=0)
    assert np.array_equal(a, b)
    assert np.bincount(labels[a].numpy()).tolist() == [10, 10, 10, 10]
    assert (split[a] == TEST).all()
    assert list(labels[a].numpy()) == sorted(labels[a].numpy())  # grouped by class
    assert not np.array_equal(a, balanced_sample(labels, split, 40, seed=1))


def test_pool_taps():
    taps = {"in": torch.ones(2, 1, 4, 4), "conv": torch.arange(2 * 3 * 4.0).view(2, 3, 2, 2), "fc": torch.ones(2, 5)}
    flat = pool_taps(taps, "flatten")
    assert flat["in"].shape == (2, 16) and flat["conv"].shape == (2, 12) and flat["fc"].shape == (2, 5)
    gap = pool_taps(taps, "gap")
    assert gap["conv"].shape == (2, 3) and gap["in"].shape == (2, 16)
    assert torch.allclose(gap["conv"][0], torch.tensor([1.5, 5.5, 9.5]))
    both = pool_taps(taps, "both")
    assert set(both) == {"in", "conv", "conv:gap", "fc"}


def test_extract_and_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model("mnist_cnn", 3, 1, 12)
    images = torch.randint(0, 256, (10, 1, 12, 12), dtype=torch.uint8)
    acts = extract(model, images, [0.5], [0.25], pool="flatten", batch_size=4)
    assert list(acts) == ["in", "conv1", "pool1", "conv2", "pool2", "fc1", "out"]
    assert acts["fc1"].shape == (10, 128) and acts["out"].dtype == np.float32
    again = extract(model, images, [0.5], [0.25], pool="flatten", batch_size=10)
    assert np.allclose(acts["pool2"], again["pool2"], atol=1e-6)  # batching does not change activations
    path = tmp_path / "a.npz"
    save_activations(path, acts, np.arange(10) % 3, np.arange(10), {"x": 1})
    loaded, labels = load_activations(path)
    assert list(loaded) == list(acts) and np.array_equal(loaded["fc1"], acts["fc1"]) and labels.tolist()[:3] == [0, 1, 2]
    path.write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="a.npz"):
        load_activations(path)


def test_layer_metric_rows_separated_clusters():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    centres = np.eye(3)[y] * 50
    acts = {"good": centres + rng.normal(size=(60, 3)), "noise": rng.normal(size=(60, 3)),
            "out": np.log(np.full((60, 4), 0.25))}
    rows = pd.DataFrame(layer_metric_rows(acts, y, ["sum_of_squares", "rsa", "twonn", "leep", "nce"]))
    value = rows.set_index(["layer", "metric"])["value"]
    assert value["good", "sum_of_squares"] < 0.01 < 0.9 < value["noise", "sum_of_squares"]
    assert value["good", "rsa"] > value["noise", "rsa"]
    assert ("good", "leep") not in value.index and ("out", "leep") in value.index
    assert value["out", "leep"] == pytest.approx(np.log(1 / 3))  # uninformative source head: log(1/C)
    assert value["out", "nce"] == pytest.approx(-np.log(3))


def test_correlation_stats():
    x = np.arange(10.0)
    rows = {r["statistic"]: r for r in correlation_stats(x, x ** 3)}
    assert rows["spearman"]["value"] == pytest.approx(1) and rows["kendall"]["value"] == pytest.approx(1)
    assert rows["weighted_tau"]["value"] == pytest.approx(1) and 0.9 < rows["pearson"]["value"] < 1
    assert rows["spearman"]["n"] == 10 and rows["spearman"]["p_value"] < 1e-6
    rows = {r["statistic"]: r for r in correlation_stats(x, -x)}
    assert rows["spearman"]["value"] == pytest.approx(-1)
    rows = correlation_stats(np.ones(5), np.arange(5.0))
    assert all(np.isnan(r["value"]) for r in rows)  # constant metric: undefined, not an error


def test_curve_auc_trapezoid():
    curves = pd.DataFrame({
        "target": "t", "source": "s", "arch": "a", "seed": 1, "checkpoint": "final", "mode": "full",
        "point": ["step0", "step4", "final"], "step": [0, 4, 20], "test_acc": [0.2, 0.6, 0.8]})
    auc = curve_auc(curves, ["step0", "step4", "final"])
    assert auc["auc"].iloc[0] == pytest.approx((0.2 + 0.6) / 2 + (0.6 + 0.8) / 2)


def test_transferability_table_joins_on_model_keys():
    keys = dict(target="t", arch="a", checkpoint="final")
    finetune = pd.DataFrame([{**keys, "source": s, "seed": seed, "mode": "full", "test_acc": acc}
                             for s, seed, acc in [("a", 1, 0.9), ("b", 1, 0.7), ("c", 1, 0.5), ("d", 1, 0.6)]]
                            + [{**keys, "source": "scratch", "checkpoint": "none", "seed": 1, "mode": "full", "test_acc": 0.6}])
    metrics = pd.DataFrame([{**keys, "source": s, "seed": 1, "layer": "fc1", "metric": "rsa", "value": v}
                            for s, v in [("a", 0.3), ("b", 0.2), ("c", 0.05), ("d", 0.1)]])
    table = transferability_table(metrics, finetune)
    row = table[(table.outcome == "test_acc") & (table.statistic == "spearman")].iloc[0]
    assert row["value"] == pytest.approx(1.0) and row["n"] == 4
    gain = table[(table.outcome == "gain") & (table.statistic == "pearson")].iloc[0]
    assert gain["value"] > 0.9


def test_gain_at_equal_fine_tuning_points():
    from transferscope.plots.transfer_gain import gain_at_points

    rows = []
    for source, ckpt, accs in [("scratch", "none", (0.2, 0.8)), ("a", "final", (0.6, 0.8)), ("a", "step0", (0.1, 0.7))]:
        for seed in (1, 2):
            for point, acc in zip(("step4", "final"), accs):
                rows.append(dict(target="t", source=source, arch="m", seed=seed, checkpoint=ckpt, mode="full",
                                 point=point, step=4 if point == "step4" else 40, test_acc=acc + 0.01 * seed))
    gains = gain_at_points(pd.DataFrame(rows), "final").set_index(["seed", "point"])["gain"]
    assert gains[1, "step4"] == pytest.approx(40.0) and gains[2, "final"] == pytest.approx(0.0)
    assert len(gains) == 4  # only the requested pre-training checkpoint, matched per seed and point


def test_bootstrap_interval_of_spearman():
    from transferscope.analysis.correlate import bootstrap_spearman_ci

    rng = np.random.default_rng(0)
    x = np.arange(30.0)
    low, high = bootstrap_spearman_ci(x, x + rng.normal(scale=3, size=30), n_boot=500)
    assert 0.8 < low < high <= 1.0  # strong monotone relation: tight interval near 1
    low, high = bootstrap_spearman_ci(x, rng.normal(size=30), n_boot=500)
    assert low < 0 < high  # no relation: the interval covers 0
    rows = {r["statistic"]: r for r in correlation_stats(x, x ** 2, n_boot=200)}
    assert rows["spearman"]["ci_low"] == pytest.approx(1.0) and rows["spearman"]["ci_high"] == pytest.approx(1.0)
