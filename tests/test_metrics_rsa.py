"""Correlation RDM, RSA class contrast, RDM-vs-RDM Spearman."""

import numpy as np
import pytest
import torch

from transferscope.metrics import count_constant_rows, rdm, rsa, rsa_between


def test_rdm_matches_numpy_corrcoef():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 17))
    D = rdm(X)
    assert isinstance(D, np.ndarray) and D.shape == (50, 50)
    np.testing.assert_allclose(D, 1.0 - np.corrcoef(X), atol=1e-12)
    assert np.all(np.diag(D) == 0.0)
    np.testing.assert_array_equal(D, D.T)


def test_rdm_constant_rows_are_distance_one_and_counted():
    X = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0], [3.0, 2.0, 1.0], [0.0, 0.0, 0.0]])
    D, n_const = rdm(X, return_n_constant=True)
    assert n_const == 2 and count_constant_rows(X) == 2
    expected = np.array(
        [
            [0.0, 1.0, 2.0, 1.0],  # Pearson([1,2,3],[3,2,1]) = −1 → 2
            [1.0, 0.0, 1.0, 1.0],
            [2.0, 1.0, 0.0, 1.0],
            [1.0, 1.0, 1.0, 0.0],
        ]
    )
    np.testing.assert_allclose(D, expected, atol=1e-15)
    assert not np.isnan(D).any()


def test_rsa_hand_made_four_samples():
    # Pearson: r(x0,x1)=1, r(x0,x2)=−1, r(x0,x3)=0.5, r(x1,x2)=−1, r(x1,x3)=0.5, r(x2,x3)=−0.5
    X = np.array([[1, 2, 3], [2, 4, 6], [3, 2, 1], [1, 3, 2]], dtype=float)
    y = [0, 0, 1, 1]
    within = (0.0 + 1.5) / 2  # D01 = 0, D23 = 1.5
    between = (2.0 + 0.5 + 2.0 + 0.5) / 4  # D02, D03, D12, D13
    assert rsa(X, y) == pytest.approx(abs(within - between), abs=1e-14)  # = 0.5
    # order-free: permuting samples and labels together changes nothing
    p = [3, 0, 2, 1]
    assert rsa(X[p], np.asarray(y)[p]) == pytest.approx(0.5, abs=1e-14)


def test_rsa_equals_masked_rdm_contrast():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 9))
    X[5] = 2.0  # a constant row
    y = rng.integers(0, 3, size=40)
    D = rdm(X)
    same = y[:, None] == y[None, :]
    off = ~np.eye(40, dtype=bool)
    expected = abs(D[same & off].mean() - D[~same].mean())
    assert rsa(X, y) == pytest.approx(expected, abs=1e-12)
    assert rsa(torch.tensor(X), torch.tensor(y)) == pytest.approx(expected, abs=1e-12)


def test_rsa_class_structure_is_larger():
    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(4), 25)
    protos = rng.normal(size=(4, 30))
    structured = protos[y] + 0.3 * rng.normal(size=(100, 30))
    noise = rng.normal(size=(100, 30))
    assert rsa(structured, y) > 0.5 > 0.05 > rsa(noise, y)


def test_rsa_needs_both_pair_types():
    with pytest.raises(ValueError):
        rsa(np.random.default_rng(0).normal(size=(4, 3)), [0, 1, 2, 3])


def test_rsa_between():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 8))
    assert rsa_between(X, X) == pytest.approx(1.0, abs=1e-12)
    # per-sample affine maps leave the RDM unchanged; different features of other dimension are fine
    assert rsa_between(X, 3.0 * X + 1.0) == pytest.approx(1.0, abs=1e-12)
    Y = rng.normal(size=(30, 5))
    val = rsa_between(torch.tensor(X), Y)
    assert isinstance(val, float) and -0.3 < val < 0.3
