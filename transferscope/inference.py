"""Models applied to uint8 image tensors in eval mode: batched evaluation, taps, pooling, the analysis sample.

Used by training (evaluation at points and epoch ends), ensembles (member predictions) and analysis (activations);
it imports none of them.

Activation files (written by extraction and by fine-tuning, read by the metrics): one compressed ``.npz`` per model
with ``layers`` (names), ``labels`` (n), ``indices`` (n, positions in the bundle), ``meta`` and ``act:<layer>``
arrays n×d (float32) of a fixed, seeded, class-balanced sample of target test images. Conv maps are pooled per
``pool``: ``flatten`` (thesis A: every unit), ``gap`` (global average over space, one value per channel) or ``both``
(``<tap>`` flattened plus ``<tap>:gap``). The input tap ``in`` is always flattened.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from transferscope.data.bundle import SPLIT_NAMES, TEST, Bundle
from transferscope.io import write_npz
from transferscope.models.specs import PREDICTION

# --- batched evaluation ---------------------------------------------------------------------------------------

# Pixels (H×W) of one evaluation batch: 1,024 images up to 32×32, fewer for larger images (20 at 224×224), so a
# VGG16 forward pass at 224 px holds ~0.3 GB of first-layer maps instead of ~13 GB at 1,024 images.
EVAL_PIXELS = 1024 * 32 * 32


def eval_batch_size(side: int, cap: int = 1024, pixels: int = EVAL_PIXELS) -> int:
    """Images per evaluation batch for square inputs of ``side`` pixels: ``pixels`` / side², within 1..``cap``."""
    return max(1, min(cap, pixels // max(1, side * side)))


@dataclass
class Preprocess:
    """How stored uint8 images become a network's input, one batch at a time on the batch's device.

    ``mean``/``std``: per-channel normalisation in 0..1 pixel units (C floats); ``size``: side length the network
    sees: a batch whose side differs is resized there (bilinear, antialiased), so a dataset is stored once at its
    native resolution (``input_size`` in a dataset spec) and never as an upsampled copy. None: as stored.
    ``eval_crop``: fraction of the side an *evaluation* batch keeps, centred, before that resize (a dataset's
    ``eval_crop``; thesis B's Resize 256 + CenterCrop 224 is 0.875); training batches (``train=True``) are never
    centre-cropped. None: no crop.
    """

    mean: torch.Tensor  # float32 C
    std: torch.Tensor  # float32 C
    size: int | None = None
    eval_crop: float | None = None

    def __post_init__(self) -> None:
        self.mean = torch.as_tensor(self.mean, dtype=torch.float32)
        self.std = torch.as_tensor(self.std, dtype=torch.float32)

    @classmethod
    def of(cls, bundle: Bundle) -> "Preprocess":
        """The preprocessing a bundle's ``meta`` asks for (mean, std, input_size, eval_crop)."""
        return cls(bundle.meta["mean"], bundle.meta["std"], bundle.input_size, bundle.meta.get("eval_crop"))

    def to(self, device: torch.device | str) -> "Preprocess":
        return Preprocess(self.mean.to(device), self.std.to(device), self.size, self.eval_crop)

    def __call__(self, images: torch.Tensor, train: bool = False) -> torch.Tensor:
        """uint8 B×C×H×W -> float32 B×C×S×S: x/255, (evaluation only) the central ``eval_crop`` of the side, resized
        to S = ``size`` (else the stored side) if the side differs, (x - mean) / std."""
        x = images.to(torch.float32).div_(255.0)
        side = self.size or x.shape[-1]
        if self.eval_crop is not None and not train:
            x = center_crop(x, self.eval_crop)
        if tuple(x.shape[-2:]) != (side, side):
            x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
        mean, std = self.mean.to(x.device), self.std.to(x.device)
        return (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def center_crop(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """The central round(fraction × side) pixels of each side of B×C×H×W ``x``, placed as torchvision's
    ``CenterCrop`` places them (offset round((H - h) / 2))."""
    h, w = x.shape[-2:]
    ch, cw = max(1, round(h * fraction)), max(1, round(w * fraction))
    top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
    return x[..., top:top + ch, left:left + cw]


@torch.no_grad()
def eval_batches(model: torch.nn.Module, images: torch.Tensor, prep: Preprocess, batch_size: int | None = None,
                 taps: bool = False) -> Iterator:
    """The model's output for consecutive batches of uint8 ``images`` in eval mode, one batch at a time.

    Each batch is moved to the model's device and preprocessed there by ``prep``; ``batch_size`` None: chosen from
    the input side (:func:`eval_batch_size`). Yields the B×K log-probabilities, or with ``taps`` the dict tap ->
    tensor. Afterwards every module gets back its own train/eval mode: layers frozen in eval mode inside a training
    model (their BatchNorm statistics) stay frozen when an evaluation point falls inside an epoch.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    device = next(model.parameters()).device
    prep = prep.to(device)
    batch_size = batch_size or eval_batch_size(prep.size or images.shape[-1])
    try:
        for i in range(0, len(images), batch_size):
            x = prep(images[i:i + batch_size].to(device))
            yield model(x, taps=True) if taps else model(x)
    finally:
        for module, training in modes:
            module.training = training


def predict_log_probs(model: torch.nn.Module, images: torch.Tensor, prep: Preprocess,
                      batch_size: int | None = None) -> torch.Tensor:
    """Log-probabilities N×K of ``images`` (uint8) in eval mode."""
    outs = list(eval_batches(model, images, prep, batch_size))
    return torch.cat(outs) if outs else torch.empty(0)


def evaluate(model, images, labels, prep: Preprocess) -> tuple[float, float]:
    """(mean NLL loss, accuracy in 0..1) on uint8 images."""
    logp = predict_log_probs(model, images, prep)
    loss = F.nll_loss(logp, labels).item()
    acc = (logp.argmax(1) == labels).float().mean().item()
    return loss, acc


def predict_probs(model: torch.nn.Module, images: torch.Tensor, prep: Preprocess,
                  batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(probabilities N×K, pooled features N×d from the ``pool`` tap or None) in eval mode, float32 numpy."""
    probs, pooled = predict_pooled(model, images, prep, ("pool",), batch_size)
    return probs, pooled.get("pool")


def predict_pooled(model: torch.nn.Module, images: torch.Tensor, prep: Preprocess, taps=("pool",),
                   batch_size: int | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(probabilities N×K, tap -> N×C_tap) of uint8 ``images`` in eval mode, float32 numpy, one forward pass.

    A conv-map tap (B×C×H×W) is averaged over space, one value per channel (``gap`` of :func:`pool_taps`); a dense
    tap (``pool``: B×C) is kept as it is. Taps the model does not return are left out of the dict, which follows
    the order of ``taps``."""
    probs, parts = [], {}
    for out in eval_batches(model, images, prep, batch_size, taps=True):
        probs.append(out[PREDICTION].exp().float().cpu())
        for name, value in pool_taps({t: out[t] for t in taps if t in out}, "gap").items():
            parts.setdefault(name, []).append(value.float().cpu())
    p = torch.cat(probs).numpy() if probs else np.zeros((0, 0), np.float32)
    return p, {name: torch.cat(values).numpy() for name, values in parts.items()}


# --- taps and pooling -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)  # drawn once per width, not once per batch
def unit_subset(d: int, max_units: int | None, seed: int = 0) -> np.ndarray | None:
    """Sorted indices of ``max_units`` of ``d`` units, drawn by a generator seeded with (seed, d): every model with
    a tap of that width keeps the same units. None when nothing is dropped (``max_units`` None or ≥ d). The array
    is shared between calls: read it, never write it."""
    if max_units is None or d <= max_units:
        return None
    return np.sort(np.random.default_rng([seed, d]).choice(d, size=max_units, replace=False))


def pool_taps(taps: dict[str, torch.Tensor], pool: str, max_units: int | None = None,
              seed: int = 0) -> dict[str, torch.Tensor]:
    """Flatten / globally average conv maps per ``pool``; returns tap name -> B×d.

    ``max_units``: a flattened conv map (and the input) wider than this keeps that many of its units, the same ones
    for every model (:func:`unit_subset` with ``seed``); pooled and dense taps are kept whole.
    """
    out = {}
    for name, value in taps.items():
        conv = value.ndim == 4 and name != "in"
        if not conv or pool in ("flatten", "both"):
            flat = value.flatten(1)
            keep = unit_subset(flat.shape[1], max_units, seed) if value.ndim == 4 else None
            out[name] = flat if keep is None else flat[:, torch.from_numpy(keep).to(flat.device)]
        if conv and pool in ("gap", "both"):
            out[name if pool == "gap" else f"{name}:gap"] = value.mean(dim=(2, 3))
    return out


@torch.no_grad()
def extract(model: torch.nn.Module, images: torch.Tensor, prep: Preprocess, pool: str = "flatten",
            batch_size: int | None = None, max_units: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Activations of uint8 ``images`` at every tap of ``model`` in eval mode: layer -> n×d float32.

    ``batch_size`` None: :func:`eval_batch_size` capped at 256; ``max_units``/``seed``: see :func:`pool_taps` (the
    units are chosen per batch, so a wide flattened map is never held whole beyond one batch)."""
    batch_size = batch_size or eval_batch_size(prep.size or images.shape[-1], cap=256)
    parts: dict[str, list[np.ndarray]] = {}
    for out in eval_batches(model, images, prep, batch_size, taps=True):
        for name, value in pool_taps({tap: out[tap] for tap in model.tap_names}, pool, max_units, seed).items():
            parts.setdefault(name, []).append(value.float().cpu().numpy())
    # one layer's batches are freed as soon as it is joined: the peak is every layer once plus the widest one
    return {name: np.concatenate(parts.pop(name)) for name in list(parts)}


# --- the analysis sample and activation files -----------------------------------------------------------------


def balanced_sample(labels: torch.Tensor, split: torch.Tensor, n: int, seed: int, part: int = TEST) -> np.ndarray:
    """Indices of ``n`` images of split ``part``, n // n_classes per class (fewer if a class is short), sorted
    by class then by position, chosen by a generator seeded with ``seed`` (the same for every model)."""
    rng = np.random.default_rng(seed)
    labels_np, split_np = labels.numpy(), split.numpy()
    classes = np.unique(labels_np)
    per_class = max(1, n // len(classes))
    chosen = []
    for cls in classes:
        idx = np.flatnonzero((labels_np == cls) & (split_np == part))
        chosen.append(np.sort(rng.permutation(idx)[:per_class]))
    return np.concatenate(chosen)


def sample_images(bundle: Bundle, n: int, seed: int, split: str = "test"
                  ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """The analysis sample of a target bundle, drawn from its ``split`` part (``test`` or ``train``; LogME's authors
    score the target's training data): (uint8 images, labels, indices)."""
    idx = balanced_sample(bundle.labels, bundle.split, n, seed, SPLIT_NAMES[split])
    t = torch.from_numpy(idx)
    return bundle.images[t], bundle.labels[t], idx


def save_activations(path: str | Path, acts: dict[str, np.ndarray], labels, indices, meta: dict) -> None:
    arrays = {f"act:{k}": v for k, v in acts.items()}
    write_npz(path, compressed=True, layers=np.array(list(acts)), labels=np.asarray(labels),
              indices=np.asarray(indices), meta=np.array(repr(meta)), **arrays)


def load_activations(path: str | Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(layer -> n×d array, labels) from a file written by save_activations; errors name the path."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"activation file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            layers = [str(x) for x in data["layers"]]
            return {name: data[f"act:{name}"] for name in layers}, data["labels"]
    except Exception as exc:
        raise RuntimeError(f"could not read activation file {path}: {exc}") from exc
