"""Batched on-device augmentation of image batches (before them: ``transferscope.inference.Preprocess``).

Three draws per image, in this order: a shift by up to ``translate`` px (zero padded), a random resized crop
(``resized_crop``: torchvision's ``RandomResizedCrop`` box, resampled back to the batch's side) and a horizontal
flip. Every random number comes from the CPU generator up front (:func:`draw_augment`), so an epoch's draws can be
made at once and copied to the device in one transfer, and the same seed gives the same batches on any device.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

CROP_TRIES = 10  # torchvision's RandomResizedCrop tries 10 boxes before its fallback


class Draws(NamedTuple):
    """Augmentation draws of N images (None where that augmentation is off): ``offsets`` 2×N int64 shifts in
    [0, 2·translate] (row, column); ``boxes`` N×4 float crop boxes (left, top, width, height) as fractions of the
    side; ``flips`` N bool."""

    offsets: torch.Tensor | None
    boxes: torch.Tensor | None
    flips: torch.Tensor | None

    def part(self, sl: slice) -> Draws:
        """The draws of images ``sl`` (a batch of an epoch's draws)."""
        return Draws(None if self.offsets is None else self.offsets[:, sl],
                     None if self.boxes is None else self.boxes[sl], None if self.flips is None else self.flips[sl])

    def to(self, device) -> Draws:
        return Draws(*(None if t is None else t.to(device) for t in self))


def draw_crop_boxes(generator: torch.Generator, n: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)) -> torch.Tensor:
    """N×4 boxes (left, top, width, height), fractions of a square image's side, drawn as torchvision's
    ``RandomResizedCrop.get_params``: area fraction ~ U(scale), aspect ratio w/h log-uniform in ``ratio``; the first
    of :data:`CROP_TRIES` boxes that fits, else the whole image clamped to ``ratio`` (its fallback), centred."""
    area = torch.empty(n, CROP_TRIES).uniform_(scale[0], scale[1], generator=generator)
    log_r = torch.empty(n, CROP_TRIES).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    u = torch.rand(n, CROP_TRIES, 2, generator=generator)  # where a box lands, for every try
    w, h = torch.sqrt(area * torch.exp(log_r)), torch.sqrt(area / torch.exp(log_r))
    fits = (w <= 1) & (h <= 1)
    first = torch.where(fits.any(1), fits.to(torch.int64).argmax(1), torch.full((n,), -1))
    rows = torch.arange(n)
    pick = first.clamp(min=0)
    w, h = w[rows, pick], h[rows, pick]
    left, top = u[rows, pick, 0] * (1 - w), u[rows, pick, 1] * (1 - h)
    # fallback: the widest box of aspect ratio within `ratio` (a square image: ratio 1 when 1 is in range), centred
    fw = torch.full((n,), min(1.0, ratio[1]) if ratio[0] <= 1 else 1.0)
    fh = torch.full((n,), 1.0 if ratio[0] <= 1 else 1.0 / ratio[0])
    none = first < 0
    w, h = torch.where(none, fw, w), torch.where(none, fh, h)
    left, top = torch.where(none, (1 - w) / 2, left), torch.where(none, (1 - h) / 2, top)
    return torch.stack([left, top, w, h], dim=1)


def draw_augment(generator: torch.Generator, batch_sizes: list[int], translate: int = 0, hflip: bool = False,
                 resized_crop: dict | None = None) -> Draws:
    """Random draws of :func:`augment` for consecutive batches, in the order it would make them (per batch: shifts,
    crop boxes, flips), concatenated over the batches; on the CPU."""
    offsets, boxes, flips = [], [], []
    for b in batch_sizes:
        if translate > 0:
            offsets.append(torch.randint(0, 2 * translate + 1, (2, b), generator=generator))
        if resized_crop is not None:
            boxes.append(draw_crop_boxes(generator, b, tuple(resized_crop.get("scale", (0.08, 1.0))),
                                         tuple(resized_crop.get("ratio", (3 / 4, 4 / 3)))))
        if hflip:
            flips.append(torch.rand(b, generator=generator) < 0.5)
    return Draws(torch.cat(offsets, dim=1) if offsets else None, torch.cat(boxes) if boxes else None,
                 torch.cat(flips) if flips else None)


def crop_resized(x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Each image of the B×C×H×W batch ``x`` cropped to its box (B×4 fractions: left, top, width, height) and
    resampled bilinearly back to H×W (one affine grid per image, on x's device)."""
    b = x.shape[0]
    left, top, w, h = boxes.to(x.dtype).unbind(1)
    theta = torch.zeros(b, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0], theta[:, 0, 2] = w, 2 * left + w - 1  # output x in [-1, 1] -> input 2·left - 1 .. 2·(left+w) - 1
    theta[:, 1, 1], theta[:, 1, 2] = h, 2 * top + h - 1
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def apply_augment(x: torch.Tensor, translate: int, draws: Draws) -> torch.Tensor:
    """Shift each image of the B×C×H×W batch ``x`` by ``draws.offsets`` (minus ``translate``; zero padded), crop it
    to ``draws.boxes`` resized back to H×W, and mirror those with ``draws.flips``; draws on x's device."""
    b, c, h, w = x.shape
    if draws.offsets is not None and translate > 0:
        p = translate
        padded = F.pad(x, (p, p, p, p))
        rows = (draws.offsets[0][:, None] + torch.arange(h, device=x.device)[None, :])  # B×H
        cols = (draws.offsets[1][:, None] + torch.arange(w, device=x.device)[None, :])  # B×W
        bidx = torch.arange(b, device=x.device)[:, None, None, None]
        cidx = torch.arange(c, device=x.device)[None, :, None, None]
        x = padded[bidx, cidx, rows[:, None, :, None], cols[:, None, None, :]]
    if draws.boxes is not None:
        x = crop_resized(x, draws.boxes)
    if draws.flips is not None:
        x = torch.where(draws.flips.view(b, 1, 1, 1), x.flip(3), x)
    return x


def augment(x: torch.Tensor, generator: torch.Generator, translate: int = 0, hflip: bool = False,
            resized_crop: dict | None = None) -> torch.Tensor:
    """Random shifts by up to ``translate`` pixels (zero padded), random resized crops (``resized_crop``: {scale,
    ratio}, None: off) and horizontal flips, one draw per image.

    x: B×C×H×W float on any device; random numbers come from the CPU ``generator`` (reproducible).
    """
    draws = draw_augment(generator, [x.shape[0]], translate, hflip, resized_crop)
    return apply_augment(x, translate, draws.to(x.device))
