"""The tensor bundle every dataset becomes: one file per dataset, loaded whole into memory.

A bundle holds
- ``images``: uint8 tensor N×C×H×W (pixel values 0..255),
- ``labels``: int64 tensor N (0..n_classes-1),
- ``split``: int8 tensor N with values TRAIN=0, VAL=1, TEST=2,
- ``classes``: list of class names (len = n_classes),
- ``meta``: dict (source name, derivations applied, normalisation mean/std per channel, ``input_size``, ...).

Images are stored at the size the source and its derivations give. ``meta["input_size"]`` (a dataset's
``input_size``), when set, is the side length the networks see: every batch is resized on its device
(``transferscope.inference.Preprocess``), so a 224-px view of CIFAR-100 is stored as 32×32 (184 MB, not 9 GB).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


from transferscope.io import torch_load, torch_save
from transferscope.lazy import lazy_module

torch = lazy_module("torch")

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_NAMES = {"train": TRAIN, "val": VAL, "test": TEST}


@dataclass
class Bundle:
    images: torch.Tensor  # uint8 N×C×H×W
    labels: torch.Tensor  # int64 N
    split: torch.Tensor  # int8 N, TRAIN/VAL/TEST
    classes: list[str]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 N×C×H×W, got {self.images.dtype} {tuple(self.images.shape)}")
        n = self.images.shape[0]
        if self.labels.shape != (n,) or self.split.shape != (n,):
            raise ValueError("labels and split must have one entry per image")
        self.labels = self.labels.long()
        self.split = self.split.to(torch.int8)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def input_size(self) -> int | None:
        """Side length the networks see (``meta["input_size"]``), or None: images as stored."""
        size = self.meta.get("input_size")
        return int(size) if size else None

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image as the networks see it (``input_size``², else as stored)."""
        return network_shape(tuple(self.images.shape), self.meta)

    def subset(self, split: int | str) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (uint8) and labels of one split."""
        code = SPLIT_NAMES[split] if isinstance(split, str) else split
        mask = self.split == code
        return self.images[mask], self.labels[mask]

    def counts(self) -> dict[str, int]:
        return {name: int((self.split == code).sum()) for name, code in SPLIT_NAMES.items()}

    def save(self, path: str | Path) -> None:
        torch_save(
            path,
            {
                "images": self.images,
                "labels": self.labels,
                "split": self.split,
                "classes": list(self.classes),
                "meta": dict(self.meta),
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> "Bundle":
        blob = torch_load(path, what="dataset bundle")
        try:
            return cls(blob["images"], blob["labels"], blob["split"], blob["classes"], blob.get("meta", {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise RuntimeError(f"dataset bundle {path} is malformed: {exc}") from exc


def network_shape(stored_shape: tuple[int, ...], meta: dict) -> tuple[int, int, int]:
    """(C, H, W) the networks see for images stored as N×C×H×W: ``meta["input_size"]``² when set."""
    c, h, w = stored_shape[1:]
    size = meta.get("input_size")
    return (c, int(size), int(size)) if size else (c, h, w)


def bundle_shape(path: str | Path) -> tuple[int, int, int]:
    """The network-facing (C, H, W) of the bundle at ``path``, read without loading its images (memory-mapped):
    cheap enough for Snakemake's resource callables."""
    blob = torch_load(path, what="dataset bundle", mmap=True)
    try:
        return network_shape(tuple(blob["images"].shape), blob.get("meta", {}))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RuntimeError(f"dataset bundle {path} is malformed: {exc}") from exc


@dataclass
class RawDataset:
    """What a source loader returns before derivations: images, labels, optional original split.

    ``split`` is None when the source has no official train/test split (a stratified split is made later),
    otherwise an int8 tensor with TRAIN/TEST codes.
    """

    images: torch.Tensor  # uint8 N×C×H×W
    labels: torch.Tensor  # int64 N
    classes: list[str]
    split: torch.Tensor | None = None
    meta: dict = field(default_factory=dict)
