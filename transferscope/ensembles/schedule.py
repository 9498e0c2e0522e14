"""Learning-rate schedule of SSE / StarSSE, per epoch (thesis B's ``cosine+warmup_cosine`` with no warmup).

Member 1 is phase I: E epochs of cosine decay from ``lr``. Every later member is one cycle of F epochs that restarts
at ``cycle_lr`` and decays by cosine (never reaching 0). Epoch t of the whole trajectory (0-based) runs at

    t <  E:  lr       · ½ (1 + cos(π t / E))
    t >= E:  cycle_lr · ½ (1 + cos(π c / F)),   c = (t − E) mod F

Each member is its own job with a fresh optimizer, so SGD momentum is reset at every cycle boundary, as in the
original (``reset_optim_state=True``). Defaults: ``cycle_lr = 2·lr``, ``cycle_epochs = ⌊E/2⌋`` (thesis B's optimum
r = 2, q = 0.5).
"""
from __future__ import annotations

import math


def cycle_settings(recipe: dict, cycle_lr: float | None = None, cycle_epochs: int | None = None) -> tuple[float, int]:
    """(peak lr of a cycle, epochs of a cycle) with the defaults 2·lr and ⌊E/2⌋ (at least 1)."""
    lr_c = float(cycle_lr) if cycle_lr is not None else 2.0 * float(recipe["lr"])
    f = int(cycle_epochs) if cycle_epochs is not None else max(1, int(recipe["epochs"]) // 2)
    return lr_c, f


def member_recipe(recipe: dict, k: int, cycle_lr: float | None = None, cycle_epochs: int | None = None) -> dict:
    """Training recipe of member ``k`` (1-based): phase I for k = 1, one cosine cycle otherwise."""
    if k < 1:
        raise ValueError(f"members are numbered from 1, got {k}")
    if k == 1:
        return dict(recipe)
    lr_c, f = cycle_settings(recipe, cycle_lr, cycle_epochs)
    return {**recipe, "lr": lr_c, "epochs": f, "schedule": "cosine"}


def member_lrs(recipe: dict) -> list[float]:
    """Per-epoch learning rates a recipe produces in ``training.loop.train``."""
    from transferscope.training.optim import lr_factor  # optim defines torch classes; the plan must not import torch

    return [recipe["lr"] * lr_factor(recipe, e) for e in range(recipe["epochs"])]


def thesis_lr(t: int, epochs: int, cycle_epochs: int, lr: float, cycle_lr: float) -> float:
    """Learning rate of trajectory epoch ``t`` (0-based) by the formula of the original ``LambdaLR``."""
    if t < epochs:
        return lr * 0.5 * (1.0 + math.cos(math.pi * t / epochs))
    c = (t - epochs) % cycle_epochs
    return cycle_lr * 0.5 * (1.0 + math.cos(math.pi * c / cycle_epochs))


def trajectory_lrs(recipe: dict, members: int, cycle_lr: float | None = None,
                   cycle_epochs: int | None = None) -> list[float]:
    """Learning rate of every epoch of a K-member trajectory, member 1 first (what the member jobs run)."""
    out: list[float] = []
    for k in range(1, members + 1):
        out += member_lrs(member_recipe(recipe, k, cycle_lr, cycle_epochs))
    return out
