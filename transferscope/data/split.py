"""Deterministic stratified splits and few-shot subsampling."""
from __future__ import annotations

import numpy as np
import torch

from transferscope.data.bundle import TEST, TRAIN, VAL


def stratified_split(labels: torch.Tensor, existing: torch.Tensor | None, test: float, val: float, seed: int) -> torch.Tensor:
    """Split codes (int8 N: TRAIN/VAL/TEST), stratified per class, reproducible from ``seed``.

    When ``existing`` holds an official split, its test part is kept and only val is carved from its train part.
    Each class keeps at least one training image.
    """
    rng = np.random.default_rng(seed)
    labels_np = labels.numpy()
    split = np.full(len(labels_np), TRAIN, dtype=np.int8)
    if existing is not None:
        split[existing.numpy() == TEST] = TEST
    for cls in np.unique(labels_np):
        idx = np.flatnonzero(labels_np == cls)
        if existing is None:
            idx = rng.permutation(idx)
            n_test = int(round(test * len(idx)))
            n_test = min(n_test, len(idx) - 1)
            split[idx[:n_test]] = TEST
            idx = idx[n_test:]
        else:
            idx = rng.permutation(idx[split[idx] == TRAIN])
        n_val = min(int(round(val * len(idx))), max(len(idx) - 1, 0))
        split[idx[:n_val]] = VAL
    return torch.from_numpy(split)


def few_shot(labels: torch.Tensor, split: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Boolean mask keeping ``per_class`` training images per class plus every val/test image."""
    rng = np.random.default_rng(seed + 7919)
    keep = (split != TRAIN).numpy().copy()
    labels_np, split_np = labels.numpy(), split.numpy()
    for cls in np.unique(labels_np):
        idx = np.flatnonzero((labels_np == cls) & (split_np == TRAIN))
        keep[rng.permutation(idx)[:per_class]] = True
    return torch.from_numpy(keep)
