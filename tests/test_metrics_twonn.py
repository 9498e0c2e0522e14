"""TwoNN intrinsic dimension."""

import math

import numpy as np
import pytest
import torch

from transferscope.metrics import twonn, twonn_from_distances, twonn_subsets
from transferscope.metrics.intrinsic_dimension import two_nearest_distances


def _subspace_cloud(k, n=2000, D=40, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(D, k)))  # orthonormal k-frame in R^D
    return rng.uniform(size=(n, k)) @ Q.T, rng


@pytest.mark.parametrize("k,tol", [(2, 0.15), (5, 0.6)])
def test_uniform_linear_subspace(k, tol):
    # uniform in a k-cube: boundary effects bias TwoNN slightly low for k = 5 (≈ 4.6 at n = 2000)
    X, _ = _subspace_cloud(k)
    assert twonn(X) == pytest.approx(k, abs=tol)


def test_invariant_to_rotation_translation_scale():
    X, rng = _subspace_cloud(3, n=500, D=10, seed=1)
    base = twonn(X)
    Q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    assert twonn(2.5 * X @ Q + 7.0) == pytest.approx(base, rel=1e-9)
    assert twonn(torch.tensor(X, dtype=torch.float64)) == pytest.approx(base, rel=1e-12)
    # permutation of samples
    assert twonn(X[rng.permutation(500)]) == pytest.approx(base, rel=1e-12)


def test_fit_by_hand_on_given_ratios():
    # r1 = 1, r2 = μ: N = 10 points, the fit uses ⌊0.9·10⌋ = 9 of the N − 2 = 8 kept → all 8
    mu = np.array([1.1, 1.2, 1.3, 1.5, 1.7, 2.0, 2.4, 3.0, 4.0, 6.0])
    F = np.arange(1, 11) / 10
    x, y = np.log(mu[:8]), -np.log(1 - F[:8])
    expected = (x @ y) / (x @ x)
    assert twonn_from_distances(np.ones(10), mu) == pytest.approx(expected, rel=1e-14)
    # with fraction 0.5: ⌊5⌋ points
    x5, y5 = x[:5], y[:5]
    assert twonn_from_distances(np.ones(10), mu, fraction=0.5) == pytest.approx((x5 @ y5) / (x5 @ x5), rel=1e-14)


def test_duplicates_and_degenerate_points_are_dropped():
    r1 = np.array([0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    r2 = np.array([1.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])  # first: r1 = 0, second: r1 = r2
    kept = twonn_from_distances(r1[2:], r2[2:])
    assert twonn_from_distances(r1, r2) == pytest.approx(kept, rel=1e-15)
    # an exact duplicate point gives r1 = 0 exactly
    X = np.random.default_rng(2).normal(size=(50, 6))
    X[7] = X[3]
    r1x, _ = two_nearest_distances(X)
    assert r1x[3] == 0.0 and r1x[7] == 0.0


def test_neighbour_distances_exact():
    X = np.random.default_rng(3).normal(size=(80, 5)) * 1e3
    D = np.linalg.norm(X[:, None] - X[None], axis=2)
    np.fill_diagonal(D, np.inf)
    Ds = np.sort(D, axis=1)
    r1, r2 = two_nearest_distances(X)
    np.testing.assert_allclose(r1, Ds[:, 0], rtol=1e-13)
    np.testing.assert_allclose(r2, Ds[:, 1], rtol=1e-13)


def test_subsets_seeded():
    X, _ = _subspace_cloud(2, n=400, D=8, seed=4)
    m1, s1 = twonn_subsets(X, n_subsets=8, seed=11)
    m2, s2 = twonn_subsets(X, n_subsets=8, seed=11)
    assert (m1, s1) == (m2, s2) and isinstance(m1, float) and s1 >= 0
    assert m1 == pytest.approx(2.0, abs=0.3)
    assert twonn(X, n_subsets=8, seed=11) == m1
    assert not math.isnan(m1)


def test_neighbour_distances_exact_against_float64_brute_force():
    """The float32 candidate search + float64 re-check gives exactly the brute-force float64 r1, r2."""
    import numpy as np

    from transferscope.metrics.intrinsic_dimension import two_nearest_distances

    rng = np.random.default_rng(3)
    Y = rng.normal(size=(400, 40)) * 100.0 + 1e4  # large offset: float32 rounding matters for the search
    Y[10] = Y[20]  # exact duplicate -> r1 = 0
    Y[30] = Y[31] + 1e-7  # near-duplicate far below float32 resolution of ‖x‖²
    r1, r2 = two_nearest_distances(Y)
    D = np.sqrt(((Y[:, None] - Y[None]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    Ds = np.sort(D, axis=1)
    assert np.allclose(r1, Ds[:, 0], rtol=1e-12, atol=1e-12) and np.allclose(r2, Ds[:, 1], rtol=1e-12, atol=1e-12)
    assert r1[10] == 0.0 and 0 < r1[30] < 1e-6


def test_subsets_share_exact_pair_distances_without_changing_any_estimate():
    """The pair cache of twonn_subsets gives exactly the estimates of each subset computed on its own."""
    from transferscope.metrics._arrays import pairwise_sq_dists

    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 40)) @ rng.normal(size=(40, 300))
    X[7] = X[3]  # a duplicate: r1 = 0 must stay exact
    mean, sd = twonn_subsets(X, n_subsets=6, seed=2)
    Xt = torch.as_tensor(X)
    full = pairwise_sq_dists(Xt)
    draws = np.random.default_rng(2)
    alone = []
    for _ in range(6):
        idx = torch.as_tensor(np.sort(draws.choice(120, size=math.floor(0.9 * 120), replace=False)))
        r1, r2 = two_nearest_distances(Xt[idx], sq_dists=full[idx][:, idx])
        alone.append(twonn_from_distances(r1, r2))
    assert mean == float(np.mean(alone)) and sd == float(np.std(alone))
