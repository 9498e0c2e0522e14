import numpy as np
import pandas as pd
import pytest
import torch

from transferscope.analysis.activations import balanced_sample, extract, load_activations, pool_taps, save_activations
from transferscope.inference import Preprocess, eval_batch_size, eval_batches, unit_subset
from scipy import stats

from transferscope.analysis.correlate import correlation_stats, spearman_band, transferability_table
from transferscope.outcomes import OUTCOMES, curve_auc, outcome_table, transfer_summary
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


def test_analysis_sample_from_the_train_split():
    from transferscope.data.bundle import Bundle
    from transferscope.inference import sample_images

    labels = torch.arange(4).repeat_interleave(30)
    split = torch.tensor([TRAIN, TEST] * 60, dtype=torch.int8)
    bundle = Bundle(torch.zeros(120, 1, 4, 4, dtype=torch.uint8), labels, split, list("abcd"), {})
    _, sampled, idx = sample_images(bundle, 40, 0, split="train")
    assert (split[torch.from_numpy(idx)] == TRAIN).all() and np.bincount(sampled.numpy()).tolist() == [10] * 4


def test_pool_taps():
    taps = {"in": torch.ones(2, 1, 4, 4), "conv": torch.arange(2 * 3 * 4.0).view(2, 3, 2, 2), "fc": torch.ones(2, 5)}
    flat = pool_taps(taps, "flatten")
    assert flat["in"].shape == (2, 16) and flat["conv"].shape == (2, 12) and flat["fc"].shape == (2, 5)
    gap = pool_taps(taps, "gap")
    assert gap["conv"].shape == (2, 3) and gap["in"].shape == (2, 16)
    assert torch.allclose(gap["conv"][0], torch.tensor([1.5, 5.5, 9.5]))
    both = pool_taps(taps, "both")
    assert set(both) == {"in", "conv", "conv:gap", "fc"}


def test_flatten_units_keep_the_same_seeded_units_of_wide_conv_maps():
    taps = {"in": torch.arange(2 * 16.0).view(2, 1, 4, 4), "conv": torch.arange(2 * 48.0).view(2, 3, 4, 4),
            "fc": torch.arange(10.0).view(2, 5)}
    kept = pool_taps(taps, "both", max_units=8, seed=3)
    idx = unit_subset(48, 8, seed=3)
    assert list(idx) == sorted(set(idx.tolist())) and len(idx) == 8  # 8 distinct units, in order
    assert torch.equal(kept["conv"], taps["conv"].flatten(1)[:, torch.from_numpy(idx)])
    assert torch.equal(kept["in"], taps["in"].flatten(1)[:, torch.from_numpy(unit_subset(16, 8, seed=3))])
    assert kept["fc"].shape == (2, 5) and kept["conv:gap"].shape == (2, 3)  # dense and pooled taps stay whole
    assert np.array_equal(unit_subset(48, 8, seed=3), idx) and not np.array_equal(unit_subset(48, 8, seed=4), idx)
    assert unit_subset(48, 48) is None and unit_subset(48, None) is None
    assert list(pool_taps(taps, "both")) == ["in", "conv", "conv:gap", "fc"]


def test_extract_subset_equals_the_same_columns_of_the_full_extraction():
    torch.manual_seed(0)
    model = build_model("mnist_cnn", 3, 1, 12)
    images = torch.randint(0, 256, (6, 1, 12, 12), dtype=torch.uint8)
    prep = Preprocess([0.5], [0.25])
    full = extract(model, images, prep, pool="flatten", batch_size=4)
    some = extract(model, images, prep, pool="flatten", batch_size=4, max_units=50, seed=7)
    for layer, acts in full.items():
        keep = unit_subset(acts.shape[1], 50, 7) if layer in ("in", "conv1", "pool1", "conv2", "pool2") else None
        assert np.array_equal(some[layer], acts if keep is None else acts[:, keep]), layer


def test_preprocess_resizes_each_batch_to_the_input_size():
    images = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)
    prep = Preprocess([0.5, 0.4, 0.3], [0.2, 0.25, 0.5], size=24)
    x = prep(images)
    assert x.shape == (5, 3, 24, 24) and x.dtype == torch.float32
    # per-channel normalisation commutes with bilinear interpolation (weights sum to 1): resize, then normalise
    ref = torch.nn.functional.interpolate(images.float() / 255, size=(24, 24), mode="bilinear", antialias=True,
                                          align_corners=False)
    ref = (ref - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.2, 0.25, 0.5]).view(1, 3, 1, 1)
    assert torch.allclose(x, ref, atol=1e-6)
    assert torch.allclose(Preprocess([0.5] * 3, [0.2] * 3, size=8)(images), (images.float() / 255 - 0.5) / 0.2)
    model = build_model("mnist_cnn", 2, 3, 24)  # a network that sees 24×24 evaluates 8×8 images through prep
    logp = torch.cat(list(eval_batches(model, images, prep, batch_size=2)))
    assert logp.shape == (5, 2)


def test_evaluation_batches_shrink_with_the_image_side():
    assert eval_batch_size(8) == 1024 and eval_batch_size(28) == 1024 and eval_batch_size(32) == 1024
    assert eval_batch_size(224) == 20 and eval_batch_size(224, cap=8) == 8 and eval_batch_size(10_000) == 1


def test_extract_and_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model("mnist_cnn", 3, 1, 12)
    images = torch.randint(0, 256, (10, 1, 12, 12), dtype=torch.uint8)
    acts = extract(model, images, Preprocess([0.5], [0.25]), pool="flatten", batch_size=4)
    assert list(acts) == ["in", "conv1", "pool1", "conv2", "pool2", "fc1", "out"]
    assert acts["fc1"].shape == (10, 128) and acts["out"].dtype == np.float32
    again = extract(model, images, Preprocess([0.5], [0.25]), pool="flatten", batch_size=10)
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
    chosen = pd.DataFrame(layer_metric_rows(acts, y, ["sum_of_squares", "leep"], layers=["good"]))
    assert sorted(zip(chosen["layer"], chosen["metric"])) == [("good", "sum_of_squares"), ("out", "leep")]


def test_penultimate_names_the_tap_feeding_each_head():
    from transferscope.models import metric_taps

    assert [metric_taps(arch, ["penultimate"]) for arch in ("mnist_cnn", "mlp", "small_resnet")] == [
        ("fc1",), ("fc2",), ("pool",)]
    assert metric_taps("mlp", None) is None and metric_taps("mlp", ["fc1", "penultimate", "fc2"]) == ("fc1", "fc2")
    with pytest.raises(ValueError, match="pool2"):
        metric_taps("mlp", ["pool2"])


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


def _curve_rows(source, checkpoint, seed, points):
    return [dict(target="t", source=source, arch="a", seed=seed, checkpoint=checkpoint, mode="full", point=p,
                 step=step, test_acc=acc) for p, step, acc in points]


def test_curve_auc_trapezoid_in_step_order_whatever_the_listed_order():
    listed = [("final", 20, 0.8), ("step0", 0, 0.2), ("step4", 4, 0.6)]  # config order need not be step order
    auc = curve_auc(pd.DataFrame(_curve_rows("s", "final", 1, listed)))
    assert auc.iloc[0] == pytest.approx((0.2 + 0.6) / 2 + (0.6 + 0.8) / 2)


def test_outcomes_early_and_peak_gain():
    points = [("step0", 0, 0.1), ("step4", 4, 0.5), ("step30", 30, 0.7), ("final", 90, 0.8)]
    scratch = [("step0", 0, 0.1), ("step4", 4, 0.2), ("step30", 30, 0.5), ("final", 90, 0.85)]
    curves = pd.DataFrame(_curve_rows("s", "final", 1, points) + _curve_rows("scratch", "none", 1, scratch))
    finetune = curves[curves["point"] == "final"].drop(columns=["point", "step"])
    table = outcome_table(finetune, curves).set_index("outcome")["value"]
    assert table["test_acc"] == pytest.approx(0.8) and table["gain"] == pytest.approx(-0.05)
    assert table["early_acc"] == pytest.approx(0.5)  # default: the first point after step 0
    assert table["peak_gain"] == pytest.approx(0.3)  # at step4: 0.5 − 0.2
    assert outcome_table(finetune, curves, "step30").set_index("outcome")["value"]["early_acc"] == pytest.approx(0.7)
    assert set(table.index) == set(OUTCOMES)


def test_gain_against_one_architecture_s_baseline(tmp_path):
    """finetune.scratch_arch: finetune_tables marks every row with the baseline's architecture, so a VGG19 model's
    gain is against the VGG16 scratch run (thesis A), where it has no baseline without it."""
    import json

    from transferscope.tables import finetune_tables

    paths = []
    for source, arch, accs in (("s", "vgg16", (0.3, 0.6)), ("c", "vgg19", (0.2, 0.5)), ("scratch", "vgg16", (0.1, 0.4))):
        curve = [{"point": p, "step": step, "epoch": step / 2, "test_acc": acc}
                 for p, step, acc in zip(("step0", "final"), (0, 2), accs)]
        result = dict(target="t", source=source, arch=arch, seed=1, checkpoint="final", mode="full",
                      test_acc=accs[-1], curve=curve)
        paths.append(tmp_path / f"{source}.json")
        paths[-1].write_text(json.dumps(result))
    own = finetune_tables(paths, tmp_path / "a.csv", tmp_path / "b.csv")
    assert ("c", "gain") not in outcome_table(*own).set_index(["source", "outcome"]).index  # NaN rows are left out
    finetune, curves = finetune_tables(paths, tmp_path / "a.csv", tmp_path / "b.csv", scratch_arch="vgg16")
    assert set(pd.read_csv(tmp_path / "b.csv")["baseline_arch"]) == {"vgg16"}
    table = outcome_table(finetune, curves).set_index(["source", "outcome"])["value"]
    assert table[("c", "gain")] == pytest.approx(0.1) and table[("s", "gain")] == pytest.approx(0.2)
    assert table[("c", "peak_gain")] == pytest.approx(0.1)  # 0.2 − 0.1 at step0, 0.5 − 0.4 at final


def test_transfer_summary_is_seed_mean_and_sd():
    rows = [dict(target="t", source="s", arch="a", seed=seed, checkpoint="final", mode="full", outcome="auc",
                 value=v) for seed, v in [(1, 1.0), (2, 2.0), (3, 3.0)]]
    summary = transfer_summary(pd.DataFrame(rows)).iloc[0]
    assert summary["mean"] == pytest.approx(2.0) and summary["sd"] == pytest.approx(1.0) and summary["n"] == 3


@pytest.mark.parametrize("n, band", [(5, 1.0), (6, 0.886), (7, 0.786), (8, 0.738), (9, 0.700), (12, 0.574),
                                     (72, 0.232)])
def test_spearman_band_is_the_thesis_band(n, band):
    assert spearman_band(n) == pytest.approx(band, abs=6e-4)


def test_spearman_band_exact_quantile_matches_permutations():
    """For n = 6 the band value r has P(|ρ| ≥ r) ≤ 5 % and the next lower attainable value exceeds 5 %."""
    import itertools

    rho = np.array([stats.spearmanr(range(6), p).statistic for p in itertools.permutations(range(6))])
    r = spearman_band(6)
    assert np.mean(np.abs(rho) >= r - 1e-9) <= 0.05
    lower = np.max(np.abs(rho)[np.abs(rho) < r - 1e-9])
    assert np.mean(np.abs(rho) >= lower - 1e-9) > 0.05
    assert np.isnan(spearman_band(4))  # even |ρ| = 1 has probability 1/12 > 5 %


def _toy_tables():
    """4 sources × 2 checkpoints × 2 seeds; the metric orders the models exactly like the outcome, plus seed noise."""
    metrics, outcomes = [], []
    for i, source in enumerate("abcd"):
        for j, checkpoint in enumerate(("step0", "final")):
            for seed in (1, 2):
                truth = i + 4 * j
                keys = dict(target="t", source=source, arch="a", seed=seed, checkpoint=checkpoint)
                metrics.append({**keys, "layer": "fc1", "metric": "rsa", "value": truth + 0.3 * (seed - 1.5)})
                metrics.append({**keys, "layer": "fc1", "metric": "constant_rows", "value": 3.0})
                outcomes.append({**keys, "mode": "full", "outcome": "auc", "value": 10 * truth + seed})
    return pd.DataFrame(metrics), pd.DataFrame(outcomes)


def test_transferability_levels_on_seed_means():
    metrics, outcomes = _toy_tables()
    table = transferability_table(metrics, outcomes, n_boot=50)
    spearman = table[table["statistic"] == "spearman"].set_index(["level", "group"])
    assert "constant_rows" not in set(table["metric"])  # a diagnostic, never correlated
    overall = spearman.loc[("all", "")]
    assert overall["value"] == pytest.approx(1.0) and overall["n"] == 8 and bool(overall["significant"])
    assert overall["band"] == pytest.approx(spearman_band(8)) and overall["ci_low"] <= overall["ci_high"]
    assert overall["seed_min"] == pytest.approx(1.0) and overall["seed_sd"] == pytest.approx(0.0)
    for source in "abcd":
        assert spearman.loc[("per_source", source), "n"] == 2
    for checkpoint in ("step0", "final"):
        row = spearman.loc[("per_checkpoint", checkpoint)]
        assert row["n"] == 4 and row["value"] == pytest.approx(1.0) and not row["significant"]  # n = 4: no band
    assert spearman.loc[("per_seed_pooled", ""), "n"] == 16
    assert set(spearman.loc["per_seed"].index) == {1, 2}


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


def test_reference_comparison_puts_ours_next_to_theirs():
    from transferscope.analysis.reference import reference_comparison

    metrics, outcomes = _toy_tables()
    table = transferability_table(metrics, outcomes)
    reference = {"label": "toy thesis", "outcome": "auc", "level": "all",
                 "values": {"t": {"rsa": {"fc1": 0.8, "conv1": 0.5}}}}
    rows = reference_comparison(table, reference).set_index("layer")
    assert rows.loc["fc1", "ours"] == pytest.approx(1.0) and rows.loc["fc1", "reference"] == 0.8
    assert rows.loc["fc1", "same_sign"] is True and rows.loc["fc1", "n"] == 8
    assert np.isnan(rows.loc["conv1", "ours"]) and np.isnan(rows.loc["conv1", "same_sign"])  # no such layer here
    flipped = reference_comparison(table, {**reference, "values": {"t": {"rsa": {"fc1": -0.3}}}})
    assert not flipped["same_sign"].iloc[0]


def test_reference_markdown_table_reads_back_from_csv(tmp_path):
    from transferscope.analysis.reference import markdown_table, reference_comparison

    metrics, outcomes = _toy_tables()
    reference = {"outcome": "auc", "values": {"t": {"rsa": {"fc1": 0.8, "conv1": 0.5}}}}
    reference_comparison(transferability_table(metrics, outcomes), reference).to_csv(tmp_path / "c.csv", index=False)
    text = markdown_table(pd.read_csv(tmp_path / "c.csv"))
    assert "| metric | fc1 | conv1 |" in text and "| rsa | +1.00 / +0.80 ✓" in text and "n/a / +0.50 |" in text
    assert "Of 2 values (1 without a value of ours): same sign 1," in text
