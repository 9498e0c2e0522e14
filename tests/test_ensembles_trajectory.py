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
from transferscope.models import build_model, layer_names

LABELS = np.array([0, 1, 2, 0, 1])


# --- feature distances -----------------------------------------------------------------------------------------

def test_identical_features_are_at_distance_zero_by_every_measure():
    x = np.random.default_rng(0).normal(size=(20, 6))
    d = tr.feature_distances(x, x.copy(), tr.subsample(20, 12, seed=0))
    assert list(d) == list(tr.FEATURE_MEASURES)
    assert d == {"feature_mse": 0.0, "feature_rtd": 0.0, "feature_wasserstein": 0.0}


def test_mse_and_wasserstein_by_hand():
    # values {0, 0} against {3, 1}: MSE (9 + 1) / 2 = 5; W1 between the two empirical distributions = (3 + 1) / 2
    d = tr.feature_distances(np.array([[0.0], [0.0]]), np.array([[3.0], [1.0]]))
    assert d == {"feature_mse": pytest.approx(5.0), "feature_wasserstein": pytest.approx(2.0)}  # no RTD without index
    # a shift by 1 of every value: MSE 1 and W1 1; a permutation of the samples: W1 0 (it ignores the pairing), MSE not
    x = np.arange(8.0).reshape(4, 2)
    assert tr.feature_distances(x, x + 1) == {"feature_mse": pytest.approx(1.0),
                                              "feature_wasserstein": pytest.approx(1.0)}
    permuted = tr.feature_distances(x, x[::-1])
    assert permuted["feature_wasserstein"] == pytest.approx(0.0) and permuted["feature_mse"] > 0


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


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Two runs of one seed sharing member 1 (sse: members drift away; local_de: independent members), written as
    the member jobs write them; returns the runs and the tables."""
    tmp = tmp_path_factory.mktemp("study")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, N)
    base_features = rng.normal(size=(N, 8))
    base_state = small_resnet_state(0)

    def member(name, drift):
        probs = rng.dirichlet(np.ones(3), size=N) * 0.7 + 0.3 * onehot(labels)  # mostly right
        state = {k: v + drift * torch.randn_like(v) if v.is_floating_point() else v for k, v in base_state.items()}
        npz, pt = tmp / f"{name}.npz", tmp / f"{name}.pt"
        write_npz(npz, probs=probs.astype(np.float32), labels=labels,
                  features=(base_features + drift * rng.normal(size=(N, 8))).astype(np.float32),
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
    assert set(d["measure"]) == set(tr.FEATURE_MEASURES) | set(tr.WEIGHT_MEASURES)
    assert set(d.loc[d["measure"].str.startswith("feature"), "layer"]) == {"pool"}
    assert set(d.loc[d["measure"] == "weight_l2", "layer"]) == {*layer_names("small_resnet"), "all"}
    assert (d.loc[d["k"] == 1, "value"] == 0).all()
    sse = d[(d["method"] == "sse") & (d["layer"].isin(["pool", "all"]))].pivot_table(index="k", columns="measure",
                                                                                      values="value")
    assert sse["feature_mse"].is_monotonic_increasing and sse["weight_l2"].is_monotonic_increasing
    # the same numbers as ensembles.csv's distances
    table = ev.build_table(runs).set_index(["method", "k", "metric"])["value"]
    assert sse.loc[3, "feature_mse"] == pytest.approx(table[("sse", 3, "dist_features")], rel=1e-6)
    assert sse.loc[3, "weight_l2"] == pytest.approx(table[("sse", 3, "dist_weights")])


def test_pairs_and_correlations_tables(study):
    _, tables = study
    pairs, rho = tables["pairs"], tables["correlations"]
    assert list(pairs.columns) == tr.PAIR_COLUMNS and len(pairs) == 2 * math.comb(K, 2)
    assert pairs["weight_cosine"].between(-1, 1 + 1e-12).all() and (pairs["diversity"] >= 0).all()
    assert list(rho.columns) == tr.CORRELATION_COLUMNS
    assert sorted(rho["scope"]) == ["all", "method", "method", "run", "run"]
    pooled = rho[rho["scope"] == "all"].iloc[0]
    assert pooled["method"] == tr.POOLED and pooled["pairs"] == 2 * math.comb(K, 2)  # no pair shared by both runs
    sse = pairs[pairs["method"] == "sse"]
    assert rho[(rho["scope"] == "run") & (rho["method"] == "sse")]["spearman"].iloc[0] == pytest.approx(
        tr.spearman(sse["weight_cosine"], sse["diversity"]), nan_ok=True)


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
    axes = drawn["fig"].axes
    if name == "ensemble_trajectory":  # MSE, RTD, Wasserstein, weights; sse drawn (local_de is not a trajectory)
        assert len(axes) == 4 and all(len(ax.lines) == 1 for ax in axes)
    elif name == "ensemble_stage_distances":  # one panel per layer, log scale, both methods
        assert len(axes) == len(layer_names("small_resnet"))
        assert all(ax.get_yscale() == "log" and len(ax.lines) == 2 for ax in axes)
    elif name == "ensemble_cosine_diversity":
        (ax,) = axes
        assert len(ax.collections) == 2 and "ρ" in ax.get_title()
    else:  # k = 2 and 3 have more than one subset: two panels, one box per method and run
        assert len(axes) == 2 and all(len(ax.patches) == 2 for ax in axes)


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
