"""Checkpoint files and pre-trained weight files: save, load, rebuild a model, check it fits a dataset.

A checkpoint is a dict saved with ``torch.save``: ``state_dict`` (CPU tensors, BatchNorm buffers included), ``arch``,
``n_classes``, ``in_channels``, ``image_size`` (the model's input C×S×S), ``dataset``, ``role`` (pretrain,
pretrained, ensemble_member), ``seed``, ``point``, ``info`` (step, epoch, accuracies at the point), ``classes``,
plus job-specific keys (``provenance``, ``spec``, ...). Pre-training, imported weights and ensemble members all
write this shape, so fine-tuning, extraction and the ensemble jobs read any of them alike.

A weights file is a state dict from elsewhere (torchvision, a BYOL run): :func:`load_weights_file` reads every
format the project meets, and :func:`model_from_weights_file` builds a model with it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from transferscope.io import torch_load, torch_save
from transferscope.models import build_model, load_pretrained_state

# --- checkpoints ----------------------------------------------------------------------------------------------


def new_checkpoint(model: torch.nn.Module, *, arch: str, n_classes: int, in_channels: int, image_size: int,
                   dataset: str | None, role: str, seed: int, point: str, info: dict, classes: list | None,
                   **extra) -> dict:
    """What a checkpoint file holds: a CPU copy of the weights plus everything needed to rebuild and describe
    the model."""
    return {
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "arch": arch, "n_classes": n_classes, "in_channels": in_channels, "image_size": image_size,
        "dataset": dataset, "role": role, "seed": seed, "point": point, "info": info, "classes": classes, **extra,
    }


def checkpoint_blob(model: torch.nn.Module, *, arch: str, bundle, role: str, seed: int, point: str, info: dict,
                    **extra) -> dict:
    """:func:`new_checkpoint` of a model trained on ``bundle`` (a ``data.bundle.Bundle``: shape, classes, name)."""
    c, h, _ = bundle.shape
    return new_checkpoint(model, arch=arch, n_classes=bundle.n_classes, in_channels=c, image_size=h,
                          dataset=bundle.meta.get("name"), role=role, seed=seed, point=point, info=info,
                          classes=bundle.classes, **extra)


def save_checkpoint(path: str | Path, blob: dict) -> None:
    """Write a checkpoint atomically (temporary name, then rename)."""
    torch_save(path, blob)


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint file, with errors naming the path."""
    blob = torch_load(path, what="checkpoint")
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise RuntimeError(f"checkpoint {path} has no state_dict: not a transferscope checkpoint")
    return blob


def model_from_checkpoint(blob: dict, path: str | Path = "?") -> torch.nn.Module:
    """The checkpoint's model on the CPU, weights and buffers exactly as saved."""
    model = build_model(blob["arch"], blob["n_classes"], blob["in_channels"], blob["image_size"])
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        raise RuntimeError(f"checkpoint {path} does not fit {blob['arch']}: {exc}") from exc
    return model


def check_fits(blob: dict, bundle, path: str | Path = "?") -> None:
    """Raise ValueError unless the checkpoint's input shape (in_channels × image_size²) is the bundle's."""
    c, h, _ = bundle.shape
    if (blob["in_channels"], blob["image_size"]) != (c, h):
        raise ValueError(f"checkpoint {path} expects {blob['in_channels']}×{blob['image_size']}² images but target "
                         f"{bundle.meta.get('name')} has {c}×{h}²: add resize/grayscale/rgb derivations to the target")


# --- weight files ---------------------------------------------------------------------------------------------


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_weights_file(path: str | Path, sha256: str | None = None) -> dict:
    """State dict from a local weights file of any format the project meets.

    Accepts a plain state dict or one under ``state_dict`` and/or ``model_state`` (BYOL checkpoints of thesis B);
    a ``module.`` prefix (DataParallel) is stripped. Keys stay in the file's naming (each architecture converts its
    reference implementation's names: ``TapModel.convert_state_dict``). Raises naming the path when the file is
    missing, corrupt or its checksum differs from ``sha256``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path} (config key weights.<arch>.path)")
    if sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256:
            raise ValueError(f"weights file {path}: sha256 {actual} does not match weights.<arch>.sha256 {sha256}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RuntimeError(f"could not read weights file {path}: {exc}") from exc
    for wrapper in ("state_dict", "model_state"):
        if isinstance(state, dict) and wrapper in state:
            state = state[wrapper]
    if not isinstance(state, dict):
        raise RuntimeError(f"weights file {path} holds no state dict")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}


def model_from_weights_file(arch: str, n_classes: int, in_channels: int, image_size: int,
                            weights: dict) -> torch.nn.Module:
    """``arch`` for C×S×S inputs and ``n_classes`` with the weights file ``weights`` = {path, sha256?} loaded.

    The model is first built (drawing its initialisation from the global RNG); a head of another size keeps that
    initialisation, and so do the layers in ``weights["skip"]``; every other weight comes from the file.
    """
    model = build_model(arch, n_classes, in_channels, image_size)
    load_pretrained_state(model, load_weights_file(weights["path"], weights.get("sha256")), str(weights["path"]),
                          weights.get("skip", ()))
    return model
