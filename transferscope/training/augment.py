"""Batched on-device augmentation of image batches (before them: ``transferscope.inference.Preprocess``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def draw_augment(generator: torch.Generator, batch_sizes: list[int], translate: int = 0,
                 hflip: bool = False) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Random draws of :func:`augment` for consecutive batches, in the order it would make them.

    Returns (offsets, flips) on the CPU: 2×N int64 shift offsets in [0, 2·translate] (row, column) and N bool
    flip flags, N = Σ batch_sizes; None where that augmentation is off. The training loop draws a whole epoch at
    once and copies it to the device in one transfer (a per-step copy would wait for the GPU every step).
    """
    offsets, flips = [], []
    for b in batch_sizes:
        if translate > 0:
            offsets.append(torch.randint(0, 2 * translate + 1, (2, b), generator=generator))
        if hflip:
            flips.append(torch.rand(b, generator=generator) < 0.5)
    return (torch.cat(offsets, dim=1) if offsets else None, torch.cat(flips) if flips else None)


def apply_augment(x: torch.Tensor, translate: int, offsets: torch.Tensor | None,
                  flips: torch.Tensor | None) -> torch.Tensor:
    """Shift each image of the B×C×H×W batch ``x`` by ``offsets`` (2×B, minus ``translate``; zero padded) and
    mirror those with ``flips`` (B bool). Both on x's device, or None to skip."""
    b, c, h, w = x.shape
    if offsets is not None and translate > 0:
        p = translate
        padded = F.pad(x, (p, p, p, p))
        rows = (offsets[0][:, None] + torch.arange(h, device=x.device)[None, :])  # B×H
        cols = (offsets[1][:, None] + torch.arange(w, device=x.device)[None, :])  # B×W
        bidx = torch.arange(b, device=x.device)[:, None, None, None]
        cidx = torch.arange(c, device=x.device)[None, :, None, None]
        x = padded[bidx, cidx, rows[:, None, :, None], cols[:, None, None, :]]
    if flips is not None:
        x = torch.where(flips.view(b, 1, 1, 1), x.flip(3), x)
    return x


def augment(x: torch.Tensor, generator: torch.Generator, translate: int = 0, hflip: bool = False) -> torch.Tensor:
    """Random shifts by up to ``translate`` pixels (zero padded) and horizontal flips, one draw per image.

    x: B×C×H×W float on any device; random numbers come from the CPU ``generator`` (reproducible).
    """
    offsets, flips = draw_augment(generator, [x.shape[0]], translate, hflip)
    return apply_augment(x, translate, None if offsets is None else offsets.to(x.device),
                         None if flips is None else flips.to(x.device))
