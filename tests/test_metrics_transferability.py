"""Transferability scores on tiny hand-computed examples."""

import math

import numpy as np
import pytest
import torch

from transferscope.metrics import hscore, leep, logme, nce, transrate


def test_leep_hand_computed():
    P = np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9]])
    y = [0, 0, 1, 1]
    # joint P(y, z) = column sums per target class / n
    j00, j01 = (0.8 + 0.6) / 4, (0.2 + 0.4) / 4  # 0.35, 0.15
    j10, j11 = (0.3 + 0.1) / 4, (0.7 + 0.9) / 4  # 0.10, 0.40
    pz0, pz1 = j00 + j10, j01 + j11  # 0.45, 0.55
    c00, c01, c10, c11 = j00 / pz0, j01 / pz1, j10 / pz0, j11 / pz1  # P(y|z): 7/9, 3/11, 2/9, 8/11
    expected = (
        math.log(0.8 * c00 + 0.2 * c01)
        + math.log(0.6 * c00 + 0.4 * c01)
        + math.log(0.3 * c10 + 0.7 * c11)
        + math.log(0.1 * c10 + 0.9 * c11)
    ) / 4
    assert leep(P, y) == pytest.approx(expected, abs=1e-14)
    assert leep(torch.tensor(P), torch.tensor(y)) == pytest.approx(expected, abs=1e-14)
    with pytest.raises(ValueError):
        leep(P * 2, y)


def test_nce_hand_computed():
    z = [0, 0, 1, 1, 1, 0]
    y = [0, 0, 1, 1, 0, 1]
    # counts (z, y): (0,0)=2, (0,1)=1, (1,1)=2, (1,0)=1 → P(y|z) ∈ {2/3, 1/3} for both z
    expected = 2 * (2 / 6 * math.log(2 / 3) + 1 / 6 * math.log(1 / 3))
    assert nce(z, y) == pytest.approx(expected, abs=1e-15)
    assert nce(np.array([3, 3, 7, 7]), np.array([1, 1, 0, 0])) == 0.0  # y is a function of z
    assert isinstance(nce(torch.tensor(z), torch.tensor(y)), float)


def test_hscore_one_dimensional():
    # f = [0, 1, 2, 3], classes {0,1} and {2,3}: var(f) = 1.25, class means 0.5 and 2.5 → var(g) = 1
    assert hscore(np.array([0.0, 1.0, 2.0, 3.0]), [0, 0, 1, 1]) == pytest.approx(0.8, abs=1e-14)
    assert hscore(torch.tensor([[0.0], [0.0], [2.0], [2.0]]), torch.tensor([0, 0, 1, 1])) == pytest.approx(1.0)


def test_hscore_matches_numpy_pinv_formula():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(60, 5))
    y = rng.integers(0, 3, size=60)
    F[y == 1] += 1.0
    covf = np.cov(F, rowvar=False)
    g = np.zeros_like(F)
    for c in range(3):
        g[y == c] = F[y == c].mean(axis=0)
    expected = np.trace(np.linalg.pinv(covf) @ np.cov(g, rowvar=False))
    assert hscore(F, y) == pytest.approx(expected, rel=1e-10)


def test_transrate_explicit_logdet():
    Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])  # already centred
    y = [0, 0, 0, 1]
    eps = 1e-4
    # whole set: ZᵀZ = 4 I, n = 4 → ½ log det((1 + 4/(4ε)) I) = log(1 + 1/ε)
    r = math.log(1 + 1 / eps)
    # class 0 (3 rows): ZᵀZ = [[3, −1], [−1, 3]], c = 1/(3ε): det = (1 + 3c)² − c²
    c0 = 1 / (3 * eps)
    r0 = 0.5 * math.log((1 + 3 * c0) ** 2 - c0**2)
    # class 1 (1 row): ZᵀZ = [[1, 1], [1, 1]], c = 1/ε: det = (1 + c)² − c² = 1 + 2c
    c1 = 1 / eps
    r1 = 0.5 * math.log(1 + 2 * c1)
    expected = r - (r0 + r1) / 2
    assert transrate(Z, y, eps=eps) == pytest.approx(expected, rel=1e-12)
    assert transrate(torch.tensor(Z + 5.0), torch.tensor(y), eps=eps) == pytest.approx(expected, rel=1e-12)


def _reference_logme(f, y):
    """Straight re-implementation of the official fixed-point LogME (thuml/LogME, _fit_fixed_point)."""
    f = f.astype(np.float64)
    N, D = f.shape
    if N > D:
        u0, s, vh = np.linalg.svd(f.T @ f)
        s = np.sqrt(s)
        k = int(np.sum(s > 1e-10))
        s, vh = s[:k].reshape(-1, 1), vh[:k]
        u = (f @ vh.T) / s.reshape(1, -1)
    else:
        u, s, vh = np.linalg.svd(f, full_matrices=False)
        s = s.reshape(-1, 1)
    sigma = s**2
    evidences = []
    for i in range(int(y.max() + 1)):
        y_ = (y == i).astype(np.float64).reshape(-1, 1)
        x = u.T @ y_
        x2 = x**2
        res_x2 = (y_**2).sum() - x2.sum()
        alpha, beta = 1.0, 1.0
        for _ in range(11):
            t = alpha / beta
            gamma = (sigma / (sigma + t)).sum()
            m2 = (sigma * x2 / ((t + sigma) ** 2)).sum()
            res2 = (x2 / ((1 + sigma / t) ** 2)).sum() + res_x2
            alpha = gamma / (m2 + 1e-5)
            beta = (N - gamma) / (res2 + 1e-5)
            t_ = alpha / beta
            if abs(t_ - t) / t <= 1e-3:
                break
        evidence = (
            D / 2.0 * np.log(alpha)
            + N / 2.0 * np.log(beta)
            - 0.5 * np.sum(np.log(alpha + beta * sigma))
            - beta / 2.0 * res2
            - alpha / 2.0 * m2
            - N / 2.0 * np.log(2 * np.pi)
        )
        evidences.append(evidence / N)
    return float(np.mean(evidences))


@pytest.mark.parametrize("n,d", [(120, 10), (30, 50)])
def test_logme_matches_reference_algorithm(n, d):
    rng = np.random.default_rng(n + d)
    y = rng.integers(0, 4, size=n)
    F = rng.normal(size=(n, d)) + np.eye(4, d)[y] * 2.0
    assert logme(F, y) == pytest.approx(_reference_logme(F, y), rel=1e-9)
    assert logme(torch.tensor(F, dtype=torch.float64), torch.tensor(y)) == pytest.approx(_reference_logme(F, y), rel=1e-9)


def test_scores_rank_separable_above_random():
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(3), 40)
    separable = np.eye(3, 8)[y] * 3.0 + 0.3 * rng.normal(size=(120, 8))
    random = rng.normal(size=(120, 8))
    assert logme(separable, y) > logme(random, y)
    assert hscore(separable, y) > hscore(random, y)
    assert transrate(separable, y) > transrate(random, y)
