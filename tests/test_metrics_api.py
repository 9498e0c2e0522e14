"""Uniform interface: numpy or torch in (any float dtype, extra axes), Python float out."""

import numpy as np
import pytest
import torch

import transferscope.metrics as M

rng = np.random.default_rng(0)
X = rng.normal(size=(24, 3, 2))
Y = rng.normal(size=(24, 5))
y = np.repeat(np.arange(3), 8)
P = np.exp(Y[:, :4]) / np.exp(Y[:, :4]).sum(axis=1, keepdims=True)

CASES = {
    "sum_of_squares": lambda a, b: M.sum_of_squares(a, y),
    "rsa": lambda a, b: M.rsa(a, y),
    "rsa_between": lambda a, b: M.rsa_between(a, b),
    "twonn": lambda a, b: M.twonn(a),
    "linear_cka": lambda a, b: M.linear_cka(a, b),
    "linear_cka_unbiased": lambda a, b: M.linear_cka(a, b, unbiased=True),
    "rtd": lambda a, b: M.rtd(a, b),
    "logme": lambda a, b: M.logme(a, y),
    "hscore": lambda a, b: M.hscore(a, y),
    "transrate": lambda a, b: M.transrate(a, y),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_and_torch_give_same_float(name):
    fn = CASES[name]
    ref = fn(X, Y)
    assert type(ref) is float
    as_torch = fn(torch.tensor(X), torch.tensor(Y))
    assert type(as_torch) is float and as_torch == pytest.approx(ref, rel=1e-12, abs=1e-12)
    flat = fn(X.reshape(24, 6), Y)
    assert flat == pytest.approx(ref, rel=1e-12, abs=1e-12)
    f32 = fn(torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32))
    assert type(f32) is float and f32 == pytest.approx(ref, rel=1e-3, abs=1e-4)


def test_label_scores_accept_torch_and_return_float():
    assert type(M.leep(torch.tensor(P), torch.tensor(y))) is float
    assert type(M.nce(torch.tensor(P.argmax(1)), torch.tensor(y))) is float
    D = M.rdm(torch.tensor(X))
    assert isinstance(D, np.ndarray) and D.shape == (24, 24)
    mean, std = M.twonn_subsets(torch.tensor(X), n_subsets=3)
    assert type(mean) is float and type(std) is float


def test_label_length_checked():
    with pytest.raises(ValueError):
        M.sum_of_squares(X, y[:-1])
    with pytest.raises(ValueError):
        M.hscore(X, np.array([0.5] * 24))
