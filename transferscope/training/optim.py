"""Optimizers and per-epoch learning-rate schedules built from a recipe dict."""
from __future__ import annotations

import math

import torch


def param_groups(model: torch.nn.Module, recipe: dict) -> list[dict]:
    """Trainable parameters in groups: one per layer named in ``recipe['layer_lr']`` (its own peak lr, kept as
    ``lr_scale`` relative to ``lr`` so schedules scale every group alike), the rest in one group at ``lr``."""
    from transferscope.models import get_layer

    layer_lr = recipe.get("layer_lr") or {}
    claimed: set[int] = set()
    groups = []
    for name, lr in layer_lr.items():
        params = [p for p in get_layer(model, name).parameters() if p.requires_grad and id(p) not in claimed]
        claimed.update(id(p) for p in params)
        if params:
            groups.append({"params": params, "lr_scale": lr / recipe["lr"], "layer": name})
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in claimed]
    if rest:
        groups.insert(0, {"params": rest, "lr_scale": 1.0})
    return groups


def build_optimizer(model: torch.nn.Module, recipe: dict) -> torch.optim.Optimizer:
    """The recipe's optimizer over the trainable parameters of ``model`` (per-layer lr via ``layer_lr``)."""
    params = param_groups(model, recipe)
    if not params:
        raise ValueError("no trainable parameters (every layer is frozen)")
    name, lr, wd = recipe["optimizer"], recipe["lr"], recipe.get("weight_decay", 0.0)
    # one fused kernel per step instead of ~10 foreach passes over the parameters (CPU: 3-4x less optimizer
    # time for the MNIST CNN); same update rule, results equal up to float rounding
    fused = all(p.dtype == torch.float32 and p.device.type in ("cpu", "cuda")
                for group in params for p in group["params"])
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd, fused=fused or None)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd, fused=fused or None)
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
    """Set every group's lr to ``lr`` times its ``lr_scale`` (1 when absent)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
