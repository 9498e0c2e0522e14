"""Analyses along the ensemble members from saved outputs (transferscope.ensembles.trajectory): distances to member
1, member pairs, the subset (variance) study, checked on known answers; the tables of a synthetic study; and the
four figures that read them, drawn from those tables."""
import importlib
import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import onehot
from transferscope.ensembles import evaluate as ev
from transferscope.ensembles import trajectory as tr
from transferscope.io import write_npz
from transferscope.models import build_model, layer_names, stage_taps

LABELS = np.array([0, 1, 2, 0, 1])


# --- feature distances -----------------------------------------------------------------------------------------

def test_identical_features_are_at_distance_zero_by_every_measure():
    x = np.random.default_rng(0).normal(size=(20, 6))
    d = tr.feature_distances(x, x.copy(), tr.subsample(20, 12, seed=0), tr.subsample(20, 15, seed=0, purpose="ot"))
    assert list(d) == list(tr.FEATURE_MEASURES)
    assert d == {"feature_mse": 0.0, "feature_rtd": 0.0, "feature_wasserstein": 0.0}


def test_mse_and_wasserstein_by_hand():
    # points {0, 0} against {3, 1}: MSE (9 + 1) / 2 = 5; W1 = (3 + 1) / 2 whichever point goes where
    d = tr.feature_distances(np.array([[0.0], [0.0]]), np.array([[3.0], [1.0]]), ot_index=np.arange(2))
    assert d == {"feature_mse": pytest.approx(5.0), "feature_wasserstein": pytest.approx(2.0)}  # no RTD without index
    assert list(tr.feature_distances(np.zeros((2, 1)), np.ones((2, 1)))) == ["feature_mse"]  # no W1 without index
    # a permutation of the samples: W1 0 (it ignores which image a point belongs to), MSE not
    x = np.arange(8.0).reshape(4, 2)
    permuted = tr.feature_distances(x, x[::-1], ot_index=np.arange(4))
    assert permuted["feature_wasserstein"] == pytest.approx(0.0) and permuted["feature_mse"] > 0


def test_point_cloud_w1_is_the_transport_distance_not_the_pooled_1d_one():
    from scipy.stats import wasserstein_distance

    x = np.random.default_rng(4).normal(size=(30, 5))
    assert tr.point_cloud_w1(x, x.copy()) == 0.0
    v = np.array([3.0, -4.0, 0.0, 12.0, 0.0])  # ‖v‖ = 13
    assert tr.point_cloud_w1(x, x + v) == pytest.approx(13.0, abs=1e-9)
    assert tr.point_cloud_w1(x + v, x) == pytest.approx(13.0, abs=1e-9)
    # the former measure, a 1-D distance between the raveled values, sees per-coordinate shifts, not the vector
    pooled = wasserstein_distance(x.ravel(), (x + v).ravel())
    assert abs(pooled - 13.0) > 1.0
    # W1 is the best of all n! assignments of equal-weight points: brute force on 6 points in the plane
    a, b = np.random.default_rng(5).normal(size=(2, 6, 2))
    best = min(np.mean(np.linalg.norm(a - b[list(p)], axis=1)) for p in itertools.permutations(range(6)))
    assert tr.point_cloud_w1(a, b) == pytest.approx(best, abs=1e-12)
    with pytest.raises(ValueError):
        tr.point_cloud_w1(a, b[:5])


def test_output_mse_and_the_layer_outputs_of_a_member_file():
    a, b = np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[1.0, 1.0], [2.0, 1.0]])
    assert tr.output_mse(a, b) == pytest.approx((1 + 0 + 0 + 4) / 4)
    member = {"probs": None, "features": b, "stage_stage2": a, "stage_stem": a + 1, "stage_other": a}
    outputs = tr.layer_outputs(member, ("stem", "stage1", "stage2"))
    assert list(outputs) == ["stem", "stage2", "pool"]  # the taps' order, those the file holds, then pool
    assert outputs["pool"] is b and outputs["stem"] is member["stage_stem"]
    assert list(tr.layer_outputs({"features": b}, ("stem",))) == ["pool"]  # a file written before stage outputs
    rows = tr.member_distances({"stem": a, "pool": a}, {"stem": b, "pool": a}, None, np.arange(2))
    assert rows == [("feature_mse", "pool", 0.0), ("feature_wasserstein", "pool", 0.0),
                    ("output_mse", "stem", pytest.approx(1.25)), ("output_mse", "pool", 0.0)]


def test_rtd_ignores_scale_but_sees_a_changed_geometry():
    x = np.random.default_rng(1).normal(size=(30, 5))
    index = tr.subsample(30, 15, seed=3)
    assert tr.feature_distances(x, 3 * x, index)["feature_rtd"] == pytest.approx(0.0, abs=1e-9)
    other = np.random.default_rng(2).normal(size=(30, 5))
    assert tr.feature_distances(x, other, index)["feature_rtd"] > 0.05


def test_rtd_subsample_is_fixed_sorted_and_whole_when_small():
    a, b = tr.subsample(100, 10, seed=0), tr.subsample(100, 10, seed=0)
    assert np.array_equal(a, b) and np.all(np.diff(a) > 0) and len(a) == 10
    assert not np.array_equal(a, tr.subsample(100, 10, seed=1))
    assert np.array_equal(tr.subsample(7, 10, seed=0), np.arange(7))
    assert tr.subsample(100, None, seed=0) is None
    assert not np.array_equal(a, tr.subsample(100, 10, seed=0, purpose="ot"))  # each measure its own subsample


# --- weights ---------------------------------------------------------------------------------------------------

def small_resnet_state(seed):
    torch.manual_seed(seed)
    model = build_model("small_resnet", n_classes=3, in_channels=1, image_size=8)
    for module in model.modules():  # BatchNorm statistics that differ between members: they must be left out
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
    return model.state_dict()


def test_layer_of_takes_the_first_dotted_prefix():
    layers = ("stem", "stage1", "stage10", "fc")
    assert tr.layer_of("stage1.0.conv1.weight", layers) == "stage1"
    assert tr.layer_of("stage10.bias", layers) == "stage10"  # not stage1: a prefix must end at a dot
    assert tr.layer_of("fc", layers) == "fc"
    assert tr.layer_of("classifier.6.weight", layers) == tr.OTHER_LAYER


def test_stage_distances_split_the_total_weight_distance():
    layers = layer_names("small_resnet")
    a, b = small_resnet_state(0), small_resnet_state(1)
    va, vb = tr.stage_vectors(a, layers), tr.stage_vectors(b, layers)
    assert list(va) == list(layers)  # every parameter belongs to a layer of the small ResNet, in forward order
    assert sum(v.size for v in va.values()) == ev.weight_vector(a).size  # BatchNorm buffers left out
    d = tr.stage_weight_distances(va, vb)
    total = np.linalg.norm(ev.weight_vector(a) - ev.weight_vector(b))  # ensembles.csv's dist_weights
    assert d["all"]["weight_l2"] == pytest.approx(total)
    assert sum(d[layer]["weight_l2"] ** 2 for layer in layers) == pytest.approx(total ** 2)
    assert d["fc"]["weight_mse"] == pytest.approx(np.mean((vb["fc"] - va["fc"]) ** 2))
    assert all(v == {"weight_l2": 0.0, "weight_mse": 0.0} for v in tr.stage_weight_distances(va, va).values())


def test_cosine():
    assert tr.cosine([1.0, 0.0], [0.0, 2.0]) == 0.0
    assert tr.cosine([1.0, 2.0], [2.0, 4.0]) == pytest.approx(1.0)
    assert tr.cosine([1.0, 2.0], [-1.0, -2.0]) == pytest.approx(-1.0)
    assert np.isnan(tr.cosine([0.0, 0.0], [1.0, 1.0]))


# --- pairs -----------------------------------------------------------------------------------------------------

def test_pairs_of_identical_members_have_no_diversity_and_cosine_one():
    probs = onehot([0, 1, 1, 0, 1])
    w = np.array([1.0, -2.0, 3.0])
    rows = tr.pair_table([probs, probs, probs], LABELS, [w, w, w])
    assert [(a, b) for a, b, _, _ in rows] == [(1, 2), (1, 3), (2, 3)]
    assert all(div == 0.0 and cos == pytest.approx(1.0) for _, _, div, cos in rows)


def test_pair_diversity_by_hand_is_evaluate_s_disagreement():
    members = [onehot([0, 1, 2, 0, 0]), onehot([0, 1, 1, 1, 1]), onehot([0, 1, 2, 0, 1])]
    rows = tr.pair_table(members, LABELS)
    assert [div for _, _, div, _ in rows] == pytest.approx([150.0, 100.0, 100.0])  # see test_ensembles_evaluate
    assert np.mean([div for _, _, div, _ in rows]) == pytest.approx(ev.diversity(members, LABELS))
    assert all(np.isnan(cos) for _, _, _, cos in rows)


def test_spearman():
    assert tr.spearman([1, 2, 3, 4], [10, 20, 25, 100]) == pytest.approx(1.0)
    assert tr.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(tr.spearman([1, 2], [1, 2]))  # too few pairs
    assert np.isnan(tr.spearman([1, 2, 3], [5, 5, 5]))  # a constant side
    assert tr.spearman([1, 2, 3, np.nan], [1, 2, 3, 0]) == pytest.approx(1.0)  # missing values left out


def test_pearson_by_hand():
    # x = 1, 2, 3; y = 1, 3, 2: deviations (−1, 0, 1) and (−1, 1, 0): r = 1 / √(2 · 2) = 0.5
    assert tr.pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert tr.pearson([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(1.0)
    assert tr.pearson([1, 2, 3, 4], [10, 20, 25, 100]) < tr.spearman([1, 2, 3, 4], [10, 20, 25, 100])  # linear only
    assert np.isnan(tr.pearson([1, 2], [1, 2])) and np.isnan(tr.pearson([1, 2, 3], [5, 5, 5]))
    assert tr.pearson([1, 2, 3, np.nan], [1, 3, 2, 0]) == pytest.approx(0.5)


# --- the variance study ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_members, k", [(5, 1), (5, 2), (5, 3), (5, 5), (15, 5)])
def test_subsets_keep_member1_and_are_all_of_them_under_the_cap(n_members, k):
    chosen, exhaustive = tr.subsets(n_members, k, keep_first=True, max_subsets=5000, seed=0)
    assert exhaustive and len(chosen) == math.comb(n_members - 1, k - 1) == len(set(chosen))
    assert all(s[0] == 0 and len(s) == k and list(s) == sorted(s) for s in chosen)
    chosen, exhaustive = tr.subsets(n_members, k, keep_first=False, max_subsets=5000, seed=0)
    assert exhaustive and len(chosen) == math.comb(n_members, k) == len(set(chosen))


def test_subsets_above_the_cap_are_a_seeded_sample_of_distinct_subsets():
    chosen, exhaustive = tr.subsets(15, 5, keep_first=True, max_subsets=100, seed=7)  # C(14, 4) = 1001 > 100
    assert not exhaustive and len(chosen) == len(set(chosen)) == 100
    assert all(s[0] == 0 and len(s) == 5 and len(set(s)) == 5 for s in chosen)
    assert chosen == tr.subsets(15, 5, keep_first=True, max_subsets=100, seed=7)[0]
    assert chosen != tr.subsets(15, 5, keep_first=True, max_subsets=100, seed=8)[0]
    with pytest.raises(ValueError):
        tr.subsets(5, 6, keep_first=True, max_subsets=10, seed=0)


@pytest.mark.parametrize("method, keeps", [("sse", True), ("starsse", True), ("sse_mse[beta=5]", True),
                                           ("starsse_freeze-stage1", True), ("local_de", False),
                                           ("global_de", False)])
def test_member1_is_kept_for_the_cycle_methods_only(method, keeps):
    assert tr.keeps_member1(method) is keeps
    assert tr.is_cycle_method(method) is keeps


@pytest.mark.parametrize("method, base", [("starsse[members=15]", "starsse"), ("sse_mse[beta=5]", "sse_mse"),
                                          ("starsse_freeze-stage1", "starsse_freeze"),
                                          ("starsse_freeze[bn_frozen=false]-layer2", "starsse_freeze"),
                                          ("local_de[members=15]", "local_de"), ("first", None), ("mystery", None)])
def test_base_method_of_variant_labels(method, base):
    assert tr.base_method(method) == base
    assert tr.is_cycle_method(method) is (base is not None and base not in ("local_de", "global_de"))


def test_subset_accuracies_by_hand():
    right, wrong = onehot([0, 1, 2, 0, 1]), onehot([1, 2, 0, 1, 2])
    half = np.full((5, 3), 1 / 3)
    half[:, 0] += 0.01  # a member voting class 0 everywhere, weakly
    members = [right, wrong, half]
    accs = tr.subset_accuracies(members, LABELS, [(0,), (1,), (0, 2), (1, 2), (0, 1, 2)])
    # right+half: argmax follows right (1 + 1/3 > 1/3 + 0.01); wrong+half: wrong; all three: right and wrong tie,
    # half breaks it towards class 0 where one of them says 0
    assert accs[:4] == pytest.approx([1.0, 0.0, 1.0, 0.0])
    assert accs[4] == pytest.approx(ev.accuracy(ev.ensemble_probs(members), LABELS))
    s = tr.summarise(np.array([0.1, 0.2, 0.3, 0.4]))
    assert s["mean_acc"] == pytest.approx(0.25) and s["sd_acc"] == pytest.approx(np.std([0.1, 0.2, 0.3, 0.4]))
    assert (s["min_acc"], s["median_acc"], s["max_acc"]) == pytest.approx((0.1, 0.25, 0.4))


# --- the tables of a synthetic study ---------------------------------------------------------------------------

K, N = 4, 24
STAGE_WIDTHS = {"stem": 16, "stage1": 16, "stage2": 32, "stage3": 64}  # the small ResNet's stage outputs, pooled


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Two runs of one seed sharing member 1 (sse: members drift away; local_de: independent members), written as
    the member jobs write them; returns the runs and the tables."""
    tmp = tmp_path_factory.mktemp("study")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, N)
    base_features = rng.normal(size=(N, 8))
    base_stages = {tap: rng.normal(size=(N, width)) for tap, width in STAGE_WIDTHS.items()}
    base_state = small_resnet_state(0)

    def member(name, drift):
        probs = rng.dirichlet(np.ones(3), size=N) * 0.7 + 0.3 * onehot(labels)  # mostly right
        state = {k: v + drift * torch.randn_like(v) if v.is_floating_point() else v for k, v in base_state.items()}
        npz, pt = tmp / f"{name}.npz", tmp / f"{name}.pt"
        stages = {f"stage_{tap}": (value + drift * rng.normal(size=value.shape)).astype(np.float32)
                  for tap, value in base_stages.items()}
        write_npz(npz, probs=probs.astype(np.float32), labels=labels,
                  features=(base_features + drift * rng.normal(size=(N, 8))).astype(np.float32), **stages,
                  info=np.array(json.dumps({"seconds": 1.0})))
        torch.save({"state_dict": state}, pt)
        return str(npz), str(pt)

    first = member("first", 0.0)
    sse = [first] + [member(f"sse{k}", 0.1 * k) for k in range(2, K + 1)]
    de = [first] + [member(f"de{k}", 0.3) for k in range(2, K + 1)]
    runs = [{"target": "t", "source": "s", "arch": "small_resnet", "seed": 1, "replicate": 1, "method": method,
             "probs": [m[0] for m in members], "weights": [m[1] for m in members]}
            for method, members in (("local_de", de), ("sse", sse))]  # a run after a Deep Ensemble's, as in the DAG
    return runs, tr.build_tables(runs, rtd_points=12, seed=0, max_subsets=2)


def test_distances_table(study):
    runs, tables = study
    d = tables["distances"]
    assert list(d.columns) == tr.DISTANCE_COLUMNS
    assert set(d["measure"]) == set(tr.FEATURE_MEASURES) | {tr.OUTPUT_MEASURE} | set(tr.WEIGHT_MEASURES)
    assert set(d.loc[d["measure"].str.startswith("feature"), "layer"]) == {"pool"}
    assert list(dict.fromkeys(d.loc[d["measure"] == "output_mse", "layer"])) == [*stage_taps("small_resnet"), "pool"]
    assert set(d.loc[d["measure"] == "weight_l2", "layer"]) == {*layer_names("small_resnet"), "all"}
    assert (d.loc[d["k"] == 1, "value"] == 0).all()
    assert len(d[(d["method"] == "sse") & (d["measure"] == "output_mse")]) == K * (len(STAGE_WIDTHS) + 1)
    sse = d[(d["method"] == "sse") & (d["layer"].isin(["pool", "all"]))].pivot_table(index="k", columns="measure",
                                                                                      values="value")
    assert sse["feature_mse"].is_monotonic_increasing and sse["weight_l2"].is_monotonic_increasing
    assert (sse["output_mse"] == sse["feature_mse"]).all()  # the pooled features are the last output
    # the same numbers as ensembles.csv's distances
    table = ev.build_table(runs).set_index(["method", "k", "metric"])["value"]
    assert sse.loc[3, "feature_mse"] == pytest.approx(table[("sse", 3, "dist_features")], rel=1e-6)
    assert sse.loc[3, "weight_l2"] == pytest.approx(table[("sse", 3, "dist_weights")])
    # a stage's output MSE by hand from the two files
    first, third = (ev.read_member_probs(runs[1]["probs"][i]) for i in (0, 2))
    by_hand = np.mean((third["stage_stage2"].astype(np.float64) - first["stage_stage2"]) ** 2)
    rows = d[(d["method"] == "sse") & (d["k"] == 3) & (d["measure"] == "output_mse") & (d["layer"] == "stage2")]
    assert rows["value"].item() == pytest.approx(by_hand)
    # W1 between the point clouds of all N = 24 test images (ot_points 200 ≥ N)
    w1 = d[(d["method"] == "sse") & (d["k"] == 3) & (d["measure"] == "feature_wasserstein")]["value"].item()
    assert w1 == pytest.approx(tr.point_cloud_w1(first["features"], third["features"]))


def test_a_smaller_ot_subsample_and_no_wasserstein(study):
    runs, _ = study
    d = tr.build_tables(runs[1:], rtd_points=None, ot_points=5)["distances"]
    w1 = d[(d["k"] == 3) & (d["measure"] == "feature_wasserstein")]["value"].item()
    first, third = (ev.read_member_probs(runs[1]["probs"][i]) for i in (0, 2))
    index = tr.subsample(N, 5, seed=0, purpose="ot")
    assert len(index) == 5 and w1 == pytest.approx(tr.point_cloud_w1(first["features"][index],
                                                                      third["features"][index]))
    d = tr.build_tables(runs[1:], rtd_points=None, ot_points=None)["distances"]
    assert set(d.loc[d["measure"].str.startswith("feature"), "measure"]) == {"feature_mse"}


def test_pairs_and_correlations_tables(study):
    _, tables = study
    pairs, rho = tables["pairs"], tables["correlations"]
    assert list(pairs.columns) == tr.PAIR_COLUMNS and len(pairs) == 2 * math.comb(K, 2)
    assert (pairs["with_member1"] == (pairs["a"] == 1)).all()
    assert pairs["weight_cosine"].between(-1, 1 + 1e-12).all() and (pairs["diversity"] >= 0).all()
    assert list(rho.columns) == tr.CORRELATION_COLUMNS
    assert sorted(rho["scope"]) == sorted(["run", "run_with_member1", "run_without_member1"] * 2
                                          + ["method"] * 2 + ["cycle_methods", "all"])
    assert set(rho["scope"]) == set(tr.SCOPES)
    pooled = rho[rho["scope"] == "all"].iloc[0]
    assert pooled["method"] == tr.POOLED and pooled["pairs"] == 2 * math.comb(K, 2)  # no pair shared by both runs
    cycle = rho[rho["scope"] == "cycle_methods"].iloc[0]
    assert cycle["method"] == tr.CYCLE_POOLED and cycle["pairs"] == math.comb(K, 2)  # sse's pairs, not local_de's
    sse = pairs[pairs["method"] == "sse"]
    assert cycle["spearman"] == pytest.approx(tr.spearman(sse["weight_cosine"], sse["diversity"]), nan_ok=True)
    assert cycle["pearson"] == pytest.approx(tr.pearson(sse["weight_cosine"], sse["diversity"]), nan_ok=True)
    run = rho[rho["method"] == "sse"].set_index("scope")
    assert run.loc["run", "spearman"] == pytest.approx(tr.spearman(sse["weight_cosine"], sse["diversity"]),
                                                       nan_ok=True)
    assert run.loc["run", "pearson"] == pytest.approx(np.corrcoef(sse["weight_cosine"], sse["diversity"])[0, 1])
    # K members: K − 1 pairs with member 1, C(K − 1, 2) without it
    assert run.loc["run_with_member1", "pairs"] == K - 1 == 3
    assert run.loc["run_without_member1", "pairs"] == math.comb(K - 1, 2) == 3
    with_first = sse[sse["with_member1"]]
    assert run.loc["run_with_member1", "pearson"] == pytest.approx(
        tr.pearson(with_first["weight_cosine"], with_first["diversity"]), nan_ok=True)
    assert (run.loc[["run", "run_with_member1", "run_without_member1"], "seed"] == 1).all()


def test_pooled_scopes_count_a_shared_pair_once_and_leave_out_deep_ensembles():
    pairs = pd.DataFrame([{"target": "t", "source": "s", "arch": "a", "seed": 1, "replicate": 1, "method": m,
                           "a": 1, "b": 2, "with_member1": True, "diversity": 1.0, "weight_cosine": 0.5}
                          for m in ("sse", "starsse", "local_de")])
    unique = {("t", "s", "a", "m1", "star2"): (1.0, 0.5, True), ("t", "s", "a", "m1", "de2"): (2.0, 0.1, False)}
    rho = tr.correlations(pairs, unique).set_index("scope")
    assert rho.loc["cycle_methods", "pairs"] == 1 and rho.loc["all", "pairs"] == 2
    assert (rho.loc["run_without_member1", "pairs"] == 0).all()
    assert rho["spearman"].isna().all() and rho["pearson"].isna().all()  # fewer than 3 pairs everywhere


def test_subsets_table(study):
    runs, tables = study
    s = tables["subsets"].set_index(["method", "k"])
    assert list(tables["subsets"].columns) == tr.SUBSET_COLUMNS
    # sse keeps member 1: C(3, k-1) subsets; local_de: C(4, k); capped at max_subsets = 2 with a sample
    assert [s.loc[("sse", k), "subsets"] for k in range(1, K + 1)] == [1, 2, 2, 1]
    assert [s.loc[("sse", k), "exhaustive"] for k in range(1, K + 1)] == [True, False, False, True]
    assert [s.loc[("local_de", k), "subsets"] for k in range(1, K + 1)] == [2, 2, 2, 1]
    assert bool(s.loc[("sse", 2), "keeps_member1"]) and not bool(s.loc[("local_de", 2), "keeps_member1"])
    table = ev.build_table(runs).set_index(["method", "k", "metric"])["value"]
    for method in ("sse", "local_de"):
        full = s.loc[(method, K)]
        assert full["mean_acc"] == full["min_acc"] == full["max_acc"] == full["first_k_acc"]
        assert full["first_k_acc"] == pytest.approx(table[(method, K, "ens_acc")])
        assert full["sd_acc"] == 0.0
    assert s.loc[("sse", 1), "mean_acc"] == pytest.approx(table[("sse", 1, "member_acc")])  # member 1 alone
    assert (s["min_acc"] <= s["mean_acc"] + 1e-12).all() and (s["mean_acc"] <= s["max_acc"] + 1e-12).all()


def test_shared_files_are_read_once(study, monkeypatch):
    runs, _ = study
    calls = []
    real = tr.read_member_probs
    monkeypatch.setattr(tr, "read_member_probs", lambda path: calls.append(path) or real(path))
    tr.build_tables(runs, rtd_points=None)
    assert len(calls) == len(set(calls)) == 2 * K - 1  # member 1 is shared by both runs


# --- the figures -----------------------------------------------------------------------------------------------

FIGURES = {
    "ensemble_trajectory": lambda t: {"table": t["ensembles"], "distances": t["distances"]},
    "ensemble_stage_distances": lambda t: {"distances": t["distances"]},
    "ensemble_stage_outputs": lambda t: {"distances": t["distances"]},
    "ensemble_cosine_diversity": lambda t: {"pairs": t["pairs"], "correlations": t["correlations"]},
    "ensemble_subsets": lambda t: {"subsets": t["subsets"]},
}


@pytest.fixture(scope="module")
def table_files(study, tmp_path_factory):
    runs, tables = study
    tmp = tmp_path_factory.mktemp("tables")
    files = {"ensembles": str(tmp / "ensembles.csv")}
    ev.build_table(runs).to_csv(files["ensembles"], index=False)
    for name, frame in tables.items():
        files[name] = str(tmp / f"{name}.csv")
        frame.to_csv(files[name], index=False)
    return files


@pytest.mark.parametrize("name", FIGURES)
def test_figure_draws_from_the_tables(name, table_files, tmp_path, monkeypatch):
    module = importlib.import_module(f"transferscope.plots.{name}")
    drawn = {}
    real_save = module.save
    monkeypatch.setattr(module, "save", lambda fig, out, style: (drawn.setdefault("fig", fig),
                                                                 real_save(fig, out, style)))
    out = tmp_path / f"{name}.png"
    module.draw(**FIGURES[name](table_files), out=str(out), style={"dpi": 50})
    assert out.stat().st_size > 5_000
    axes = [ax for ax in drawn["fig"].axes if ax.get_label() != "<colorbar>"]
    if name == "ensemble_trajectory":
        # feature MSE, RTD, Wasserstein, then the weight MSE of each stage; one point per member of sse only
        # (local_de is not a trajectory), coloured by k with a colour bar
        stages = stage_taps("small_resnet")
        assert len(axes) == 3 + len(stages) and len(drawn["fig"].axes) == len(axes) + 1
        assert all(len(ax.collections) == 1 for ax in axes)
        assert [len(ax.collections[0].get_offsets()) for ax in axes] == [K] * 3 + [K - 1] * len(stages)
        assert list(axes[0].collections[0].get_array()) == list(range(1, K + 1))  # the colour is the index k
        assert [ax.get_xscale() for ax in axes] == ["linear"] * 3 + ["log"] * len(stages)
        assert all(stage in ax.get_title() for ax, stage in zip(axes[3:], stages))
    elif name == "ensemble_stage_distances":  # one panel per layer, log scale, both methods
        assert len(axes) == len(layer_names("small_resnet"))
        assert all(ax.get_yscale() == "log" and len(ax.lines) == 2 for ax in axes)
    elif name == "ensemble_stage_outputs":  # one panel per stage and pool, log scale, both methods
        assert [ax.get_title().split(": ")[1] for ax in axes] == [*stage_taps("small_resnet"), "pool"]
        assert all(ax.get_yscale() == "log" and len(ax.lines) == 2 for ax in axes)
    elif name == "ensemble_cosine_diversity":  # per method: pairs with member 1 and the others apart
        (ax,) = axes
        assert len(ax.collections) == 4 and {c.get_offsets().shape[0] for c in ax.collections} == {K - 1}
        assert "ρ" in ax.get_title() and "r " in ax.get_title() and "with member 1" in ax.get_title()
    else:  # k = 2 and 3 have more than one subset: two panels, one box per method and run
        assert len(axes) == 2 and all(len(ax.patches) == 2 for ax in axes)


@pytest.mark.parametrize("method", ["sse", "starsse[members=15]", "sse_mse[beta=5]", "starsse_freeze-stage1",
                                    "local_de", "global_de[members=15]", "first"])
def test_the_figures_name_the_table_values_as_the_tables_do(method):
    # plots build on the base only (test_layers): they repeat a few of the tables' names, kept equal here
    from transferscope.ensembles.plan import METHODS
    from transferscope.plots import ensemble_cosine_diversity, ensemble_trajectory

    assert set(ensemble_trajectory.CYCLE_METHODS) == {name for name in METHODS if tr.is_cycle_method(name)}
    assert ensemble_trajectory.is_cycle_method(method) is tr.is_cycle_method(method)
    assert (ensemble_cosine_diversity.CYCLE_POOLED, ensemble_cosine_diversity.POOLED) == (tr.CYCLE_POOLED, tr.POOLED)
    assert ensemble_trajectory.KEYS == tr.KEYS and ensemble_trajectory.FEATURE_LAYER == tr.FEATURE_LAYER
    assert [m for m, _ in ensemble_trajectory.FEATURE_PANELS] == list(tr.FEATURE_MEASURES)


def test_subset_panels_are_spread_over_the_sizes():
    from transferscope.plots.ensemble_subsets import sizes

    frame = pd.DataFrame({"k": range(1, 16), "subsets": [15] + [10] * 13 + [1]})  # k = 1: single members
    assert sizes(frame) == [2, 6, 10, 14]
    assert sizes(frame[frame["k"] <= 4]) == [2, 3, 4]
    assert sizes(frame.assign(subsets=1)) == []


def test_every_new_figure_is_in_the_figure_table():
    from transferscope.plots.figures import FIGURES as TABLE

    rows = {fig.name: fig for fig in TABLE}
    for name in FIGURES:
        assert rows[name].when == "ensembles" and rows[name].category == "Ensembles"
    assert set(itertools.chain.from_iterable(rows[n].inputs.values() for n in FIGURES)) == {
        "ensembles.csv", "ensemble_distances.csv", "ensemble_pairs.csv", "ensemble_pair_correlations.csv",
        "ensemble_subsets.csv"}
