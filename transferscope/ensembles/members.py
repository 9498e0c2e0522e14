"""The job that trains one ensemble member and saves its weights and its test-set probabilities.

A member job gets a spec (:class:`transferscope.ensembles.spec.MemberSpec`, or its params dict, from
:class:`transferscope.ensembles.plan.EnsemblePlan`) and the files it starts from:

- ``role: finetune`` (member 1, Local DE, Global DE): the pre-trained checkpoint (or a local weights file) with the
  head (plus ``reinit`` layers) re-initialised from the member's own seed, trained with the phase-I recipe;
- ``role: cycle`` (SSE, StarSSE and variants): a previous member (``init``: member k−1 for SSE chains, member 1 for
  StarSSE) with its head kept, trained for one cycle; a fresh optimizer per job resets the SGD momentum.

Optional loss terms (``spec.terms``, from the registry ``transferscope.ensembles.losses.registry``; the job loads
what they need): ``mse`` / ``rtd`` to member 1's pooled features (member 1 in eval mode), ``wo`` to an earlier
non-first member's weights, ``ce`` towards an earlier non-first member's predictions. ``freeze`` freezes a layer prefix after loading member 1: the optimizer is built over the trainable
parameters only, and BatchNorm statistics of the frozen layers are frozen too unless ``bn_frozen`` is false (the
original let them update). The loss is :class:`transferscope.ensembles.losses.MemberLoss`; the optimizer a fresh
``training.optim.PlainSGD`` per job for SGD recipes.

Outputs: ``member{k}.pt`` (a checkpoint blob: weights incl. BN buffers, arch, classes, spec, info) and
``member{k}.npz`` (``probs`` N×C test softmax probabilities, ``labels``, ``features`` pooled test features N×D,
``stage_<tap>`` N×C_tap the output of each of the architecture's ``stage_taps`` on the test set averaged over space
(thesis B's per-stage output distances), ``val_probs``, ``val_labels``, ``info`` JSON: seconds, per-epoch lr,
losses, trainable parameters, ...).
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import torch

from transferscope.checkpoints import (checkpoint_blob, load_checkpoint, model_from_checkpoint, model_from_weights_file,
                                       save_checkpoint)
from transferscope.data.bundle import Bundle
from transferscope.ensembles.losses import MemberLoss, flat_state_weights
from transferscope.ensembles.losses.registry import spec_needs
from transferscope.ensembles.spec import MemberSpec
from transferscope.ensembles.trajectory import STAGE_PREFIX
from transferscope.inference import predict_pooled, predict_probs
from transferscope.io import provenance, write_npz
from transferscope.models import freeze_prefix, reinit_layers, stage_taps
from transferscope.runtime import derive_seed, resolve_device
from transferscope.training.accel import accelerated_loss, active_options, prepare_model_for_device
from transferscope.training.finetune import prepare_model
from transferscope.training.loop import TensorData, train
from transferscope.training.optim import PlainSGD, build_optimizer

log = logging.getLogger("transferscope")


# --- starting points ------------------------------------------------------------------------------------------

def load_member(path: str | Path, target: Bundle | None = None) -> torch.nn.Module:
    """A saved member as a model (weights and BatchNorm buffers exactly as saved)."""
    blob = load_checkpoint(path)
    if target is not None and blob["n_classes"] != target.n_classes:
        raise ValueError(f"member {path} has {blob['n_classes']} classes, target {target.meta.get('name')} "
                         f"{target.n_classes}")
    return model_from_checkpoint(blob, path)


def start_model(spec: MemberSpec | dict, target: Bundle, init_path: str | Path | None, arch: str) -> torch.nn.Module:
    """The model a member starts from, before any freezing (on the CPU); ``init_path`` is unused when the spec
    names a weights file."""
    spec = MemberSpec.from_params(spec)
    if spec.role == "finetune":
        if spec.weights:
            c, h, _ = target.shape
            model = model_from_weights_file(arch, target.n_classes, c, h, spec.weights)
            reinit_layers(model, list(spec.reinit), target.n_classes,
                          derive_seed("reinit", target.meta.get("name"), spec.member_seed))
            return model
        return prepare_model(load_checkpoint(init_path), target, "full", list(spec.reinit), spec.member_seed,
                             init_path)
    if spec.role == "cycle":
        return load_member(init_path, target)
    raise ValueError(f"unknown member role {spec.role!r}")


def apply_freeze(model: torch.nn.Module, level: str, bn_frozen: bool = True) -> list[str]:
    """Freeze the layers up to ``level``; with ``bn_frozen=False`` their BatchNorm statistics keep updating."""
    frozen = freeze_prefix(model, level)
    if model.head_name in frozen:
        raise ValueError(f"freezing up to {level!r} freezes the head too: nothing would train")
    if not bn_frozen:
        model._frozen_layers = []  # requires_grad stays False; train_mode leaves these layers in train mode
    return frozen


def member_optimizer(model: torch.nn.Module, recipe: dict):
    """``PlainSGD`` for SGD recipes (no ``torch.optim`` start-up cost in these short jobs), else the recipe's
    ``build_optimizer``; over the trainable parameters either way."""
    if recipe.get("optimizer") == "sgd" and not recipe.get("layer_lr"):
        return PlainSGD(model.parameters(), recipe["lr"], recipe.get("momentum", 0.9), recipe.get("weight_decay", 0.0))
    return build_optimizer(model, recipe)


# --- the job --------------------------------------------------------------------------------------------------

def run_member(spec: MemberSpec | dict, *, target_path: str | Path, init_path: str | Path | None, out_weights: str | Path,
               out_probs: str | Path, keys: dict, member1_path: str | Path | None = None,
               earlier_paths: list[str] = (), device: str = "auto", cuda: dict | None = None) -> dict:
    """Train member ``spec.k`` of ``spec.method`` and write ``out_weights`` (.pt) and ``out_probs`` (.npz).

    ``keys`` (target, source, arch, seed, replicate) label the outputs. Resume state is kept beside the outputs in an
    undeclared ``.resume_member<k>`` directory and removed at the end (a resumed WO / CE member redraws its choice
    of earlier member per step from a fresh generator, so it is not bit-identical to an uninterrupted one). ``cuda``: optional CUDA speed options
    (transferscope.training.accel; ignored off CUDA).
    """
    dev = resolve_device(device)
    target = Bundle.load(target_path)
    arch = keys["arch"]
    spec = MemberSpec.from_params(spec)
    k = spec.k
    model = start_model(spec, target, init_path, arch)
    if spec.freeze:
        apply_freeze(model, spec.freeze["level"], spec.freeze["bn_frozen"])
    model = prepare_model_for_device(model.to(dev), dev, cuda)

    # what the spec's loss terms need (transferscope.ensembles.losses.registry), loaded once here
    needs = spec_needs(spec.terms)
    reference = None
    if "reference" in needs:
        reference = load_member(member1_path, target).to(dev).eval()
        reference.requires_grad_(False)
    earlier_models, earlier_weights = [], []
    if needs & {"earlier_models", "earlier_weights"}:
        for path in earlier_paths:
            other = load_member(path, target).to(dev).eval()
            other.requires_grad_(False)
            if "earlier_weights" in needs:
                earlier_weights.append(flat_state_weights(other))
            if "earlier_models" in needs:
                earlier_models.append(other)
    origin = None
    if "origin_weights" in needs:
        origin = flat_state_weights(load_member(member1_path, target).to(dev))
    loss = MemberLoss(spec.terms, reference, earlier_models, earlier_weights, seed=spec.member_seed + 1,
                      origin_weights=origin)

    data = TensorData.from_bundle(target, dev)
    out_dir = Path(out_weights).parent
    resume_dir = out_dir / f".resume_member{k}"
    label = f"ensemble {keys['target']} seed{keys['seed']} rep{keys.get('replicate', 1)} {spec.method} member{k}"
    origin = init_path if init_path is not None else (spec.weights or {}).get("path")
    log.info("%s: %s from %s (%d trainable parameters)", label, spec.role, origin,
             sum(p.numel() for p in model.parameters() if p.requires_grad))
    optimizer = member_optimizer(model, spec.recipe)  # fresh per member: momentum reset at every cycle
    result = train(model, data, spec.recipe, seed=spec.member_seed, loss_fn=accelerated_loss(loss, dev, cuda),
                   optimizer=optimizer, resume_dir=resume_dir,
                   label=label, epoch_evals=(), on_epoch_end=loss.end_epoch)

    x_test, y_test = data.evals["test"]
    stages = stage_taps(arch)
    probs, pooled = predict_pooled(model, x_test, data.prep, ("pool", *stages))
    features = pooled.get("pool")
    stage_outputs = {STAGE_PREFIX + tap: pooled[tap] for tap in stages if tap in pooled}
    val_probs = val_labels = None
    if "val" in data.evals:
        x_val, y_val = data.evals["val"]
        val_probs, _ = predict_probs(model, x_val, data.prep)
        val_labels = y_val.cpu().numpy()
    labels = y_test.cpu().numpy()
    info = {
        **keys, "method": spec.method, "k": k, "role": spec.role,
        "seconds": result.seconds, "epochs": spec.recipe["epochs"],
        "lrs": [row["lr"] for row in result.history],
        "train_loss": [row["train_loss"] for row in result.history],
        "terms": loss.history,
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "test_acc": float((probs.argmax(1) == labels).mean()),
        "val_acc": None if val_probs is None else float((val_probs.argmax(1) == val_labels).mean()),
    }
    write_npz(out_probs, probs=probs, labels=labels, features=features, **stage_outputs, val_probs=val_probs,
              val_labels=val_labels, info=np.array(json.dumps(info, default=str)))
    blob = checkpoint_blob(model, arch=arch, bundle=target, role="ensemble_member", seed=int(keys["seed"]),
                           point=f"member{k}", info=info, spec=spec.to_params(),
                           provenance=provenance(device=str(dev), init=str(origin),
                                                 cuda=active_options(dev, cuda)))
    save_checkpoint(out_weights, blob)
    shutil.rmtree(resume_dir, ignore_errors=True)
    log.info("%s: test_acc %.4f in %.1f s", label, info["test_acc"], result.seconds)
    return info
