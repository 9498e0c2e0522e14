"""Sum of squares (SSW / TSS)."""

import numpy as np
import pytest
import torch

from transferscope.metrics import sum_of_squares


def test_hand_computed_toy():
    # 1-D: class 0 = {0, 2}, class 1 = {4, 6}; μ = 3, μ0 = 1, μ1 = 5
    # TSS = 9 + 1 + 1 + 9 = 20, SSW = 1 + 1 + 1 + 1 = 4  →  0.2
    X = np.array([[0.0], [2.0], [4.0], [6.0]])
    assert sum_of_squares(X, [0, 0, 1, 1]) == pytest.approx(0.2, abs=1e-15)
    # 2-D toy: points (0,0),(0,2) in class a, (3,0),(3,2) in class b
    # μ = (1.5, 1); TSS = 4·(2.25 + 1) = 13; SSW = 4·1 = 4  →  4/13
    X2 = np.array([[0, 0], [0, 2], [3, 0], [3, 2]], dtype=float)
    assert sum_of_squares(X2, ["a", "a", "b", "b"]) == pytest.approx(4 / 13, abs=1e-15)


def test_well_separated_clusters_near_zero():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 20)) * 100
    y = np.repeat(np.arange(5), 40)
    X = centres[y] + rng.normal(size=(200, 20)) * 0.01
    assert sum_of_squares(X, y) < 1e-6


def test_independent_labels_near_one():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 10))
    y = rng.integers(0, 4, size=2000)
    # E[SSW/TSS] = (n − C)/(n − 1) for exchangeable data ≈ 0.9985
    assert sum_of_squares(X, y) == pytest.approx(1.0, abs=0.01)


def test_zero_total_sum_of_squares_gives_zero():
    X = np.ones((6, 3))
    assert sum_of_squares(X, [0, 0, 1, 1, 2, 2]) == 0.0


def test_invariances_and_input_types():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4, 3))  # extra axes are flattened
    y = rng.integers(0, 3, size=60)
    base = sum_of_squares(X, y)
    Xf = X.reshape(60, -1)
    Q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    assert sum_of_squares(Xf @ Q * 7.0 + 3.0, y) == pytest.approx(base, rel=1e-12)
    assert sum_of_squares(torch.tensor(X, dtype=torch.float32), torch.tensor(y)) == pytest.approx(base, rel=1e-6)
    assert isinstance(sum_of_squares(torch.tensor(X), torch.tensor(y)), float)
    # non-isotropic scaling changes it
    S = np.ones(12)
    S[0] = 50.0
    assert abs(sum_of_squares(Xf * S, y) - base) > 1e-3
