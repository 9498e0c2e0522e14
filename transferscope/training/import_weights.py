"""Import job: a dataset-less source (config ``pretrained:``) becomes a checkpoint ``final`` like pre-training's.

Thesis A's VGG16 sources are downloaded networks (ImageNet; optionally Places365, VGG-Face, ...) or an untrained
VGG16 (``random_init``, seeds 1-3): nothing to pre-train. Rule import_weights writes their checkpoint where rule
pretrain would (``results/pretrain/{source}/{arch}/seed{seed}/final.pt``, same keys as
``checkpoints.checkpoint_blob``), plus a one-row train_log.csv, so fine-tuning, extraction and the tables use it
unchanged.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd
import torch

from transferscope.checkpoints import model_from_weights_file, new_checkpoint, save_checkpoint
from transferscope.io import provenance, write_csv
from transferscope.models import build_model

log = logging.getLogger("transferscope")


def imported_blob(*, source: str, arch: str, seed: int, entry: dict) -> dict:
    """Checkpoint dict of a ``pretrained:`` entry: {path, sha256?} = a local weights file; {random: true} = the
    architecture's initialisation under ``torch.manual_seed(seed)``."""
    n_classes, channels, size = entry.get("n_classes", 1000), entry.get("in_channels", 3), entry.get("image_size", 224)
    if entry.get("random"):
        torch.manual_seed(seed)
        model = build_model(arch, n_classes, channels, size)
        origin = "random initialisation"
    elif entry.get("path"):
        weights = {"path": entry["path"], "sha256": entry.get("sha256"), "skip": entry.get("skip", [])}
        model = model_from_weights_file(arch, n_classes, channels, size, weights)
        origin = str(entry["path"])
    else:
        raise ValueError(f"pretrained.{source}.{arch}: needs path (a weights file) or random: true")
    return new_checkpoint(model, arch=arch, n_classes=n_classes, in_channels=channels, image_size=size, dataset=None,
                          role="pretrained", seed=seed, point="final", info={"step": 0, "epoch": 0.0}, classes=None,
                          source=source, origin=origin, provenance=provenance(entry=entry, seed=seed))


def run_import_weights(*, source: str, arch: str, seed: int, entry: dict, checkpoint: str | Path,
                       train_log: str | Path) -> dict:
    """Write the checkpoint ``final`` of a ``pretrained:`` source and its one-row log; returns the blob."""
    blob = imported_blob(source=source, arch=arch, seed=seed, entry=entry)
    save_checkpoint(checkpoint, blob)
    nan = math.nan
    row = {"source": source, "arch": arch, "seed": seed, "epoch": 0, "step": 0, "train_loss": nan,
           "train_acc": nan, "test_acc": nan, "origin": blob["origin"]}
    write_csv(train_log, pd.DataFrame([row]))
    log.info("imported %s/%s seed %d from %s -> %s", source, arch, seed, blob["origin"], checkpoint)
    return blob
