"""Job functions of the analysis rules (called by thin workflow scripts)."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from transferscope.analysis.layer_metrics import layer_metric_rows
from transferscope.checkpoints import check_fits, load_checkpoint, model_from_checkpoint
from transferscope.data.bundle import Bundle
from transferscope.inference import Preprocess, extract, load_activations, sample_images, save_activations
from transferscope.io import write_csv
from transferscope.runtime import resolve_device

log = logging.getLogger("transferscope")


def checkpoint_activations(target: Bundle, checkpoints: dict[str, str], *, n_samples: int, pool: str, seed: int,
                           split: str = "test", device: str = "auto", flatten_units: int | None = None):
    """For each pre-trained checkpoint (point -> ckpt path): (point, path, layer -> n×d activations of the target's
    analysis sample, its n labels, its n bundle indices), one model in memory at a time. ``flatten_units``: keep
    that many seeded units of each wider flattened conv map (``inference.pool_taps``)."""
    dev = resolve_device(device)
    images, labels, indices = sample_images(target, n_samples, seed, split)
    for point, ckpt_path in checkpoints.items():
        blob = load_checkpoint(ckpt_path)
        check_fits(blob, target, ckpt_path)
        model = model_from_checkpoint(blob, ckpt_path).to(dev)
        yield point, ckpt_path, extract(model, images, Preprocess.of(target), pool=pool,
                                         max_units=flatten_units, seed=seed), \
            labels.numpy(), indices


def run_extract(target_path, checkpoints: dict[str, str], outputs: dict[str, str], *, n_samples: int, pool: str,
                seed: int, split: str = "test", device: str = "auto", flatten_units: int | None = None) -> None:
    """Activations of the target's analysis sample (``n_samples`` of its ``split`` part) for each pre-trained
    checkpoint (point -> ckpt path)."""
    target = Bundle.load(target_path)
    for point, ckpt_path, acts, labels, indices in checkpoint_activations(
            target, checkpoints, n_samples=n_samples, pool=pool, seed=seed, split=split, device=device,
            flatten_units=flatten_units):
        save_activations(outputs[point], acts, labels, indices,
                         {"checkpoint": str(ckpt_path), "target": target.meta.get("name"), "pool": pool, "split": split})
        log.info("extract %s: %d samples, layers %s", outputs[point], len(labels),
                 {k: v.shape[1] for k, v in acts.items()})


def run_model_metrics(target_path, checkpoints: dict[str, str], key: dict, metrics: list[str], out_csv: str | Path,
                      *, n_samples: int, pool: str, seed: int, split: str = "test", device: str = "auto",
                      twonn_subsets: int = 0, metric_bootstrap: int = 0,
                      flatten_units: int | None = None, layers: list[str] | None = None) -> pd.DataFrame:
    """Metrics table of one pre-training run (``key``: target, source, arch, seed) on one target: the activations of
    each checkpoint (point -> path) on the analysis sample are computed in memory, never written (rule extract
    writes them when asked), so a run of hundreds of models needs no activation store. ``layers``: the taps the
    feature metrics use (None: every tap)."""
    rows = []
    for i, (point, ckpt_path, acts, labels, _) in enumerate(checkpoint_activations(
            Bundle.load(target_path), checkpoints, n_samples=n_samples, pool=pool, seed=seed, split=split, device=device,
            flatten_units=flatten_units)):
        for row in layer_metric_rows(acts, labels, metrics, twonn_subsets=twonn_subsets, seed=seed,
                                     metric_bootstrap=metric_bootstrap, layers=layers):
            rows.append({**key, "checkpoint": point, **row})
        log.info("metrics %d/%d: %s", i + 1, len(checkpoints), ckpt_path)
    return write_metrics_table(rows, out_csv)


def run_layer_metrics(files: list[str], keys: list[dict], metrics: list[str], out_csv: str | Path,
                      twonn_subsets: int = 0, seed: int = 0, metric_bootstrap: int = 0) -> pd.DataFrame:
    """Metrics table (keys…, layer, metric, value, sd, ci_low, ci_high) over saved activation ``files``."""
    rows = []
    for i, (path, key) in enumerate(zip(files, keys)):
        acts, labels = load_activations(path)
        for row in layer_metric_rows(acts, labels, metrics, twonn_subsets=twonn_subsets, seed=seed,
                                     metric_bootstrap=metric_bootstrap):
            rows.append({**key, **row})
        log.info("metrics %d/%d: %s", i + 1, len(files), path)
    return write_metrics_table(rows, out_csv)


def write_metrics_table(rows: list[dict], out_csv: str | Path) -> pd.DataFrame:
    """Tidy metrics table: model keys, layer, metric, value, ``sd`` (TwoNN over ``twonn_subsets`` subsets),
    ``ci_low``/``ci_high`` (95 % bootstrap interval, ``metric_bootstrap`` replicates); NaN where not computed."""
    frame = pd.DataFrame(rows)
    for column in ("sd", "ci_low", "ci_high"):
        if column not in frame:
            frame[column] = float("nan")
    key_columns = [c for c in ("target", "source", "arch", "seed", "checkpoint", "mode") if c in frame]
    frame = frame[key_columns + ["layer", "metric", "value", "sd", "ci_low", "ci_high"]]
    write_csv(out_csv, frame)
    return frame
