"""Fine-tuning job: one (target, source checkpoint or scratch, arch, seed, mode)."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from transferscope.checkpoints import check_fits, load_checkpoint, model_from_checkpoint
from transferscope.names import mode_from_token
from transferscope.data.bundle import Bundle
from transferscope.inference import Preprocess, extract, sample_images, save_activations
from transferscope.io import provenance, write_json
from transferscope.models import build_model, freeze_prefix, reinit_layers
from transferscope.runtime import derive_seed, resolve_device
from transferscope.training.accel import accelerated_loss, active_options, prepare_model_for_device
from transferscope.training.loop import TensorData, default_loss, train

log = logging.getLogger("transferscope")


@dataclass
class FinetuneJob:
    """What shapes one fine-tuning run (or the from-scratch baseline), apart from its input and output files.

    - ``mode``: ``full``, ``linear`` or ``freeze:<layer>`` (a config token is accepted too);
    - ``reinit``: layers re-initialised besides the head; ``eval_points``: points at which the test split is
      evaluated (``final`` is always added);
    - ``keys`` (target, source, checkpoint, ...): copied into the result for the tidy table, and part of the run's
      seed;
    - ``cuda``: optional CUDA speed options (transferscope.training.accel; ignored off CUDA);
    - ``cka_samples`` > 0: linear CKA per layer between the model before and after fine-tuning on that many
      class-balanced target test images (conv maps globally averaged), stored under ``cka``.
    """

    arch: str
    seed: int
    mode: str
    recipe: dict
    reinit: list[str] = field(default_factory=list)
    eval_points: list[str] = field(default_factory=list)
    keys: dict = field(default_factory=dict)
    device: str = "auto"
    cuda: dict | None = None
    cka_samples: int = 0


def prepare_model(blob: dict, target: Bundle, mode: str, reinit: list[str], seed: int, path="?") -> torch.nn.Module:
    """Pre-trained model adapted to the target: head re-initialised (plus ``reinit`` layers), prefix frozen.

    - ``full``: all weights train; ``reinit`` layers and the head re-initialised.
    - ``linear``: every layer but the (new) head frozen.
    - ``freeze:<layer>``: layers up to <layer> frozen; ``reinit`` layers and the head re-initialised.
    """
    check_fits(blob, target, path)
    model = model_from_checkpoint(blob, path)
    reinit_seed = derive_seed("reinit", target.meta.get("name"), seed)
    if mode == "linear":
        reinit_layers(model, ["head"], target.n_classes, reinit_seed)
        freeze_prefix(model, model.layer_names[-2])
    else:
        reinit_layers(model, list(reinit), target.n_classes, reinit_seed)
        if mode.startswith("freeze:"):
            freeze_prefix(model, mode.split(":", 1)[1])
    return model


def _cka_probe(model: torch.nn.Module, target: Bundle, n: int):
    """Activations of the initial model now; returns a function giving CKA(initial, current) per layer."""
    from transferscope.metrics import linear_cka  # here: its imports are worth paying only when CKA is asked for

    images, _, _ = sample_images(target, n, seed=0)
    before = extract(model, images, Preprocess.of(target), pool="gap")

    def compare(current: torch.nn.Module) -> dict[str, float]:
        after = extract(current, images, Preprocess.of(target), pool="gap")
        return {layer: linear_cka(before[layer], after[layer]) for layer in before
                if layer not in ("in", "out") and len(images) >= 4}

    return compare


def run_finetune_checkpoints(target_path: str | Path, checkpoints: dict[str, str], outputs: dict[str, str],
                             job: FinetuneJob, *, stash_dir: str | Path,
                             activation_outputs: dict[str, str] | None = None,
                             activations: dict | None = None) -> list[dict]:
    """Fine-tune every checkpoint of one pre-training run (point -> checkpoint path) in one job.

    One job per pre-training run keeps the number of jobs (and their start-up cost) low, mirrors the pre-training
    job that made the checkpoints, and still writes one result JSON per fine-tuning run (``job.keys`` plus
    ``checkpoint``: the point). Each finished result is kept in the undeclared ``stash_dir`` until all are done
    (Snakemake deletes declared outputs of a failed job), so a rerun skips the checkpoints already fine-tuned. With
    ``activations`` ({n_samples, pool, seed, split, flatten_units}) the activations of each fine-tuned model on the target's analysis
    sample go to ``activation_outputs`` (point -> .npz), stashed the same way.
    """
    stash = Path(stash_dir)
    stash.mkdir(parents=True, exist_ok=True)
    results = []
    for i, (point, ckpt_path) in enumerate(checkpoints.items()):
        done = stash / f"{point}.json"
        acts = dict(activations, path=stash / f"{point}.npz") if activations else None
        if done.exists() and (acts is None or acts["path"].exists()):
            log.info("finetune %s: already done in %s, skipping", point, done)
            results.append(json.loads(done.read_text()))
            continue
        log.info("finetune checkpoint %d/%d: %s", i + 1, len(checkpoints), ckpt_path)
        point_job = dataclasses.replace(job, keys={**job.keys, "checkpoint": point})
        results.append(run_finetune(target_path, point_job, checkpoint=ckpt_path, result_path=done,
                                    activations=acts))
    for point, path in outputs.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        os.replace(stash / f"{point}.json", path)
    for point, path in (activation_outputs or {}).items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        os.replace(stash / f"{point}.npz", path)
    shutil.rmtree(stash, ignore_errors=True)
    return results


def run_finetune(target_path: str | Path, job: FinetuneJob, *, checkpoint: str | Path | None,
                 result_path: str | Path, activations: dict | None = None) -> dict:
    """Fine-tune (or, with ``checkpoint=None``, train from scratch) and write the result JSON.

    ``activations`` ({n_samples, pool, seed, split, flatten_units, path}): save the fine-tuned model's activations of the target's
    analysis sample (the images the pre-trained checkpoints are analysed on) to ``path``.
    """
    arch, seed, recipe, reinit, keys, cuda = job.arch, job.seed, job.recipe, job.reinit, job.keys, job.cuda
    dev = resolve_device(job.device)
    target = Bundle.load(target_path)
    mode = mode_from_token(job.mode)
    lrs = list(recipe.get("lr_grid") or [recipe["lr"]])
    if len(lrs) > 1 and target.counts()["val"] == 0:
        raise ValueError(f"finetune recipe lr_grid {lrs} picks a learning rate on validation accuracy, but target "
                         f"{target_path} has no validation split (set the dataset's split: val)")
    data = TensorData.from_bundle(target, dev)
    resume_root = Path(result_path).parent / ".resume"
    label = "finetune " + " ".join(f"{k}={v}" for k, v in keys.items())
    run_seed = derive_seed("finetune", *keys.values(), arch, seed, mode)
    points = list(dict.fromkeys([*job.eval_points, "final"]))
    trials, best = [], None
    for i, lr in enumerate(lrs):
        # every learning rate starts from the same weights and sees the same batches: only lr differs
        model = _starting_model(job, target, mode, checkpoint)
        model = prepare_model_for_device(model.to(dev), dev, cuda)
        if i == 0:
            log.info("%s: %d train images, %d classes, %d trainable parameters, device %s, learning rates %s", label,
                     len(data.y_train), target.n_classes, sum(p.numel() for p in model.parameters() if p.requires_grad),
                     dev, lrs)
            probe = _cka_probe(model, target, job.cka_samples) if job.cka_samples else None
        lr_recipe = {k: v for k, v in recipe.items() if k != "lr_grid"} | {"lr": lr}
        result = train(model, data, lr_recipe, seed=run_seed, points=points,
                       resume_dir=resume_root / f"lr{i}" if len(lrs) > 1 else resume_root,
                       label=label if len(lrs) == 1 else f"{label} lr={lr:g}",
                       epoch_evals=("val",), loss_fn=accelerated_loss(default_loss, dev, cuda))
        last = result.points["final"]
        trials.append({"lr": lr, "val_acc": last.get("val_acc"), "test_acc": last.get("test_acc"),
                       "train_seconds": result.seconds})
        # highest final validation accuracy; the first (smallest index) of equal ones
        if best is None or _val(last) > _val(best[2].points["final"]):
            best = (lr, model, result)
    lr, model, result = best
    if len(lrs) > 1:
        log.info("%s: learning rate %g chosen on validation accuracy (%s)", label, lr,
                 ", ".join(f"{t['lr']:g}: {_val(t):.4f}" for t in trials))
    last = result.points["final"]
    out = {
        **keys,
        "arch": arch, "seed": seed, "mode": mode,
        "test_acc": last.get("test_acc"), "test_loss": last.get("test_loss"),
        "val_acc": last.get("val_acc"), "final_step": last["step"], "best_epoch": result.best_epoch, "best_val_acc": result.best_val_acc,
        "lr": lr, "lr_grid": trials if len(lrs) > 1 else [],
        "train_seconds": sum(t["train_seconds"] for t in trials), "n_train": len(data.y_train),
        "epochs": recipe["epochs"],
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "curve": [{"point": p, **info} for p, info in result.points.items()],
        "cka": probe(model) if probe else {},
        "history": result.history,
        "provenance": provenance(device=str(dev), recipe=recipe, reinit=reinit, checkpoint=str(checkpoint),
                                 cuda=active_options(dev, cuda)),
    }
    if activations:
        images, labels, indices = sample_images(target, activations["n_samples"], activations["seed"],
                                                activations["split"])
        acts = extract(model, images, Preprocess.of(target), pool=activations["pool"],
                       max_units=activations.get("flatten_units"), seed=activations["seed"])
        save_activations(activations["path"], acts, labels.numpy(), indices,
                         {"finetuned_from": str(checkpoint), "mode": mode, **keys})
    write_json(result_path, out)
    shutil.rmtree(resume_root, ignore_errors=True)
    return out


def _val(point: dict) -> float:
    """Validation accuracy of a training point (−inf where none was measured)."""
    value = point.get("val_acc")
    return float("-inf") if value is None else float(value)


def _starting_model(job: FinetuneJob, target: Bundle, mode: str, checkpoint) -> torch.nn.Module:
    """The model fine-tuning starts from: the adapted pre-trained checkpoint, or (``checkpoint`` None) a fresh network
    for the from-scratch baseline; the same weights on every call."""
    c, h, _ = target.shape
    if checkpoint is None:
        if mode != "full":
            raise ValueError("the scratch baseline trains all weights (mode full)")
        torch.manual_seed(derive_seed("scratch", target.meta.get("name"), job.arch, job.seed))
        return build_model(job.arch, target.n_classes, c, h)
    return prepare_model(load_checkpoint(checkpoint), target, mode, job.reinit, job.seed, checkpoint)
