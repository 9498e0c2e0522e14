"""Benchmark estimators (GBC, SFDA, PARC, N-LEEP, shrinkage H-score, kNN): each against the number its reference
code gave on fixed inputs (tests/data/estimator_references/<name>.json: repository, commit, path, the inputs'
recipe, value), plus analytic properties. The reference codes are not dependencies: only their numbers are stored;
transformer-ranker's estimators are also run live when that package is installed."""

import importlib.util
import json
import math
import os
import sys
import types

import numpy as np
import pytest
import sklearn
import torch
from sklearn.covariance import ledoit_wolf_shrinkage
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from conftest import REPO
from transferscope.metrics import gbc, hscore, hscore_shrinkage, knn_accuracy, nce, nleep, parc, sfda
from transferscope.metrics.benchmark_estimators import _shrunk_lda_proba
from transferscope.metrics.registry import REGISTRY, metric_names

REFERENCES = os.path.join(REPO, "tests", "data", "estimator_references")
NAMES = ("gbc", "sfda", "parc", "nleep", "hscore_shrinkage", "knn")


def reference(name):
    with open(os.path.join(REFERENCES, f"{name}.json"), encoding="utf-8") as fh:
        return json.load(fh)


def make_inputs(recipe):
    """The arrays of a reference's ``inputs`` recipe (its ``steps``, spelled out)."""
    assert recipe["generator"] == "numpy.random.default_rng(seed)"
    rng = np.random.default_rng(recipe["seed"])
    n, d, classes = recipe["n"], recipe["d"], recipe["classes"]
    y = rng.permutation(np.repeat(np.arange(classes), n // classes))
    centres = rng.normal(0.0, recipe["centre_scale"], size=(classes, d))
    X = centres[y] + rng.normal(0.0, recipe["noise_scale"], size=(n, d))
    return X, y


def test_reference_files_name_their_source():
    for name in NAMES:
        ref = reference(name)
        assert {"repository", "commit", "path", "inputs", "value"} <= set(ref), name
        assert ref["commit"] is None or (len(ref["commit"]) == 40 and int(ref["commit"], 16) >= 0), name
        assert ref["commit"] is not None or "==" in ref["repository"], name  # a PyPI package pins its version
        assert math.isfinite(ref["value"])


def test_registered_off_by_default():
    for name in NAMES:
        metric = REGISTRY[name]
        assert (metric.needs, metric.higher_is_better, metric.expected_sign, metric.default) == ("features", True, 1,
                                                                                                  False)
        assert metric.reference
        assert name not in metric_names(default_only=True)


# --- GBC -------------------------------------------------------------------------------------------------------

def test_gbc_matches_the_authors_code():
    ref = reference("gbc")
    X, y = make_inputs(ref["inputs"])
    assert gbc(X, y) == pytest.approx(ref["value"], rel=1e-6)
    assert gbc(X, y, "diagonal") == pytest.approx(ref["value_diagonal"], rel=1e-6)
    assert REGISTRY["gbc"].compute(X, y) == gbc(X, y)


def test_gbc_hand_computed():
    # 1-D: classes {0, 2} and {4, 6}: means 1 and 5, population variances 1 → D_B = 16/8 = 2 both ways
    assert gbc([0.0, 2.0, 4.0, 6.0], [0, 0, 1, 1]) == pytest.approx(-2 * math.exp(-2.0), rel=1e-14)
    # 2-D, variances (1, 1) and (4, 4), means 3 apart: spherical σ = 1 and 4, σ̄ = 2.5; the code's log term runs
    # over the single spherical σ: D = 9 / 2.5 / 8 + ½ (log 2.5 − ½ log 1 − ½ log 4)
    square = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    X = np.vstack([square, [3.0, 0.0] + 2.0 * square])
    y = [0] * 4 + [1] * 4
    d_spherical = 9 / 2.5 / 8 + 0.5 * math.log(2.5 / 2.0)
    assert gbc(X, y) == pytest.approx(-2 * math.exp(-d_spherical), rel=1e-14)
    d_diagonal = 9 / 2.5 / 8 + 0.5 * 2 * math.log(2.5 / 2.0)
    assert gbc(X, y, "diagonal") == pytest.approx(-2 * math.exp(-d_diagonal), rel=1e-14)
    with pytest.raises(ValueError):
        gbc(X, y, "full")


def test_gbc_orders_identical_and_separated_classes():
    rng = np.random.default_rng(1)
    block = rng.normal(size=(10, 5))
    same = np.vstack([block] * 4)  # four classes with identical samples: every coefficient is 1
    y = np.repeat(np.arange(4), 10)
    assert gbc(same, y) == pytest.approx(-12.0, rel=1e-12)
    separated = same + 100.0 * np.eye(5)[y]
    assert -1e-6 < gbc(separated, y) <= 0.0


def test_gbc_invariances():
    X, y = make_inputs(reference("gbc")["inputs"])
    value = gbc(X, y)
    perm = np.random.default_rng(2).permutation(len(y))
    rotation, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(X.shape[1], X.shape[1])))
    assert gbc(X[perm], y[perm]) == pytest.approx(value, rel=1e-12)
    assert gbc(X, 10 * (3 - y)) == pytest.approx(value, rel=1e-12)  # renamed classes
    assert gbc(3.0 * X @ rotation + 5.0, y) == pytest.approx(value, rel=1e-10)


# --- SFDA ------------------------------------------------------------------------------------------------------

def test_sfda_matches_the_authors_code():
    ref = reference("sfda")
    X, y = make_inputs(ref["inputs"])
    assert sfda(X, y) == pytest.approx(ref["value"], rel=1e-6)
    _, shrinkage = _shrunk_lda_proba(torch.tensor(X), torch.tensor(y), 4, None)
    assert shrinkage == pytest.approx(ref["shrinkage"], rel=1e-9)
    assert REGISTRY["sfda"].compute(X, y) == sfda(X, y)


def test_sfda_classifier_is_sklearn_shrinkage_lda():
    # sklearn's eigen-solver LDA with a fixed shrinkage builds the same shrunk within-class covariance
    X, y = make_inputs(reference("sfda")["inputs"])
    ours, _ = _shrunk_lda_proba(torch.tensor(X), torch.tensor(y), 4, 0.05)
    theirs = LinearDiscriminantAnalysis(solver="eigen", shrinkage=0.05).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-10)


def test_sfda_orders_separated_and_random_labels_and_is_invariant():
    X, y = make_inputs(reference("sfda")["inputs"])
    value = sfda(X, y)
    shuffled = np.random.default_rng(4).permutation(y)  # labels unrelated to the features
    assert 0.0 < sfda(X, shuffled) < value < sfda(X + 20.0 * np.eye(8)[y], y) <= 1.0
    perm = np.random.default_rng(5).permutation(len(y))
    assert sfda(X[perm], y[perm]) == pytest.approx(value, rel=1e-10)
    assert sfda(X, 7 - y) == pytest.approx(value, rel=1e-10)
    assert sfda(X + 3.0, y) == pytest.approx(value, rel=1e-10)


# --- PARC ------------------------------------------------------------------------------------------------------

def test_parc_matches_the_authors_code():
    ref = reference("parc")
    X, y = make_inputs(ref["inputs"])
    assert parc(X, y) == pytest.approx(ref["value"], rel=1e-6)
    assert REGISTRY["parc"].compute(X, y) == parc(X, y)


def test_parc_one_hot_features_are_perfect_and_random_labels_near_zero():
    y = np.repeat(np.arange(4), 6)
    assert parc(np.eye(4)[y], y) == pytest.approx(100.0, abs=1e-9)  # within pairs 0, between pairs one value
    X, _ = make_inputs(reference("parc")["inputs"])
    random_labels = np.random.default_rng(6).integers(0, 4, size=len(X))
    assert abs(parc(X, random_labels)) < 10.0


def test_parc_invariances():
    X, y = make_inputs(reference("parc")["inputs"])
    value = parc(X, y)
    perm = np.random.default_rng(7).permutation(len(y))
    assert parc(X[perm], y[perm]) == pytest.approx(value, rel=1e-10)
    assert parc(X, y + 10) == pytest.approx(value, rel=1e-12)
    scales = np.linspace(0.5, 4.0, X.shape[1])
    assert parc(X * scales - 2.0, y) == pytest.approx(value, rel=1e-10)  # per-feature affine (standardised)


# --- N-LEEP ----------------------------------------------------------------------------------------------------

def test_nleep_matches_the_authors_code():
    # Stochastic through the mixture's k-means start (random_state 123): reproducible with the scikit-learn
    # version the reference ran with (then the reference differs only by its float32 LEEP); another version may
    # start elsewhere, and the spread over seeds on these inputs is sd 0.04 (see the JSON's note).
    ref = reference("nleep")
    X, y = make_inputs(ref["inputs"])
    value = nleep(X, y)
    if sklearn.__version__.split(".")[:2] == ref["sklearn_version"].split(".")[:2]:
        assert value == pytest.approx(ref["value"], rel=1e-6)
    else:
        assert value == pytest.approx(ref["value"], abs=0.15)


def test_nleep_on_separated_blobs_is_the_nce_of_the_blobs():
    # 5·C = 20 tight blobs on a 4×5 grid (PCA keeps both axes): the mixture finds the blobs for any seed, its
    # posteriors are hard, and LEEP of hard assignments is −H(Y | blob) = NCE.
    gx, gy = np.meshgrid(np.arange(5) * 10.0, np.arange(4) * 10.0)
    centres = np.c_[gx.ravel(), gy.ravel()]
    blob = np.repeat(np.arange(20), 6)
    y = (blob + np.tile([0, 0, 0, 0, 1, 2], 20)) % 4  # each blob: 4 samples of one label, 1 each of two others
    X = centres[blob] + np.random.default_rng(8).normal(0.0, 0.05, size=(120, 2))
    expected = nce(blob, y)
    assert expected == pytest.approx(4 / 6 * math.log(4 / 6) + 2 / 6 * math.log(1 / 6), rel=1e-12)
    for seed in (0, 123):
        assert nleep(X, y, seed=seed) == pytest.approx(expected, rel=1e-6)
    assert nleep(X, 3 - y) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError):
        nleep(X[:10], y[:10])  # fewer samples than 5 · C components


# --- shrinkage H-score -----------------------------------------------------------------------------------------

def _transformer_ranker_estimators(monkeypatch):
    """transformer-ranker's ``estimators`` subpackage, imported without the package's ``__init__`` (which loads its
    text embedder: tokenizers, transformers); None when the package is not installed."""
    spec = importlib.util.find_spec("transformer_ranker")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.join(list(spec.submodule_search_locations)[0], "estimators")
    package = types.ModuleType("_transformer_ranker_estimators")
    package.__path__ = [folder]
    monkeypatch.setitem(sys.modules, package.__name__, package)
    return package


def test_hscore_shrinkage_matches_transformer_ranker():
    ref = reference("hscore_shrinkage")
    X, y = make_inputs(ref["inputs"])
    assert hscore_shrinkage(X, y) == pytest.approx(ref["value"], rel=1e-6)
    assert REGISTRY["hscore_shrinkage"].compute(X, y) == hscore_shrinkage(X, y)


def test_hscore_shrinkage_live_transformer_ranker(monkeypatch):
    package = _transformer_ranker_estimators(monkeypatch)
    if package is None:
        pytest.skip("transformer-ranker not installed (the stored reference number is checked above)")
    module = importlib.import_module(f"{package.__name__}.hscore")
    rng = np.random.default_rng(9)
    for n, d in ((60, 8), (30, 50)):
        X = rng.normal(size=(n, d)) + np.eye(d)[rng.integers(0, 3, size=n)] * 2.0
        y = rng.integers(0, 3, size=n)
        theirs = module.HScore().fit(embeddings=torch.from_numpy(X), labels=torch.from_numpy(y))
        assert hscore_shrinkage(X, y) == pytest.approx(theirs, rel=1e-6)


def test_hscore_shrinkage_independent_formula():
    # Ledoit–Wolf α from scikit-learn, covariances and pseudo-inverse from numpy
    rng = np.random.default_rng(10)
    for n, d in ((50, 6), (20, 40)):
        F = rng.normal(size=(n, d))
        y = rng.integers(0, 4, size=n)
        F[y == 1] += 1.5
        Fc = F - F.mean(axis=0)
        alpha = ledoit_wolf_shrinkage(Fc, assume_centered=True)
        cov = Fc.T @ Fc / n
        cov_alpha = (1 - alpha) * cov + alpha * np.trace(cov) / d * np.eye(d)
        g = np.zeros_like(Fc)
        for c in np.unique(y):
            g[y == c] = Fc[y == c].mean(axis=0)
        expected = np.trace(np.linalg.pinv(cov_alpha, rcond=1e-15) @ ((1 - alpha) * g.T @ g / (n - 1)))
        assert hscore_shrinkage(F, y) == pytest.approx(expected, rel=1e-9)


def test_hscore_shrinkage_properties():
    rng = np.random.default_rng(11)
    F = rng.normal(size=(40, 5))
    y = np.repeat(np.arange(4), 10)
    centred = F - np.vstack([F[y == c].mean(axis=0) for c in range(4)])[y]  # every class mean at the origin
    assert hscore_shrinkage(centred, y) == pytest.approx(0.0, abs=1e-12)
    value = hscore_shrinkage(F, y)
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    assert hscore_shrinkage(7.0 * F @ rotation - 1.0, y) == pytest.approx(value, rel=1e-10)
    assert hscore_shrinkage(F + 3.0 * np.eye(5)[y], y) > value
    # d = 1: no shrinkage, the plain H-score up to the n − 1 vs n normalisation of the reference
    assert hscore_shrinkage(F[:, :1], y) == pytest.approx(hscore(F[:, :1], y) * 40 / 39, rel=1e-12)


# --- kNN -------------------------------------------------------------------------------------------------------

def test_knn_matches_transformer_ranker():
    ref = reference("knn")
    X, y = make_inputs(ref["inputs"])
    assert knn_accuracy(X, y) == pytest.approx(ref["value"], rel=1e-6)
    assert REGISTRY["knn"].compute(X, y) == knn_accuracy(X, y)


def test_knn_live_transformer_ranker(monkeypatch):
    package = _transformer_ranker_estimators(monkeypatch)
    if package is None or importlib.util.find_spec("torchmetrics") is None:
        pytest.skip("transformer-ranker or torchmetrics not installed (the stored reference number is checked above)")
    module = importlib.import_module(f"{package.__name__}.nearestneighbors")
    X, y = make_inputs(dict(reference("knn")["inputs"], centre_scale=0.6, n=80))
    theirs = module.NearestNeighbors().fit(embeddings=torch.from_numpy(X), labels=torch.from_numpy(y))
    assert knn_accuracy(X, y) == pytest.approx(theirs, rel=1e-6)


def test_knn_hand_computed():
    # 1-D points; k = 3 neighbours of each (own point excluded), majority vote, ties to the smallest label
    x = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 12.0, 13.0])
    y = np.array([0, 0, 1, 1, 1, 2, 1])
    # 0: {1, 2, 10} → labels 0, 1, 1 → 1 ✗ · 1: {0, 2, 10} → 0, 1, 1 → 1 ✗ · 2: {1, 0, 10} → 0, 0, 1 → 0 ✗
    # 10: {11, 12, 13} → 1, 2, 1 → 1 ✓ · 11: {10, 12, 13} → 1, 2, 1 → 1 ✓ · 12: {11, 13, 10} → 1, 1, 1 → 1 ✗
    # 13: {12, 11, 10} → 2, 1, 1 → 1 ✓
    assert knn_accuracy(x, y) == pytest.approx(3 / 7, rel=1e-15)
    # a three-way tie: the vote goes to the smallest label
    x2 = np.array([0.0, 1.0, 2.0, 3.0, 20.0, 21.0, 22.0])
    y2 = np.array([0, 1, 0, 2, 5, 5, 5])
    # 0: {1, 2, 3} → 1, 0, 2 → tie → 0 ✓ · 1: {0, 2, 3} → 0, 0, 2 → 0 ✗ · 2: {1, 3, 0} → 1, 2, 0 → 0 ✓
    # 3: {2, 1, 0} → 0, 1, 0 → 0 ✗ · 20, 21, 22: two neighbours 5 and the point 3 → 5 ✓
    assert knn_accuracy(x2, y2) == pytest.approx(5 / 7, rel=1e-15)
    # k = 1 on distinct distances: 0 → 1 ✓, 1 → 0 ✓, 3 → 1 ✗, 7 → 3 ✓
    assert knn_accuracy([0.0, 1.0, 3.0, 7.0], [0, 0, 1, 1], k=1) == pytest.approx(3 / 4, rel=1e-15)
    with pytest.raises(ValueError):
        knn_accuracy(x, y, k=7)


def test_knn_orders_separated_and_random_labels_and_is_invariant():
    X, y = make_inputs(reference("knn")["inputs"])
    assert knn_accuracy(X + 50.0 * np.eye(8)[y], y) == 1.0
    shuffled = np.random.default_rng(12).permutation(y)
    assert knn_accuracy(X, shuffled) < knn_accuracy(X, y)
    value = knn_accuracy(X, y)
    perm = np.random.default_rng(13).permutation(len(y))
    rotation, _ = np.linalg.qr(np.random.default_rng(14).normal(size=(8, 8)))
    assert knn_accuracy(X[perm], y[perm]) == value
    assert knn_accuracy(2.0 * X @ rotation + 1.0, y + 3) == value
