"""Batched on-device augmentation and normalisation of uint8 image batches."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def normalise(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 B×C×H×W -> float32 (x/255 - mean) / std, mean/std shaped C."""
    x = images.to(torch.float32).div_(255.0)
    return (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def augment(x: torch.Tensor, generator: torch.Generator, translate: int = 0, hflip: bool = False) -> torch.Tensor:
    """Random shifts by up to ``translate`` pixels (zero padded) and horizontal flips, one draw per image.

    x: B×C×H×W float on any device; random numbers come from the CPU ``generator`` (reproducible).
    """
    b, c, h, w = x.shape
    if translate > 0:
        p = translate
        offsets = torch.randint(0, 2 * p + 1, (2, b), generator=generator).to(x.device)
        padded = F.pad(x, (p, p, p, p))
        rows = (offsets[0][:, None] + torch.arange(h, device=x.device)[None, :])  # B×H
        cols = (offsets[1][:, None] + torch.arange(w, device=x.device)[None, :])  # B×W
        bidx = torch.arange(b, device=x.device)[:, None, None, None]
        cidx = torch.arange(c, device=x.device)[None, :, None, None]
        x = padded[bidx, cidx, rows[:, None, :, None], cols[:, None, None, :]]
    if hflip:
        flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x = torch.where(flip.view(b, 1, 1, 1), x.flip(3), x)
    return x
