"""Thesis B's variance study (transferscope.ensembles.variance): subset metrics checked against hand computations
and member files read back, the best / worst 5 % groups, the separability of two synthetic clouds, and the figure
drawn from the tables (and from empty ones)."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from conftest import onehot
from transferscope.ensembles import evaluate as ev
from transferscope.ensembles import trajectory as tr
from transferscope.ensembles import variance as va

STARSSE, LOCAL_DE = "starsse[members=15]", "local_de[members=15]"


def _write_members(directory, prefix, n_members, rng, n=60, classes=5):
    """Paths of ``n_members`` npz files of random probabilities (N×C, a shared label vector)."""
    labels = np.random.default_rng(99).integers(0, classes, n)
    paths = []
    for k in range(1, n_members + 1):
        # a bias towards the true class so members are better than chance yet differ from each other
        probs = rng.dirichlet(np.ones(classes), n) + 0.6 * np.eye(classes)[labels] * rng.random((n, 1))
        probs /= probs.sum(1, keepdims=True)
        path = directory / f"{prefix}_member{k}.npz"
        np.savez(path, probs=probs, labels=labels, info=json.dumps({"seconds": 1.0}))
        paths.append(str(path))
    return paths


def _run(method, paths, seed=0):
    return {"target": "toy", "source": "src", "arch": "cnn", "seed": seed, "replicate": 1, "method": method,
            "probs": paths, "weights": []}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    directory = tmp_path_factory.mktemp("variance")
    rng = np.random.default_rng(0)
    star = _write_members(directory, "star", 15, rng)
    de = [star[0]] + _write_members(directory, "de", 14, rng)  # runs may share member 1's file
    short = _write_members(directory, "short", 5, rng)  # no more members than the subset size: skipped
    runs = [_run(STARSSE, star), _run(LOCAL_DE, de), _run(STARSSE, short, seed=1)]
    return {"runs": runs, "tables": va.build_variance(runs, subset_size=5), "dir": directory}


# --- (a) build_variance against the member files --------------------------------------------------------------

def test_method_names_keep_member1_as_the_text_did():
    assert tr.keeps_member1(STARSSE) is True and tr.keeps_member1(LOCAL_DE) is False


def test_subset_counts_and_member1(study):
    subsets = study["tables"]["subsets"]
    assert list(subsets.columns) == va.SUBSET_COLUMNS
    assert set(subsets["seed"]) == {0}  # the 5-member run is skipped
    star = subsets[subsets["method"] == STARSSE]
    de = subsets[subsets["method"] == LOCAL_DE]
    assert len(star) == math.comb(14, 4) == 1001 and star["subset"].is_unique
    assert len(de) == math.comb(15, 5) == 3003 and de["subset"].is_unique
    assert star["subset"].str.split("-").map(lambda s: s[0] == "1" and len(s) == 5).all()
    assert (~de["subset"].str.startswith("1-")).sum() == math.comb(14, 5)
    assert star["exhaustive"].all() and de["exhaustive"].all()
    assert (subsets["members"] == 15).all() and (subsets["subset_size"] == 5).all()


def test_one_subset_by_hand_from_the_npz_files(study):
    de = study["tables"]["subsets"].query("method == @LOCAL_DE").set_index("subset")
    paths = study["runs"][1]["probs"]
    for label in ("2-5-9-11-15", "1-2-3-4-5"):
        members = [np.load(paths[int(i) - 1]) for i in label.split("-")]
        labels = members[0]["labels"]
        mean = np.mean([m["probs"] for m in members], axis=0)
        row = de.loc[label]
        assert row["ens_acc"] == pytest.approx(float((mean.argmax(1) == labels).mean()), abs=0)
        assert row["mean_member_acc"] == pytest.approx(np.mean([(m["probs"].argmax(1) == labels).mean()
                                                                for m in members]))
        assert row["diversity"] == pytest.approx(ev.diversity([m["probs"] for m in members], labels))


def test_summary_layout_and_consistency(study):
    subsets, summary = study["tables"]["subsets"], study["tables"]["summary"]
    assert list(summary.columns) == va.SUMMARY_COLUMNS
    assert set(summary["scope"]) == {"run", "method"}
    assert summary.loc[summary["scope"] == "method", ["seed", "replicate"]].isna().all().all()
    star = summary[(summary["method"] == STARSSE) & (summary["scope"] == "method")]
    value = star.set_index(["group", "metric", "statistic"])["value"]
    star_subsets = subsets[subsets["method"] == STARSSE]
    assert value["all", "ens_acc", "n"] == 1001 and value["all", "ens_acc", "runs"] == 1
    assert value["all", "ens_acc", "min"] == star_subsets["ens_acc"].min()
    assert value["all", "ens_acc", "max"] == star_subsets["ens_acc"].max()
    assert value["best", "ens_acc", "n"] == value["worst", "ens_acc", "n"] == math.ceil(0.05 * 1001)
    best = star_subsets[star_subsets["group"] == "best"]
    assert value["best", "diversity", "mean"] == pytest.approx(best["diversity"].mean())
    assert value["best", "diversity", "sd"] == pytest.approx(best["diversity"].std(ddof=1))
    assert value["best", "ens_acc", "mean"] > value["worst", "ens_acc", "mean"]
    assert 0.0 <= value["best_vs_worst", "separability", "cv_acc_mean"] <= 1.0
    # one run per method here: the method scope repeats the run's numbers
    run = summary[(summary["method"] == STARSSE) & (summary["scope"] == "run")]
    assert list(run["statistic"]) == list(star["statistic"])
    assert np.allclose(run["value"].to_numpy(float), star["value"].to_numpy(float), equal_nan=True)


# --- (b) diversity by hand -------------------------------------------------------------------------------------

def test_diversity_of_a_subset_by_hand():
    labels = np.array([0, 1, 2, 0, 1, 2])
    preds = [[0, 1, 2, 0, 1, 0],   # error 1/6
             [0, 1, 2, 0, 0, 0],   # error 2/6
             [1, 1, 2, 0, 1, 2]]   # error 1/6
    probs = [onehot(p) for p in preds]
    # pairs: (1,2) disagree 1/6 / max err 2/6 = 0.5; (1,3) 2/6 / 1/6 = 2; (2,3) 3/6 / 2/6 = 1.5
    accs, matrix = va.member_statistics(probs, labels)
    assert accs == pytest.approx([5 / 6, 4 / 6, 5 / 6])
    assert matrix == pytest.approx(np.array([[0, 50, 200], [50, 0, 150], [200, 150, 0]]))
    table = va.subset_table(probs, labels, [(0, 1, 2), (0, 1), (1, 2), (0,)])
    assert list(table["subset"]) == ["1-2-3", "1-2", "2-3", "1"]
    assert table["diversity"].iloc[:3].tolist() == pytest.approx([400 / 3, 50, 150])
    assert np.isnan(table["diversity"].iloc[3])
    # majority of one-hot votes: sample 5 votes 0, 0, 2 -> 0, wrong; the rest right
    assert table["ens_acc"].iloc[0] == pytest.approx(5 / 6)
    assert table["mean_member_acc"].iloc[0] == pytest.approx(14 / 18)


# --- (c) the best and worst 5 % --------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [101, 1001, 3003])
def test_mark_extremes_takes_the_top_and_bottom(n):
    acc = np.random.default_rng(n).permutation(n) / n  # distinct
    marked = va.mark_extremes(pd.DataFrame({"ens_acc": acc}))
    m = math.ceil(0.05 * n)
    best, worst = marked[marked["group"] == "best"], marked[marked["group"] == "worst"]
    assert len(best) == len(worst) == m
    assert set(best.index) == set(np.argsort(-acc)[:m]) and set(worst.index) == set(np.argsort(acc)[:m])
    assert (marked["group"] == "middle").sum() == n - 2 * m


def test_mark_extremes_ties_are_deterministic_and_disjoint():
    marked = va.mark_extremes(pd.DataFrame({"ens_acc": np.full(40, 0.5)}))
    assert list(marked["group"].iloc[:2]) == ["best", "best"] and list(marked["group"].iloc[-2:]) == ["worst"] * 2
    assert (marked["group"] == "middle").sum() == 36
    assert (va.mark_extremes(pd.DataFrame({"ens_acc": [0.3]}))["group"] == "middle").all()  # nothing to compare


def test_compare_extremes_by_hand():
    frame = pd.DataFrame({"group": ["best", "best", "worst", "worst", "middle"],
                          "ens_acc": [0.9, 0.8, 0.2, 0.4, 0.5], "mean_member_acc": [0.7, 0.5, 0.1, 0.3, 0.0],
                          "diversity": [60, 62, 50, 54, 0]})
    out = va.compare_extremes(frame).set_index(["group", "metric"])
    assert out.loc[("best", "ens_acc"), "mean"] == pytest.approx(0.85)
    assert out.loc[("best", "ens_acc"), "sd"] == pytest.approx(np.std([0.9, 0.8], ddof=1))
    assert out.loc[("worst", "diversity"), "mean"] == pytest.approx(52)
    assert (out["n"] == 2).all() and len(out) == 6


# --- (d) separability ------------------------------------------------------------------------------------------

def _clouds(shift_acc, shift_div, n=100, seed=0):
    rng = np.random.default_rng(seed)
    best = pd.DataFrame({"mean_member_acc": 0.86 + shift_acc + 0.001 * rng.normal(size=n),
                         "diversity": 67 + shift_div + 0.5 * rng.normal(size=n), "group": "best"})
    worst = pd.DataFrame({"mean_member_acc": 0.86 + 0.001 * rng.normal(size=n),
                          "diversity": 67 + 0.5 * rng.normal(size=n), "group": "worst"})
    return pd.concat([best, worst, best.assign(group="middle")], ignore_index=True)  # middle rows are ignored


def test_separability_of_separated_clouds_is_perfect_and_the_boundary_lies_between():
    out = va.separability(_clouds(0.01, 5.0))
    assert out["cv_acc_mean"] == pytest.approx(1.0) and out["folds"] == 5 and out["n"] == 200
    score = lambda acc, div: out["w_mean_member_acc"] * acc + out["w_diversity"] * div + out["intercept"]
    assert score(0.87, 72) > 0 > score(0.86, 67)  # best side positive, in the original units
    assert out["w_mean_member_acc"] > 0 and out["w_diversity"] > 0


def test_separability_of_identical_clouds_is_chance():
    out = va.separability(_clouds(0.0, 0.0, n=200, seed=1))
    assert 0.35 < out["cv_acc_mean"] < 0.65 and out["cv_acc_mean"] < 0.8


def test_separability_with_too_few_subsets():
    frame = _clouds(0.01, 5.0, n=3)
    out = va.separability(frame, folds=5)
    assert out["folds"] == 3 and np.isfinite(out["cv_acc_mean"])  # folds cut to the smaller group
    one = frame[(frame["group"] != "worst") | (frame.index == 3)]
    lonely = va.separability(one)
    assert np.isnan(lonely["cv_acc_mean"]) and np.isnan(lonely["intercept"]) and lonely["n"] == 4


# --- (e) the figure --------------------------------------------------------------------------------------------

def test_figure_from_the_tables_and_from_empty_tables(study, tmp_path):
    from transferscope.plots import ensemble_variance

    for name, tables in (("full", study["tables"]), ("empty", va.build_variance([], subset_size=5))):
        paths = {}
        for table in ("subsets", "summary"):
            paths[table] = str(tmp_path / f"{name}_{table}.csv")
            tables[table].to_csv(paths[table], index=False)
        out = tmp_path / f"{name}.png"
        ensemble_variance.draw(paths["subsets"], paths["summary"], str(out))
        assert out.exists() and out.stat().st_size > 0
    empty = va.build_variance([], subset_size=5)
    assert list(empty["subsets"].columns) == va.SUBSET_COLUMNS and empty["subsets"].empty
    assert list(empty["summary"].columns) == va.SUMMARY_COLUMNS and empty["summary"].empty
