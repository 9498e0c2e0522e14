"""Representation Topology Divergence (CPU, ripser)."""

import numpy as np
import pytest
import torch

from transferscope.metrics import r_cross_barcode, rtd


def _triangles():
    # X: equilateral triangle with side 1. Y: isosceles, |y1 y2| = 1, |y1 y3| = |y2 y3| = 2.
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    Y = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3.75)]])
    return X, Y


def test_hand_computed_three_points():
    # Normalised by the 0.9 quantile of the 9 entries: A = 1 off the diagonal; B12 = 1/2, B13 = B23 = 1.
    # In M = [[0, Aᵀ], [A, min(A, B)]] the edge w1–w2 (0.5) closes the cycle u1–w1–w2–u2, which no triangle
    # fills before every cross edge u_j–w_i (i ≠ j, length 1) is present: one bar [0.5, 1).
    # RTD(Y, X) is empty (min(B, A) = B), so the symmetric RTD is (0.5 + 0) / 2.
    X, Y = _triangles()
    bars = r_cross_barcode(X, Y)
    np.testing.assert_allclose(bars, [[0.5, 1.0]], atol=1e-6)
    assert r_cross_barcode(Y, X).shape == (0, 2)
    assert rtd(X, Y, symmetric=False) == pytest.approx(0.5, abs=1e-6)
    assert rtd(X, Y) == pytest.approx(0.25, abs=1e-6)


def test_identical_and_similar_clouds_give_zero():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    assert rtd(X, X) == 0.0
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    assert rtd(X, 3.0 * X @ Q + 2.0) == pytest.approx(0.0, abs=1e-5)  # distances equal up to scale


def test_different_clouds_positive():
    rng = np.random.default_rng(1)
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    blob = rng.normal(size=(40, 2))
    v = rtd(circle, blob)
    assert v > 0.5
    forward = rtd(circle, blob, symmetric=False)
    backward = rtd(blob, circle, symmetric=False)
    assert v == pytest.approx(0.5 * (forward + backward), rel=1e-12)
    assert isinstance(rtd(torch.tensor(circle), torch.tensor(blob)), float)


def test_subsampling_seeded():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4))
    Y = X + rng.normal(size=(60, 4))
    a = rtd(X, Y, n_samples=25, n_trials=2, seed=3)
    b = rtd(X, Y, n_samples=25, n_trials=2, seed=3)
    assert a == b and a > 0


def test_edges_recover_bar_values():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 3))
    Y = rng.normal(size=(30, 2))
    out = r_cross_barcode(X, Y, return_edges=True)
    bars, M = out["bars"], out["matrix"]
    assert len(bars) > 0
    assert (out["birth_edges"] >= 0).all() and (out["death_edges"] >= 0).all()
    be, de = out["birth_edges"], out["death_edges"]
    np.testing.assert_array_equal(M[be[:, 0], be[:, 1]].astype(np.float32), bars[:, 0].astype(np.float32))
    np.testing.assert_array_equal(M[de[:, 0], de[:, 1]].astype(np.float32), bars[:, 1].astype(np.float32))
    np.testing.assert_allclose(out["lengths"], bars[:, 1] - bars[:, 0], atol=1e-6)
