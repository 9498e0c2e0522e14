"""Optional CUDA speed options (config key ``cuda: {bf16, channels_last, compile}``), all off by default.

They act only when the model runs on a CUDA device; on the CPU every function here returns its input unchanged,
so CPU results are bit-identical with the options on or off.

- ``bf16``: the forward pass and loss run under ``torch.autocast("cuda", dtype=torch.bfloat16)``; weights,
  gradients and the optimizer stay float32 (bf16 needs no gradient scaler). Evaluation stays float32.
- ``channels_last``: weights and training batches in NHWC memory format (faster convolutions on tensor cores).
- ``compile``: ``model.compile()`` in place (``torch.compile`` of the forward); the state-dict keys stay the same,
  so checkpoints are unaffected. The first steps are slow (compilation): worth it for long jobs only.

Use: ``model = prepare_model_for_device(model, device, options)`` and
``train(..., loss_fn=accelerated_loss(default_loss, device, options))``.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch

OPTIONS = ("bf16", "channels_last", "compile")


def active_options(device: torch.device | str, options: dict | None) -> dict[str, bool]:
    """The options that take effect: all False unless ``device`` is CUDA (unknown keys are an error)."""
    options = dict(options or {})
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise ValueError(f"config key cuda: unknown option(s) {sorted(unknown)} (known: {list(OPTIONS)})")
    on_cuda = torch.device(device).type == "cuda"
    return {name: bool(options.get(name, False)) and on_cuda for name in OPTIONS}


def prepare_model_for_device(model: torch.nn.Module, device: torch.device | str, options: dict | None) -> torch.nn.Module:
    """Apply channels_last / compile to ``model`` (already on ``device``); a no-op off CUDA. Returns the model."""
    active = active_options(device, options)
    if active["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    if active["compile"]:
        model.compile()  # in place: parameters and state_dict keys unchanged
    return model


def autocast(device: torch.device | str, options: dict | None):
    """``torch.autocast`` to bfloat16 on CUDA when ``bf16`` is on, else a null context."""
    if active_options(device, options)["bf16"]:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def accelerated_loss(loss_fn: Callable, device: torch.device | str, options: dict | None) -> Callable:
    """``loss_fn(model, x, y)`` run under autocast with channels_last inputs as configured; ``loss_fn`` itself
    (the same object) when no option is active, so the CPU path is untouched."""
    active = active_options(device, options)
    if not (active["bf16"] or active["channels_last"]):
        return loss_fn

    def wrapped(model, x, y):
        if active["channels_last"] and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, options):
            loss, out = loss_fn(model, x, y)
        return loss.float(), out

    wrapped.__wrapped__ = loss_fn
    return wrapped
