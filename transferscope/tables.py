"""Tidy tables assembled from per-job artefacts."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from transferscope.io import write_csv

FINETUNE_COLUMNS = ["target", "source", "arch", "seed", "checkpoint", "mode", "test_acc", "test_loss", "best_epoch",
                    "best_val_acc", "val_acc", "lr", "train_seconds", "n_train", "epochs", "trainable_params"]


def is_true(value) -> bool:
    """True for a true boolean cell (numpy or Python, as read back from CSV); NaN counts as false."""
    return not pd.isna(value) and bool(value)


def read_json(path: str | Path) -> dict:
    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise FileNotFoundError(f"result file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"result file {path} is not valid JSON ({exc}); delete it and rerun") from exc


def concat_csv(paths: list[str], out: str | Path) -> pd.DataFrame:
    frame = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    write_csv(out, frame)
    return frame


def finetune_tables(paths: list[str], table_out: str | Path, curves_out: str | Path,
                    cka_out: str | Path | None = None,
                    scratch_arch: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per fine-tuning job (FINETUNE_COLUMNS), one row per (job, eval point) for the curves and, when
    ``cka_out`` is given, one row per (job, layer) with the CKA between pre-trained and fine-tuned layers.

    ``scratch_arch`` (config ``finetune.scratch_arch``): both tables get a column ``baseline_arch``, the
    architecture of the scratch baseline each row's gain is measured against (:func:`with_gain`)."""
    rows, curves, cka = [], [], []
    for path in paths:
        res = read_json(path)
        rows.append({c: res.get(c) for c in FINETUNE_COLUMNS})
        for point in res.get("curve", []):
            curves.append({**{c: res.get(c) for c in FINETUNE_COLUMNS[:6]}, "point": point["point"],
                           "step": point["step"], "epoch": point["epoch"], "test_acc": point.get("test_acc"),
                           "test_loss": point.get("test_loss")})
        for layer, value in res.get("cka", {}).items():
            cka.append({**{c: res.get(c) for c in FINETUNE_COLUMNS[:6]}, "layer": layer, "cka": value})
    table = pd.DataFrame(rows, columns=FINETUNE_COLUMNS)
    curve_frame = pd.DataFrame(curves)
    if scratch_arch is not None:
        table["baseline_arch"] = scratch_arch
        curve_frame["baseline_arch"] = scratch_arch
    write_csv(table_out, table)
    write_csv(curves_out, curve_frame)
    if cka_out is not None:
        write_csv(cka_out, pd.DataFrame(cka, columns=FINETUNE_COLUMNS[:6] + ["layer", "cka"]))
    return table, curve_frame


def seed_mean(frame: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """Mean of ``values`` over seeds (and any other column not in ``keys``), one row per ``keys`` in order of first
    appearance."""
    return frame.groupby(keys, sort=False)[values].mean().reset_index()


def point_gains(curves: pd.DataFrame) -> pd.DataFrame:
    """Fine-tuning curve rows with ``gain`` = accuracy − the scratch baseline's at the same eval point and seed."""
    return with_gain(curves, on=("target", "arch", "seed", "point"))


def with_gain(table: pd.DataFrame, on: tuple[str, ...] = ("target", "arch", "seed")) -> pd.DataFrame:
    """Rows of fine-tuned models with ``scratch_acc`` (the scratch baseline matched on ``on``) and
    ``gain`` = test_acc − scratch_acc (accuracy as a fraction). ``on`` may add e.g. ``point`` for curves. Where the
    table has ``baseline_arch`` (:func:`finetune_tables`), a model's baseline is that architecture's, not its own."""
    keys = list(on)
    scratch = table[table["source"] == "scratch"][keys + ["test_acc"]]
    scratch = scratch.rename(columns={"test_acc": "scratch_acc"})
    tuned = table[table["source"] != "scratch"]
    if "baseline_arch" in table and "arch" in keys:  # finetune.scratch_arch: one architecture's baseline for all
        scratch = scratch.rename(columns={"arch": "baseline_arch"})
        keys = ["baseline_arch" if key == "arch" else key for key in keys]
    merged = tuned.merge(scratch, on=keys, how="left")
    merged["gain"] = merged["test_acc"] - merged["scratch_acc"]
    return merged


POINT_COLUMNS = ["source", "arch", "seed", "checkpoint", "step", "epoch", "test_acc", "test_loss", "val_acc",
                 "val_loss"]


def pretrain_points_table(paths: list[str], keys: list[dict], out: str | Path) -> pd.DataFrame:
    """One row per saved pre-training checkpoint (POINT_COLUMNS): ``keys[i]`` (source, arch, seed, checkpoint) of
    ``paths[i]``, the exact step and epoch of the point and the accuracy and loss measured there (NaN where the
    checkpoint holds none, e.g. imported weights)."""
    from transferscope.checkpoints import load_checkpoint  # torch only for this table, not for every table job

    rows = []
    for path, key in zip(paths, keys):
        info = load_checkpoint(path).get("info") or {}
        rows.append({**key, **{column: info.get(column) for column in POINT_COLUMNS[4:]}})
    table = pd.DataFrame(rows, columns=POINT_COLUMNS)
    write_csv(out, table)
    return table
