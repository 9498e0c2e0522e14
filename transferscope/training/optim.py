"""Optimizers and per-epoch learning-rate schedules built from a recipe dict."""
from __future__ import annotations

import math

import torch


def build_optimizer(params, recipe: dict) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("no trainable parameters (every layer is frozen)")
    name, lr, wd = recipe["optimizer"], recipe["lr"], recipe.get("weight_decay", 0.0)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=recipe.get("momentum", 0.9), weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}")


def lr_factor(recipe: dict, epoch: int) -> float:
    """Multiplier of the peak lr during ``epoch`` (0-based), per-epoch schedule."""
    schedule, epochs = recipe.get("schedule", "constant"), recipe["epochs"]
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    if schedule == "step":
        return recipe.get("gamma", 0.1) ** (epoch // recipe.get("step_size", 20))
    raise ValueError(f"unknown schedule {schedule!r}")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
