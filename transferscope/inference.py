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

from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from transferscope.data.bundle import SPLIT_NAMES, TEST, Bundle
from transferscope.io import write_npz

# --- batched evaluation ---------------------------------------------------------------------------------------


def normalise(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 B×C×H×W -> float32 (x/255 - mean) / std, mean/std shaped C."""
    x = images.to(torch.float32).div_(255.0)
    return (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


@torch.no_grad()
def eval_batches(model: torch.nn.Module, images: torch.Tensor, mean, std, batch_size: int = 1024,
                 taps: bool = False) -> Iterator:
    """The model's output for consecutive batches of uint8 ``images`` in eval mode, one batch at a time.

    Each batch is moved to the model's device and normalised with ``mean``/``std`` (per channel). Yields the
    B×K log-probabilities, or with ``taps`` the dict tap -> tensor. Afterwards every module gets back its own
    train/eval mode: layers frozen in eval mode inside a training model (their BatchNorm statistics) stay frozen
    when an evaluation point falls inside an epoch.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    device = next(model.parameters()).device
    mean = torch.as_tensor(mean, dtype=torch.float32, device=device)
    std = torch.as_tensor(std, dtype=torch.float32, device=device)
    try:
        for i in range(0, len(images), batch_size):
            x = normalise(images[i:i + batch_size].to(device), mean, std)
            yield model(x, taps=True) if taps else model(x)
    finally:
        for module, training in modes:
            module.training = training


def predict_log_probs(model: torch.nn.Module, images: torch.Tensor, mean, std, batch_size: int = 1024) -> torch.Tensor:
    """Log-probabilities N×K of ``images`` (uint8) in eval mode."""
    outs = list(eval_batches(model, images, mean, std, batch_size))
    return torch.cat(outs) if outs else torch.empty(0)


def evaluate(model, images, labels, mean, std) -> tuple[float, float]:
    """(mean NLL loss, accuracy in 0..1) on uint8 images."""
    logp = predict_log_probs(model, images, mean, std)
    loss = F.nll_loss(logp, labels).item()
    acc = (logp.argmax(1) == labels).float().mean().item()
    return loss, acc


def predict_probs(model: torch.nn.Module, images: torch.Tensor, mean, std,
                  batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray | None]:
    """(probabilities N×K, pooled features N×d from the ``pool`` tap or None) in eval mode, float32 numpy."""
    probs, feats = [], []
    for out in eval_batches(model, images, mean, std, batch_size, taps=True):
        probs.append(out["out"].exp().float().cpu())
        if "pool" in out:
            feats.append(out["pool"].float().cpu())
    p = torch.cat(probs).numpy() if probs else np.zeros((0, 0), np.float32)
    f = torch.cat(feats).numpy() if feats else None
    return p, f


# --- taps and pooling -----------------------------------------------------------------------------------------


def pool_taps(taps: dict[str, torch.Tensor], pool: str) -> dict[str, torch.Tensor]:
    """Flatten / globally average conv maps per ``pool``; returns tap name -> B×d."""
    out = {}
    for name, value in taps.items():
        if value.ndim == 4 and name != "in":
            if pool in ("flatten", "both"):
                out[name] = value.flatten(1)
            if pool in ("gap", "both"):
                out[name if pool == "gap" else f"{name}:gap"] = value.mean(dim=(2, 3))
        else:
            out[name] = value.flatten(1)
    return out


@torch.no_grad()
def extract(model: torch.nn.Module, images: torch.Tensor, mean, std, pool: str = "flatten",
            batch_size: int = 256) -> dict[str, np.ndarray]:
    """Activations of uint8 ``images`` at every tap of ``model`` in eval mode: layer -> n×d float32."""
    parts: dict[str, list[np.ndarray]] = {}
    for out in eval_batches(model, images, mean, std, batch_size, taps=True):
        for name, value in pool_taps(out, pool).items():
            parts.setdefault(name, []).append(value.float().cpu().numpy())
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


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
