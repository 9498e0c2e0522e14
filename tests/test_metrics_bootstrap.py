"""Class-stratified bootstrap of sum_of_squares and rsa, computed from weighted sums."""

import numpy as np
import pytest

from transferscope.metrics import (
    percentile_interval,
    rdm,
    rsa,
    rsa_bootstrap,
    stratified_bootstrap_counts,
    sum_of_squares,
    sum_of_squares_bootstrap,
)


def _data(seed=0, n=60, d=7, classes=3):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n // classes)
    X = rng.normal(size=(n, d)) + 2.0 * rng.normal(size=(classes, d))[y] + 5.0
    return X, y


def test_counts_keep_class_sizes_and_are_seeded():
    _, y = _data()
    W = stratified_bootstrap_counts(y, 50, seed=3)
    assert W.shape == (50, 60)
    for c in range(3):
        assert np.all(W[:, y == c].sum(axis=1) == 20)
    assert np.array_equal(W, stratified_bootstrap_counts(y, 50, seed=3))
    assert not np.array_equal(W, stratified_bootstrap_counts(y, 50, seed=4))
    assert (W == 0).any() and (W >= 2).any()  # genuine resampling with replacement


def test_unit_weights_give_the_point_estimates():
    X, y = _data()
    ones = np.ones((1, len(y)))
    assert sum_of_squares_bootstrap(X, y, weights=ones)[0] == pytest.approx(sum_of_squares(X, y), rel=1e-12)
    assert rsa_bootstrap(X, y, weights=ones)[0] == pytest.approx(rsa(X, y), rel=1e-12)


def test_sum_of_squares_replicate_equals_brute_force_over_distinct_pairs():
    X, y = _data(1)
    W = stratified_bootstrap_counts(y, 5, seed=0)
    values = sum_of_squares_bootstrap(X, y, weights=W)
    D2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    off = ~np.eye(len(y), dtype=bool)
    for b in range(5):
        P = np.outer(W[b], W[b]) * off  # pairs of distinct samples, weighted by how often each was drawn
        ssw = sum((np.sum(y == c) - 1) / 2 * (P * D2)[np.ix_(y == c, y == c)].sum() / P[np.ix_(y == c, y == c)].sum()
                  for c in range(3))
        tss = (len(y) - 1) / 2 * (P * D2).sum() / P.sum()
        assert values[b] == pytest.approx(ssw / tss, rel=1e-10)
        idx = np.repeat(np.arange(len(y)), W[b].astype(int))
        assert values[b] > sum_of_squares(X[idx], y[idx])  # the plug-in value of resampled rows is biased low


def test_sum_of_squares_replicates_are_centred_on_the_estimate():
    X, y = _data(5, n=60)
    reps = sum_of_squares_bootstrap(X, y, n_boot=400, seed=0)
    assert abs(np.median(reps) - sum_of_squares(X, y)) < 0.25 * reps.std()


def test_rsa_replicate_equals_brute_force_over_distinct_pairs():
    X, y = _data(2, n=30)
    X[4] = 1.0  # a constant row: correlation distance 1 to everything, as in rdm()
    W = stratified_bootstrap_counts(y, 4, seed=1)
    values = rsa_bootstrap(X, y, weights=W)
    D = rdm(X)
    same = y[:, None] == y[None, :]
    off = ~np.eye(len(y), dtype=bool)
    for b in range(4):
        P = np.outer(W[b], W[b]) * off  # pairs of distinct samples, weighted by how often each was drawn
        within = (P * D)[same].sum() / P[same].sum()
        between = (P * D)[~same].sum() / P[~same].sum()
        assert values[b] == pytest.approx(abs(within - between), rel=1e-10)


def test_interval_covers_the_estimate_and_narrows_with_more_samples():
    X, y = _data(3, n=60)
    lo, hi = percentile_interval(sum_of_squares_bootstrap(X, y, n_boot=300, seed=0))
    assert lo < sum_of_squares(X, y) < hi
    Xb, yb = _data(3, n=600)
    lo2, hi2 = percentile_interval(sum_of_squares_bootstrap(Xb, yb, n_boot=300, seed=0))
    assert hi2 - lo2 < 0.6 * (hi - lo)
    lo, hi = percentile_interval(rsa_bootstrap(X, y, n_boot=300, seed=0))
    assert lo < rsa(X, y) < hi


def test_percentile_interval_on_known_values():
    assert percentile_interval(np.arange(101.0), level=0.9) == pytest.approx((5.0, 95.0))
    assert percentile_interval([np.nan, 2.0, np.nan]) == (2.0, 2.0)
    lo, hi = percentile_interval([np.nan])
    assert np.isnan(lo) and np.isnan(hi)
