"""SGD with momentum and weight decay, the same arithmetic as ``torch.optim.SGD`` (no Nesterov, no dampening),
without ``torch.optim``'s start-up cost.

Why: ``torch.optim.Optimizer.step`` imports ``torch._dynamo`` on its first call (to insert a graph break), which costs
about 2 s of CPU per process with torch 2.14 — more than training one small member takes. Ensemble members are many
short jobs, so they use this class; the updates are bit-identical to ``torch.optim.SGD`` (tested).

Update per parameter with a gradient: ``d = g + wd·p``; ``buf = d`` at the first step, else ``buf = μ·buf + d``;
``p −= lr·buf``. Parameters without a gradient (frozen) are skipped. Only parameters with ``requires_grad`` are
kept, so a model with frozen layers gets an optimizer over its trainable parameters only.
"""
from __future__ import annotations

import torch


class PlainSGD:
    """Minimal optimizer with the interface ``training.loop.train`` uses (param_groups, zero_grad, step,
    state_dict, load_state_dict)."""

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


def member_optimizer(model: torch.nn.Module, recipe: dict):
    """``PlainSGD`` for SGD recipes, else the project's ``build_optimizer`` (over trainable parameters)."""
    if recipe.get("optimizer") == "sgd" and not recipe.get("layer_lr"):
        return PlainSGD(model.parameters(), recipe["lr"], recipe.get("momentum", 0.9), recipe.get("weight_decay", 0.0))
    from transferscope.training.optim import build_optimizer

    return build_optimizer(model, recipe)
