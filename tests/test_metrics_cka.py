"""Linear CKA, biased and unbiased, feature-space and Gram forms."""

import numpy as np
import pytest
import torch

from transferscope.metrics import linear_cka


def _numpy_cka(X, Y):
    X = X - X.mean(0)
    Y = Y - Y.mean(0)
    return np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y))


def _numpy_unbiased_hsic(K, L):
    # Song et al. (2012), written out with explicit loops-free numpy on zero-diagonal kernels
    n = K.shape[0]
    K = K - np.diag(np.diag(K))
    L = L - np.diag(np.diag(L))
    one = np.ones(n)
    return (
        np.trace(K @ L) + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2)) - 2 / (n - 2) * one @ K @ L @ one
    ) / (n * (n - 3))


@pytest.mark.parametrize("unbiased", [False, True])
def test_self_similarity_is_one(unbiased):
    X = np.random.default_rng(0).normal(size=(40, 7))
    assert linear_cka(X, X, unbiased=unbiased) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("unbiased", [False, True])
def test_orthogonal_and_isotropic_scaling_invariance(unbiased):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 6))
    Y = X @ rng.normal(size=(6, 4)) + 0.5 * rng.normal(size=(50, 4))
    base = linear_cka(X, Y, unbiased=unbiased)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert linear_cka(3.0 * X @ Q + 1.0, Y, unbiased=unbiased) == pytest.approx(base, rel=1e-10)
    assert linear_cka(X, 0.01 * Y, unbiased=unbiased) == pytest.approx(base, rel=1e-10)
    S = np.diag([10.0, 1, 1, 1, 1, 0.1])
    assert abs(linear_cka(X @ S, Y, unbiased=unbiased) - base) > 1e-2


@pytest.mark.parametrize("unbiased", [False, True])
def test_feature_and_gram_forms_agree(unbiased):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 5))
    Y = np.tanh(X @ rng.normal(size=(5, 8)))
    f = linear_cka(X, Y, unbiased=unbiased, form="feature")
    g = linear_cka(X, Y, unbiased=unbiased, form="gram")
    assert f == pytest.approx(g, rel=1e-10)
    # auto picks the Gram form when d ≥ n; same value
    Xw = rng.normal(size=(10, 40))
    Yw = Xw[:, :20] + 0.1 * rng.normal(size=(10, 20))
    assert linear_cka(Xw, Yw, unbiased=unbiased) == pytest.approx(
        linear_cka(Xw, Yw, unbiased=unbiased, form="feature"), rel=1e-10
    )


def test_against_plain_numpy():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(25, 4))
    Y = X**2 + rng.normal(size=(25, 4))
    assert linear_cka(X, Y) == pytest.approx(_numpy_cka(X, Y), rel=1e-12)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    K, L = Xc @ Xc.T, Yc @ Yc.T
    expected = _numpy_unbiased_hsic(K, L) / np.sqrt(_numpy_unbiased_hsic(K, K) * _numpy_unbiased_hsic(L, L))
    assert linear_cka(X, Y, unbiased=True) == pytest.approx(expected, rel=1e-10)


def test_biased_vs_unbiased():
    rng = np.random.default_rng(4)
    # dependent data, n ≫ d: both estimators agree
    X = rng.normal(size=(2000, 5))
    Y = X @ rng.normal(size=(5, 5)) + 0.1 * rng.normal(size=(2000, 5))
    assert linear_cka(X, Y) == pytest.approx(linear_cka(X, Y, unbiased=True), abs=0.01)
    # independent data with d comparable to n: biased CKA is far from 0, unbiased is near 0
    X = rng.normal(size=(100, 50))
    Y = rng.normal(size=(100, 50))
    assert linear_cka(X, Y) > 0.25
    assert abs(linear_cka(X, Y, unbiased=True)) < 0.05


def test_errors_and_types():
    X = np.random.default_rng(5).normal(size=(3, 2))
    for unbiased in (False, True):
        with pytest.raises(ValueError, match="at least 4"):
            linear_cka(X, X, unbiased=unbiased)
    with pytest.raises(ValueError):
        linear_cka(np.zeros((5, 2)), np.zeros((6, 2)))
    Xt = torch.randn(20, 3, 2, generator=torch.Generator().manual_seed(0))
    v = linear_cka(Xt, Xt.reshape(20, 6).numpy() @ np.eye(6))
    assert isinstance(v, float) and v == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("form", ["feature", "gram"])
def test_float32_precision_agrees_with_float64(monkeypatch, unbiased, form):
    from transferscope.metrics import cka

    rng = np.random.default_rng(7)
    Z = rng.normal(size=(300, 5))
    X = Z @ rng.normal(size=(5, 40)) + 0.5 * rng.normal(size=(300, 40)) + 3.0  # offset: centring matters
    Y = np.maximum(Z @ rng.normal(size=(5, 30)), 0.0) + 0.5 * rng.normal(size=(300, 30))
    exact = linear_cka(X, Y, unbiased=unbiased, form=form)
    one_block = linear_cka(X, Y, unbiased=unbiased, form=form, precision="float32")
    monkeypatch.setattr(cka, "_F32_BLOCK", 16)  # several float32 blocks, summed in float64
    blocked = linear_cka(X, Y, unbiased=unbiased, form=form, precision="float32")
    assert one_block == pytest.approx(exact, rel=1e-6) and one_block != exact
    assert blocked == pytest.approx(exact, rel=1e-6)
    assert linear_cka(X.astype(np.float32), X, precision="float32") == pytest.approx(1.0, abs=1e-6)


def test_torch_tensor_path_matches_numpy_path():
    # CPU inputs are computed with numpy; the same helpers run on torch tensors on other devices
    from transferscope.metrics.cka import _hsic_terms_feature, _hsic_terms_gram, _product

    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 6))
    X -= X.mean(0)
    T = torch.from_numpy(X.copy())
    for unbiased in (False, True):
        assert _hsic_terms_feature(T, T, unbiased, T, T) == pytest.approx(
            _hsic_terms_feature(X, X, unbiased, X, X), rel=1e-12
        )
        K, Kt = _product(X.T, X.T), _product(T.T, T.T)
        assert isinstance(Kt, torch.Tensor)
        assert _hsic_terms_gram(Kt, Kt, unbiased) == pytest.approx(_hsic_terms_gram(K, K, unbiased), rel=1e-12)
    T32 = T.to(torch.float32)
    assert torch.allclose(_product(T32, T32), torch.from_numpy(X.T @ X), rtol=1e-5, atol=1e-5)


def test_form_choice_minimises_multiply_adds():
    from transferscope.metrics.cka import cheaper_form

    assert cheaper_form(1000, 400, 400) == "feature"
    assert cheaper_form(1000, 600, 600) == "gram"  # both below n, yet the Gram form is cheaper
    assert cheaper_form(100, 21632, 10) == "gram"


def test_bad_precision_and_form_are_named():
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match="precision"):
        linear_cka(X, X, precision="float16")
    with pytest.raises(ValueError, match="form"):
        linear_cka(X, X, form="kernel")
