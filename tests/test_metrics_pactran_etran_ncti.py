"""ETran, NCTI and PACTran against numbers from their authors' code (tests/data/estimator_references/*.json: repository,
commit, call, the input recipe below and the values), plus analytic properties and hand-computed cases."""

import json
import math
import os

import numpy as np
import pytest
import torch

from conftest import REPO
from transferscope.metrics import (
    etran_energy,
    etran_lda,
    etran_zoo,
    ncti,
    ncti_terms,
    ncti_zoo,
    pactran_gauss,
)
from transferscope.metrics.registry import REGISTRY

REFERENCES = os.path.join(REPO, "tests", "data", "estimator_references")
RECIPE = [
    "rng = np.random.default_rng(seed)",
    "y = np.arange(n) % n_classes",
    "rng.shuffle(y)",
    "centres = rng.normal(size=(n_classes, d)) * sep",
    "X = (centres[y] + rng.normal(size=(n, d))) * scale  # float64; y int64",
]


def make(seed, n, d, n_classes, scale, sep):
    """The input recipe stored with the references (``inputs.code``)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    centres = rng.normal(size=(n_classes, d)) * sep
    X = (centres[y] + rng.normal(size=(n, d))) * scale
    return X.astype(np.float64), y.astype(np.int64)


def reference(name):
    with open(os.path.join(REFERENCES, f"{name}.json"), encoding="utf-8") as fh:
        ref = json.load(fh)
    assert ref["inputs"]["code"] == RECIPE
    assert len(ref["commit"]) == 40 and int(ref["commit"], 16) >= 0
    assert ref["repository"] and ref["path"]
    return ref


def cases(ref):
    return {name: make(**kw) for name, kw in ref["inputs"]["cases"].items()}


def separated_and_overlapping(seed=5, n=240, d=70, n_classes=4):
    far, y = make(seed, n, d, n_classes, 1.0, 2.0)
    near, _ = make(seed, n, d, n_classes, 1.0, 0.05)
    return far, near, y


def shuffled_and_relabelled(X, y, seed=9):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    relabel = np.array([3, 7, 1, 5, 11, 2])[: y.max() + 1]  # other label values, other order
    return X[order], relabel[y[order]]


# --------------------------------------------------------------------------------------------------- ETran


def test_etran_matches_the_authors_code():
    ref = reference("etran")
    assert ref["value"] == ref["values"]["main"]["energy"]
    for name, (X, y) in cases(ref).items():
        want = ref["values"][name]
        assert etran_lda(X, y) == pytest.approx(want["lda"], rel=1e-6)
        if want["energy"] is None:  # n < 200: the code averages no sample (NaN); here the lowest one is kept
            assert etran_energy(X, y) == pytest.approx(np.min(np.log(np.exp(X).sum(axis=1))), rel=1e-12)
        else:
            assert etran_energy(X, y) == pytest.approx(want["energy"], rel=1e-6)


def test_etran_energy_hand_computed():
    F = np.array([[0.0, 0.0], [math.log(3.0), 0.0], [1.0, 1.0]])
    assert etran_energy(F) == pytest.approx(math.log(2.0), abs=1e-15)  # one sample kept: the lowest logsumexp
    big = np.zeros((1000, 3))
    big[:, 0] = np.arange(1000.0)  # energies log(e^i + 2): the 5 lowest are i = 0..4
    assert etran_energy(big) == pytest.approx(np.mean(np.log(np.exp(np.arange(5.0)) + 2.0)), rel=1e-14)
    assert etran_energy(big, per_mille=10) == pytest.approx(np.mean(np.log(np.exp(np.arange(10.0)) + 2.0)))
    X, y = make(3, 600, 10, 3, 1.0, 0.5)
    Xs, ys = shuffled_and_relabelled(X, y)
    assert etran_energy(Xs, ys) == pytest.approx(etran_energy(X, y), rel=1e-14)
    assert etran_energy(X + 2.5) == pytest.approx(etran_energy(X) + 2.5, rel=1e-13)
    assert etran_energy(X[:, ::-1].copy()) == pytest.approx(etran_energy(X), rel=1e-14)


def test_etran_lda_hand_computed_and_properties():
    # two classes, means ±1 on one axis, equal priors: p(right class | x = ±1) = 1 / (1 + e^{-2})
    F = np.array([[1.0], [1.0], [-1.0], [-1.0]])
    assert etran_lda(F, [0, 0, 1, 1]) == pytest.approx(1.0 / (1.0 + math.exp(-2.0)), abs=1e-15)
    far, near, y = separated_and_overlapping()
    assert etran_lda(far, y) > 0.99 > 0.5 > etran_lda(near, y) > 1.0 / 4
    Xs, ys = shuffled_and_relabelled(near, y)
    assert etran_lda(Xs, ys) == pytest.approx(etran_lda(near, y), rel=1e-13)
    Q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(70, 70)))
    assert etran_lda(near @ Q, y) == pytest.approx(etran_lda(near, y), rel=1e-12)
    assert etran_lda(torch.tensor(near), torch.tensor(y)) == pytest.approx(etran_lda(near, y), rel=1e-15)


def test_etran_zoo_combines_min_max_scaled_scores():
    scores = etran_zoo([1.0, 3.0, 2.0], [0.5, 0.7, 0.9])
    np.testing.assert_allclose(scores, [0.0, 0.15 + 0.85 * 0.5, 0.15 * 0.5 + 0.85], rtol=1e-15)
    np.testing.assert_allclose(etran_zoo([2.0, 2.0], [0.1, 0.3]), [0.0, 0.85])  # a constant score adds nothing


# ---------------------------------------------------------------------------------------------------- NCTI


def test_ncti_matches_the_authors_code():
    ref = reference("ncti")
    assert ref["value"] == ref["values"]["main"]["seli"]
    for name, (X, y) in cases(ref).items():
        for key, unbiased in (("values", True), ("values_sklearn_1_9", False)):
            want = ref[key][name]
            got = ncti_terms(X, y, unbiased_within=unbiased)
            assert got == pytest.approx((want["seli"], want["ncc"], want["vc"]), rel=1e-6), (name, key)
    X, y = cases(ref)["main"]
    want = ref["values"]["main"]
    assert ncti(X, y) == pytest.approx(want["seli"] + want["ncc"] - want["vc"], rel=1e-6)


def test_ncti_properties():
    far, near, y = separated_and_overlapping()
    seli_far, ncc_far, vc_far = ncti_terms(far, y)
    seli_near, ncc_near, vc_near = ncti_terms(near, y)
    assert seli_far > seli_near and ncc_far > ncc_near and vc_far < vc_near
    assert ncti(far, y) > ncti(near, y)
    Xs, ys = shuffled_and_relabelled(near, y)
    assert ncti_terms(Xs, ys) == pytest.approx(ncti_terms(near, y), rel=1e-9)
    Q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(70, 70)))
    assert ncti_terms(near @ Q + 3.0, y) == pytest.approx(ncti_terms(near, y), rel=1e-9)
    # fewer features than the 64 PCA axes: all are kept; a perfectly collapsed layer: S_ncc = 1, S_vc = log Σ √n_c
    collapsed = np.repeat(np.eye(3) * 50.0, 10, axis=0) + 1e-3 * np.random.default_rng(3).normal(size=(30, 3))
    _, ncc_c, vc_c = ncti_terms(collapsed, np.repeat(np.arange(3), 10))
    assert ncc_c == pytest.approx(1.0, abs=1e-12) and vc_c == pytest.approx(math.log(3 * math.sqrt(10)), abs=1e-9)
    with pytest.raises(ValueError, match="two classes"):
        ncti_terms(far, np.zeros(len(y)))


def test_ncti_zoo_hand_computed():
    terms = [(10.0, 0.5, 3.0), (20.0, 0.9, 2.0), (15.0, 0.7, 4.0)]
    np.testing.assert_allclose(ncti_zoo(terms), [0.0 + 0.0 - 0.5, 1.0 + 1.0 - 0.0, 0.5 + 0.5 - 1.0],
                               atol=1e-15)


# ------------------------------------------------------------------------------------------------- PACTran


def test_pactran_matches_the_authors_code():
    ref = reference("pactran")
    assert ref["value"] == ref["values"]["main"][2]["value"]  # lda_factor 1, s2_factor 100: the default
    assert ref["values"]["main"][2]["lda_factor"] == 1.0 and ref["values"]["main"][2]["s2_factor"] == 100.0
    for name, (X, y) in cases(ref).items():
        for run, converged in zip(ref["values"][name], ref["values_converged"][name]):
            assert (run["lda_factor"], run["s2_factor"]) == (converged["lda_factor"], converged["s2_factor"])
            got = pactran_gauss(X, y, lda_factor=run["lda_factor"], s2_factor=run["s2_factor"])
            assert got == pytest.approx(converged["value"], rel=1e-6)  # the code run to convergence
            assert got == pytest.approx(run["value"], rel=2e-3)  # the code as published: 100 steps, seed 0


def test_pactran_hand_computed_without_information():
    # constant features: W = 0, b = log class frequencies; loss = H(labels); Σh = dC/(λn) + n Σ_c π_c (1 − π_c)
    n, d, lam, s2f = 8, 1, 1.0, 100.0
    y = np.arange(n) % 4
    pi = np.full(4, 0.25)
    sigma2_inv = (d * 4 / (lam * n) + n * np.sum(pi * (1 - pi))) * lam * n / (d * 4) + 1e-10
    want = math.log(4.0) + 0.5 * 4 * s2f / (lam * n) * math.log(sigma2_inv)
    assert pactran_gauss(np.ones((n, d)), y, lda_factor=lam, s2_factor=s2f) == pytest.approx(want, rel=1e-9)


def test_pactran_properties():
    far, near, y = separated_and_overlapping()
    assert pactran_gauss(far, y) < pactran_gauss(near, y)  # a bound on the risk: lower = better
    assert REGISTRY["pactran"].compute(far, y) == pytest.approx(-pactran_gauss(far, y), rel=1e-12)
    Xs, ys = shuffled_and_relabelled(near, y)
    assert pactran_gauss(Xs, ys) == pytest.approx(pactran_gauss(near, y), rel=1e-7)
    Q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(70, 70)))
    assert pactran_gauss(near @ Q - 1.0, y) == pytest.approx(pactran_gauss(near, y), rel=1e-7)


def test_registry_entries():
    for name, reference_key in (("etran_energy", "Gholami et al. 2023"), ("ncti", "Wang et al. 2023"),
                                ("pactran", "Ding et al. 2022")):
        metric = REGISTRY[name]
        assert metric.reference == reference_key and not metric.default and metric.needs == "features"
        assert metric.higher_is_better is True and metric.expected_sign == 1
    X, y = make(6, 300, 66, 3, 1.0, 0.3)
    assert REGISTRY["etran_energy"].compute(X, y) == etran_energy(X)
    assert REGISTRY["ncti"].compute(X, y) == ncti(X, y)
