"""From a dataset spec in the config to a saved tensor bundle."""
from __future__ import annotations

from pathlib import Path

import torch

from transferscope.data.bundle import TRAIN, Bundle, RawDataset
from transferscope.data.derive import apply_derivations
from transferscope.data.sources import get_source
from transferscope.data.split import few_shot, stratified_split


def load_source(spec: dict, data_root: str | Path = "data", download: bool = False) -> RawDataset:
    """Load the raw images of a dataset spec's ``source`` (an entry of ``transferscope.data.sources``)."""
    return get_source(spec["source"]).load(spec, data_root, download)


def build_bundle(name: str, spec: dict, data_root: str | Path = "data", download: bool = False) -> Bundle:
    """Load, derive, split, subsample and compute normalisation for one named dataset."""
    raw = load_source(spec, data_root, download)
    split_cfg = {"test": 0.2, "val": 0.1, "seed": 0, **spec.get("split", {})}
    raw = apply_derivations(raw, spec.get("derive", []), seed=split_cfg["seed"])
    split = stratified_split(raw.labels, raw.split, split_cfg["test"], split_cfg["val"], split_cfg["seed"])
    images, labels = raw.images, raw.labels
    if spec.get("few_shot"):
        keep = few_shot(labels, split, spec["few_shot"], split_cfg["seed"])
        images, labels, split = images[keep], labels[keep], split[keep]
    mean, std = _normalisation(spec.get("normalize", "auto"), images[split == TRAIN])
    meta = {
        "name": name,
        "source": spec["source"],
        "derive": spec.get("derive", []),
        "split": split_cfg,
        "few_shot": spec.get("few_shot"),
        "mean": mean,
        "std": std,
        "input_size": spec.get("input_size"),
        **({"eval_crop": spec["eval_crop"]} if spec.get("eval_crop") else {}),
        **{f"origin_{k}": v for k, v in raw.meta.items()},
    }
    return Bundle(images.contiguous(), labels, split, list(raw.classes), meta)


def _normalisation(option, train_images: torch.Tensor) -> tuple[list[float], list[float]]:
    channels = train_images.shape[1]
    if option == "none":
        return [0.0] * channels, [1.0] * channels
    if isinstance(option, dict):
        mean, std = list(option["mean"]), list(option["std"])
        if len(mean) != channels or len(std) != channels:
            raise ValueError(f"normalize: mean/std need {channels} values (one per channel)")
        return mean, std
    return channel_stats(train_images)


def channel_stats(images: torch.Tensor, chunk: int = 1024) -> tuple[list[float], list[float]]:
    """Per-channel mean and sample std (0..1 pixel units) of uint8 N×C×H×W ``images``, from float64 sums over
    ``chunk`` images at a time: a float copy of the whole set (4 GB for 3,500 images at 224 px) is never made."""
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    for start in range(0, images.shape[0], chunk):
        x = images[start:start + chunk].to(torch.float64).div_(255.0)
        total += x.sum(dim=(0, 2, 3))
        squares += x.square().sum(dim=(0, 2, 3))
    n = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / n
    var = (squares - n * mean.square()) / max(n - 1, 1)
    std = var.clamp_min(0).sqrt().clamp_min(1e-6)
    return [float(m) for m in mean], [float(s) for s in std]
