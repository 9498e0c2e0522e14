"""The job that trains one ensemble member and saves its weights and its test-set probabilities.

A member job gets a ``spec`` (from :class:`transferscope.ensembles.plan.EnsemblePlan`) and the files it starts from:

- ``role: finetune`` (member 1, Local DE, Global DE): the pre-trained checkpoint (or a local weights file) with the
  head (plus ``reinit`` layers) re-initialised from the member's own seed, trained with the phase-I recipe;
- ``role: cycle`` (SSE, StarSSE and variants): a previous member (``init``: member k−1 for SSE chains, member 1 for
  StarSSE) with its head kept, trained for one cycle; a fresh optimizer per job resets the SGD momentum.

Optional terms (only for the methods that set them): ``mse`` / ``rtd`` to member 1's pooled features (member 1 in
eval mode), ``wo`` to an earlier non-first member's weights, ``ce`` towards an earlier non-first member's
predictions. ``freeze`` freezes a layer prefix after loading member 1: the optimizer is built over the trainable
parameters only, and BatchNorm statistics of the frozen layers are frozen too unless ``bn_frozen`` is false (the
original let them update).

Outputs: ``member{k}.pt`` (a checkpoint blob: weights incl. BN buffers, arch, classes, spec, info) and
``member{k}.npz`` (``probs`` N×C test softmax probabilities, ``labels``, ``features`` pooled test features,
``val_probs``, ``val_labels``, ``info`` JSON: seconds, per-epoch lr, losses, trainable parameters, ...).
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from transferscope.data.bundle import Bundle
from transferscope.ensembles.diversity import prev_ce_loss
from transferscope.ensembles.losses import mse_to_reference, rtd_loss
from transferscope.ensembles.sgd import member_optimizer
from transferscope.ensembles.weight_orthogonality import flat_state_weights, wo_loss
from transferscope.io import provenance, torch_save, write_npz
from transferscope.models import build_model, freeze_prefix, reinit_layers
from transferscope.runtime import resolve_device
from transferscope.training.accel import accelerated_loss, active_options, prepare_model_for_device
from transferscope.training.finetune import prepare_model
from transferscope.training.loop import TensorData, eval_batches, train
from transferscope.training.pretrain import checkpoint_blob, load_checkpoint, model_from_checkpoint

log = logging.getLogger("transferscope")


# --- starting points ------------------------------------------------------------------------------------------

def model_from_weights_file(arch: str, target: Bundle, weights: dict) -> torch.nn.Module:
    """``arch`` for the target with a local weights file loaded (head skipped when its size differs).

    Accepts a plain state dict or one under ``state_dict`` / ``model_state`` (BYOL checkpoints of thesis B), with
    ``module.`` prefixes stripped and torchvision ResNet-50 names converted.
    """
    from transferscope.models.torchvision_models import ResNet50Taps, load_weights_file

    c, h, _ = target.shape
    model = build_model(arch, target.n_classes, c, h)
    state = load_weights_file(weights["path"], weights.get("sha256"))
    if isinstance(state, dict) and "model_state" in state:
        state = state["model_state"]
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    if arch == "resnet50":
        state = ResNet50Taps.convert_torchvision_state(state)
    own = model.state_dict()
    head = f"{model.head_name}."
    state = {k: v for k, v in state.items() if not (k.startswith(head) and (k not in own or own[k].shape != v.shape))}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith(head)]:
        raise ValueError(f"weights file {weights['path']} does not fit {arch}: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    return model


def load_member(path: str | Path, target: Bundle | None = None) -> torch.nn.Module:
    """A saved member as a model (weights and BatchNorm buffers exactly as saved)."""
    blob = load_checkpoint(path)
    if target is not None and blob["n_classes"] != target.n_classes:
        raise ValueError(f"member {path} has {blob['n_classes']} classes, target {target.meta.get('name')} "
                         f"{target.n_classes}")
    return model_from_checkpoint(blob, path)


def start_model(spec: dict, target: Bundle, init_path: str | Path | None, arch: str) -> torch.nn.Module:
    """The model a member starts from, before any freezing (on the CPU); ``init_path`` is unused when the spec
    names a weights file."""
    if spec["role"] == "finetune":
        if spec.get("weights"):
            model = model_from_weights_file(arch, target, spec["weights"])
            from transferscope.runtime import derive_seed

            reinit_layers(model, list(spec["reinit"]), target.n_classes,
                          derive_seed("reinit", target.meta.get("name"), spec["member_seed"]))
            return model
        return prepare_model(load_checkpoint(init_path), target, "full", list(spec["reinit"]), spec["member_seed"],
                             init_path)
    if spec["role"] == "cycle":
        return load_member(init_path, target)
    raise ValueError(f"unknown member role {spec['role']!r}")


def apply_freeze(model: torch.nn.Module, level: str, bn_frozen: bool = True) -> list[str]:
    """Freeze the layers up to ``level``; with ``bn_frozen=False`` their BatchNorm statistics keep updating."""
    frozen = freeze_prefix(model, level)
    if model.head_name in frozen:
        raise ValueError(f"freezing up to {level!r} freezes the head too: nothing would train")
    if not bn_frozen:
        model._frozen_layers = []  # requires_grad stays False; train_mode leaves these layers in train mode
    return frozen


# --- the loss -------------------------------------------------------------------------------------------------

class MemberLoss:
    """``loss_fn(model, x, y) -> (loss, log-probs)`` for ``training.loop.train``: CE plus the spec's extra terms.

    Keeps per-epoch means of every term (``history``) for the member's info.
    """

    def __init__(self, spec: dict, reference: torch.nn.Module | None = None,
                 earlier_models: list[torch.nn.Module] = (), earlier_weights: list[torch.Tensor] = (),
                 seed: int = 0):
        self.spec = spec
        self.reference = reference
        self.earlier_models = list(earlier_models)
        self.earlier_weights = list(earlier_weights)
        self.generator = torch.Generator().manual_seed(seed)
        self.sums: dict[str, float] = {}
        self.count = 0
        self.history: list[dict] = []
        if ("mse" in spec or "rtd" in spec) and reference is None:
            raise ValueError("the mse / rtd terms need member 1 as the reference model")

    def _pick(self, n: int) -> int:
        return int(torch.randint(n, (1,), generator=self.generator).item())

    def __call__(self, model, x, y):
        spec = self.spec
        need_features = "mse" in spec or "rtd" in spec
        if need_features:
            out = model(x, taps=True)
            logp, features = out["out"], out["pool"]
        else:
            logp = model(x)
        terms = {"ce": F.nll_loss(logp, y)}
        if need_features:
            with torch.no_grad():
                ref = self.reference(x, taps=True)["pool"]
            if "mse" in spec:
                terms["mse"] = spec["mse"]["beta"] * mse_to_reference(features, ref)
            if "rtd" in spec:
                n = min(len(x), int(spec["rtd"]["max_points"]))
                terms["rtd"] = spec["rtd"]["beta"] * rtd_loss(features[:n], ref[:n], card=int(spec["rtd"]["card"]),
                                                              p=float(spec["rtd"]["p"]))
        if "wo" in spec and self.earlier_weights:
            j = self._pick(len(self.earlier_weights))
            terms["wo"] = spec["wo"]["beta"] * wo_loss(model, self.earlier_weights[j], detached=spec["wo"]["detached"])
        if "ce" in spec and self.earlier_models:
            j = self._pick(len(self.earlier_models))
            with torch.no_grad():
                previous = self.earlier_models[j](x).argmax(1)
            terms["prev_ce"] = spec["ce"]["beta"] * prev_ce_loss(logp, previous, y, version=int(spec["ce"]["version"]))
        loss = sum(terms.values())
        for name, value in terms.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value.detach())
        self.count += 1
        return loss, logp

    def end_epoch(self, epoch: int, row: dict) -> None:
        self.history.append({"epoch": epoch, **{k: v / max(self.count, 1) for k, v in self.sums.items()}})
        self.sums, self.count = {}, 0


# --- prediction and saving ------------------------------------------------------------------------------------

@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, mean, std, batch_size: int = 1024):
    """(probabilities N×C, pooled features N×d or None) in eval mode, as float32 numpy arrays."""
    probs, feats = [], []
    for out in eval_batches(model, images, mean, std, batch_size, taps=True):
        probs.append(out["out"].exp().float().cpu())
        if "pool" in out:
            feats.append(out["pool"].float().cpu())
    p = torch.cat(probs).numpy() if probs else np.zeros((0, 0), np.float32)
    f = torch.cat(feats).numpy() if feats else None
    return p, f


# --- the job --------------------------------------------------------------------------------------------------

def run_member(spec: dict, *, target_path: str | Path, init_path: str | Path | None, out_weights: str | Path,
               out_probs: str | Path, keys: dict, member1_path: str | Path | None = None,
               earlier_paths: list[str] = (), device: str = "auto", cuda: dict | None = None) -> dict:
    """Train member ``spec['k']`` of ``spec['method']`` and write ``out_weights`` (.pt) and ``out_probs`` (.npz).

    ``keys`` (target, source, arch, seed) label the outputs. Resume state is kept beside the outputs in an
    undeclared ``.resume_member<k>`` directory and removed at the end (a resumed WO / CE member redraws its choice
    of earlier member per step from a fresh generator, so it is not bit-identical to an uninterrupted one). ``cuda``: optional CUDA speed options
    (transferscope.training.accel; ignored off CUDA).
    """
    dev = resolve_device(device)
    target = Bundle.load(target_path)
    arch = keys["arch"]
    k = int(spec["k"])
    model = start_model(spec, target, init_path, arch)
    if spec.get("freeze"):
        apply_freeze(model, spec["freeze"]["level"], spec["freeze"]["bn_frozen"])
    model = prepare_model_for_device(model.to(dev), dev, cuda)

    reference = None
    if "mse" in spec or "rtd" in spec:
        reference = load_member(member1_path, target).to(dev).eval()
        reference.requires_grad_(False)
    earlier_models, earlier_weights = [], []
    if ("wo" in spec or "ce" in spec) and earlier_paths:
        for path in earlier_paths:
            other = load_member(path, target).to(dev).eval()
            other.requires_grad_(False)
            if "wo" in spec:
                earlier_weights.append(flat_state_weights(other))
            if "ce" in spec:
                earlier_models.append(other)
    loss = MemberLoss(spec, reference, earlier_models, earlier_weights, seed=spec["member_seed"] + 1)

    data = TensorData.from_bundle(target, dev)
    out_dir = Path(out_weights).parent
    resume_dir = out_dir / f".resume_member{k}"
    label = f"ensemble {keys['target']} seed{keys['seed']} {spec['method']} member{k}"
    origin = init_path if init_path is not None else (spec.get("weights") or {}).get("path")
    log.info("%s: %s from %s (%d trainable parameters)", label, spec["role"], origin,
             sum(p.numel() for p in model.parameters() if p.requires_grad))
    optimizer = member_optimizer(model, spec["recipe"])  # fresh per member: momentum reset at every cycle
    result = train(model, data, spec["recipe"], seed=spec["member_seed"], loss_fn=accelerated_loss(loss, dev, cuda),
                   optimizer=optimizer, resume_dir=resume_dir,
                   label=label, epoch_evals=(), on_epoch_end=loss.end_epoch)

    x_test, y_test = data.evals["test"]
    probs, features = predict(model, x_test, data.mean, data.std)
    val_probs = val_labels = None
    if "val" in data.evals:
        x_val, y_val = data.evals["val"]
        val_probs, _ = predict(model, x_val, data.mean, data.std)
        val_labels = y_val.cpu().numpy()
    labels = y_test.cpu().numpy()
    info = {
        **keys, "method": spec["method"], "k": k, "role": spec["role"],
        "seconds": result.seconds, "epochs": spec["recipe"]["epochs"],
        "lrs": [row["lr"] for row in result.history],
        "train_loss": [row["train_loss"] for row in result.history],
        "terms": loss.history,
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "test_acc": float((probs.argmax(1) == labels).mean()),
        "val_acc": None if val_probs is None else float((val_probs.argmax(1) == val_labels).mean()),
    }
    write_npz(out_probs, probs=probs, labels=labels, features=features, val_probs=val_probs, val_labels=val_labels,
              info=np.array(json.dumps(info, default=str)))
    blob = checkpoint_blob(model, arch=arch, bundle=target, role="ensemble_member", seed=int(keys["seed"]),
                           point=f"member{k}", info=info, spec=spec,
                           provenance=provenance(device=str(dev), init=str(origin),
                                                 cuda=active_options(dev, cuda)))
    torch_save(out_weights, blob)
    shutil.rmtree(resume_dir, ignore_errors=True)
    log.info("%s: test_acc %.4f in %.1f s", label, info["test_acc"], result.seconds)
    return info
