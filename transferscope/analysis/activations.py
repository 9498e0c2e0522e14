"""Layer activations of a fixed, seeded, class-balanced sample of target test images.

Stored as one compressed ``.npz`` per model: ``layers`` (names), ``labels`` (n), ``indices`` (n, positions in the
bundle), and ``act:<layer>`` arrays n×d (float32). Conv maps are pooled per ``pool``:
``flatten`` (thesis A: every unit), ``gap`` (global average over space, one value per channel) or ``both``
(``<tap>`` flattened plus ``<tap>:gap``). The input tap ``in`` is always flattened.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from transferscope.data.bundle import TEST, Bundle
from transferscope.io import write_npz
from transferscope.training.loop import eval_batches


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


def sample_images(bundle: Bundle, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """The analysis sample of a target bundle: (uint8 images, labels, indices)."""
    idx = balanced_sample(bundle.labels, bundle.split, n, seed)
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
