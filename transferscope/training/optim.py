"""Optimizers and per-epoch learning-rate schedules built from a recipe dict.

:class:`PlainSGD` is SGD with momentum and weight decay, the same arithmetic as ``torch.optim.SGD`` (no Nesterov,
no dampening), without ``torch.optim``'s start-up cost: ``torch.optim.Optimizer.step`` imports ``torch._dynamo`` on
its first call (to insert a graph break), which costs more CPU per process than training one small ensemble member
takes (measured: ``benchmarks/README.md``). Jobs made of many short trainings use it; its updates are bit-identical
to ``torch.optim.SGD`` (tested).
"""
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
    # one fused kernel per step instead of ~10 foreach passes over the parameters (much less optimizer time on
    # the CPU, see benchmarks/README.md); same update rule, results equal up to float rounding
    fused = all(p.dtype == torch.float32 and p.device.type in ("cpu", "cuda")
                for group in params for p in group["params"])
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd, fused=fused or None)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd, fused=fused or None)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=recipe.get("momentum", 0.9), weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}")


class PlainSGD:
    """Minimal optimizer with the interface ``training.loop.train`` uses (param_groups, zero_grad, step,
    state_dict, load_state_dict).

    Update per parameter with a gradient: ``d = g + wd·p``; ``buf = d`` at the first step, else ``buf = μ·buf + d``;
    ``p −= lr·buf``. Parameters without a gradient (frozen) are skipped. Only parameters with ``requires_grad`` are
    kept, so a model with frozen layers gets an optimizer over its trainable parameters only.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("no trainable parameters (every layer is frozen)")
        self.param_groups = [{"params": self.params, "lr": float(lr), "momentum": float(momentum),
                              "weight_decay": float(weight_decay)}]
        self.buffers: list[torch.Tensor | None] = [None] * len(self.params)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            d = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
            if momentum != 0:
                buf = self.buffers[i]
                if buf is None:
                    buf = self.buffers[i] = torch.clone(d).detach()
                else:
                    buf.mul_(momentum).add_(d)
                d = buf
            p.add_(d, alpha=-lr)

    def state_dict(self) -> dict:
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {"buffers": [None if b is None else b.clone() for b in self.buffers], "group": group}

    def load_state_dict(self, state: dict) -> None:
        if len(state["buffers"]) != len(self.params):
            raise ValueError("optimizer state does not match the trainable parameters")
        self.buffers = [None if b is None else b.to(p.device) for b, p in zip(state["buffers"], self.params)]
        self.param_groups[0].update(state["group"])


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
