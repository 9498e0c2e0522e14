"""One training loop over in-memory tensors, with checkpoints at points, resume state and a NaN guard.

The whole (small) dataset lives as one uint8 tensor on the device; minibatches are index slices of a seeded
permutation; augmentation is batched on the device; there are no DataLoader workers.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from transferscope.inference import Preprocess, evaluate
from transferscope.io import torch_load, torch_save
from transferscope.models import train_mode
from transferscope.training.augment import apply_augment, draw_augment
from transferscope.training.optim import build_optimizer, lr_factor, set_lr
from transferscope.training.points import point_step

log = logging.getLogger("transferscope")


class NonFiniteLossError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


@dataclass
class TensorData:
    """Images (uint8 N×C×H×W, as stored) and labels (int64 N) of the train split plus named evaluation splits, and
    the preprocessing that makes a batch of them the network's input (normalisation, resizing to its input size)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    evals: dict[str, tuple[torch.Tensor, torch.Tensor]]
    prep: Preprocess

    def to(self, device: torch.device) -> "TensorData":
        return TensorData(self.x_train.to(device), self.y_train.to(device),
                          {k: (x.to(device), y.to(device)) for k, (x, y) in self.evals.items()},
                          self.prep.to(device))

    @classmethod
    def from_bundle(cls, bundle, device: torch.device | str = "cpu") -> "TensorData":
        x_train, y_train = bundle.subset("train")
        evals = {name: bundle.subset(name) for name in ("val", "test")}
        evals = {k: v for k, v in evals.items() if len(v[1])}
        return cls(x_train, y_train, evals, Preprocess.of(bundle)).to(torch.device(device))


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)  # one row per epoch
    points: dict[str, dict] = field(default_factory=dict)  # point -> {step, epoch, test_acc, ...}
    best_epoch: int = 0
    best_val_acc: float = float("nan")
    seconds: float = 0.0


LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def default_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """NLL of the model's log-softmax output; returns (loss, log-probs)."""
    logp = model(x)
    return F.nll_loss(logp, y), logp


class PointMap:
    """Which training points fall on which global optimizer step, computed once per run.

    ``stepN`` points are reached right after their step (mid-epoch, at a fractional epoch); ``epochN`` and ``final``
    at the end of their epoch, after its evaluation; points at step 0 before the first step. Points sharing a step
    keep the order they were given in.
    """

    def __init__(self, points, steps_per_epoch: int, epochs: int):
        self.by_step: dict[int, list[str]] = {}
        for p in points:
            self.by_step.setdefault(point_step(p, steps_per_epoch, epochs), []).append(p)

    def __contains__(self, step: int) -> bool:
        return step in self.by_step

    def at(self, step: int) -> list[str]:
        """Every point at ``step`` (for the start of training and epoch ends)."""
        return self.by_step.get(step, [])

    def mid_epoch(self, step: int) -> list[str]:
        """The ``stepN`` points at ``step``."""
        return [p for p in self.at(step) if not p.startswith("epoch") and p != "final"]


class ResumeState:
    """The resume file ``<resume_dir>/state.pt`` of a run: weights, optimizer, both RNGs, epoch, step, result so far.

    Written at every epoch end but the last; a rerun of a killed job continues from the last finished epoch with
    the same random numbers, so it ends with the same weights as an uninterrupted run (same machine).
    """

    def __init__(self, resume_dir: str | Path | None):
        self.file = Path(resume_dir) / "state.pt" if resume_dir else None

    def load(self, model, optimizer, generator: torch.Generator) -> tuple[int, int, "TrainResult"] | None:
        """Restore model, optimizer and RNG states in place; returns (epoch, step, result), or None to start."""
        if self.file is None or not self.file.exists():
            return None
        state = torch_load(self.file, what="resume state")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if torch.cuda.is_available() and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return state["epoch"], state["step"], state["result"]

    def save(self, model, optimizer, generator: torch.Generator, epoch: int, step: int, result: "TrainResult") -> None:
        if self.file is None:
            return
        torch_save(self.file, {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "epoch": epoch, "step": step, "result": result,
        })


def epoch_batches(data: TensorData, generator: torch.Generator, batch_size: int,
                  augment: dict) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The (preprocessed, augmented float images B×C×S×S, labels B) training batches of one epoch.

    The batch order and all augmentation draws are made from ``generator`` on the CPU when this is called, before
    the first batch (in the order a per-step draw would make them: same seed, same numbers), and copied to the
    data's device once. The last batch may be smaller.
    """
    device = data.x_train.device
    n = len(data.y_train)
    translate, hflip = augment.get("translate", 0), augment.get("hflip", False)
    order = torch.randperm(n, generator=generator).to(device)
    draws = draw_augment(generator, [min(batch_size, n - i) for i in range(0, n, batch_size)], translate, hflip,
                         augment.get("resized_crop")).to(device)
    augmenting = any(t is not None for t in draws)

    def batches():
        for b in range(max(1, (n + batch_size - 1) // batch_size)):
            sl = slice(b * batch_size, (b + 1) * batch_size)
            idx = order[sl]
            x = data.prep(data.x_train[idx], train=True)
            if augmenting:
                x = apply_augment(x, translate, draws.part(sl))
            yield x, data.y_train[idx]

    return batches()


def train(
    model: torch.nn.Module,
    data: TensorData,
    recipe: dict,
    *,
    seed: int,
    points: list[str] = (),
    on_point: Callable[[str, torch.nn.Module, dict], None] | None = None,
    resume_dir: str | Path | None = None,
    loss_fn=default_loss,
    optimizer: torch.optim.Optimizer | None = None,
    label: str = "train",
    on_epoch_end: Callable[[int, dict], None] | None = None,
    epoch_evals: tuple[str, ...] | None = None,
    nan_check_every: int | None = None,
) -> TrainResult:
    """Train ``model`` (already on the data's device) with ``recipe``.

    - ``points``: stepN / epochN / final; at each, ``on_point(name, model, info)`` is called (info holds step,
      epoch as a fraction, test/val loss and accuracy).
    - ``resume_dir``: state is saved there at every epoch end and picked up by a rerun; the caller removes it.
    - ``seed`` drives batch order, augmentation and dropout; same seed, same machine -> same weights.
    - ``epoch_evals``: evaluation splits logged after every epoch (default: all; fine-tuning passes ("val",)
      and sees the test split only at its points, which keeps many small jobs cheap).
    - raises NonFiniteLossError at the first NaN/inf loss, naming its epoch and step. The losses are checked every
      ``nan_check_every`` steps (default: every step on the CPU, every 32 on accelerators, where each check waits
      for the device), always before a checkpoint point and at epoch ends, so nothing is saved after a NaN.
    - Per epoch, the batch order and all augmentation draws are made up front (:func:`epoch_batches`).
    """
    device = data.x_train.device
    if device.type == "cpu" and data.x_train.dim() == 4:  # NHWC: the CPU conv and max-pool kernels vectorise over
        model.to(memory_format=torch.channels_last)       # channels (benchmarks/README.md)
    n = len(data.y_train)
    bs = min(recipe["batch_size"], n)
    steps_per_epoch = max(1, (n + bs - 1) // bs)
    epochs = recipe["epochs"]
    point_map = PointMap(points, steps_per_epoch, epochs)
    augment = recipe.get("augment", {}) or {}
    check_every = nan_check_every or (1 if device.type == "cpu" else 32)
    optimizer = optimizer or build_optimizer(model, recipe)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    resume = ResumeState(resume_dir)
    start_epoch, step, result = resume.load(model, optimizer, generator) or (0, 0, TrainResult())
    if start_epoch:
        log.info("%s: resumed from %s at epoch %d (step %d)", label, resume.file, start_epoch, step)

    def reach(point: str, epoch_float: float) -> None:
        if point in result.points:
            return
        info = {"step": step, "epoch": round(epoch_float, 6)}
        for name, (x, y) in data.evals.items():
            info[f"{name}_loss"], info[f"{name}_acc"] = evaluate(model, x, y, data.prep)
        result.points[point] = info
        if on_point is not None:
            on_point(point, model, info)
        log.info("%s: point %s at step %d (epoch %.3f) test_acc=%s", label, point, step, epoch_float,
                 _fmt(info.get("test_acc")))

    for p in point_map.at(0):
        reach(p, 0.0)
    t_start = time.perf_counter() - result.seconds
    for epoch in range(start_epoch, epochs):
        lr = recipe["lr"] * lr_factor(recipe, epoch)
        set_lr(optimizer, lr)
        train_mode(model)
        batches = epoch_batches(data, generator, bs, augment)
        t_epoch, seen, loss_sum, correct = time.perf_counter(), 0, torch.zeros((), device=device), torch.zeros((), device=device)
        step_losses, checked = torch.empty(steps_per_epoch, device=device), 0
        for b, (x, y) in enumerate(batches):
            loss, logp = loss_fn(model, x, y)
            step_losses[b] = loss.detach()
            if (b + 1) % check_every == 0 or b + 1 == steps_per_epoch or step + 1 in point_map:
                _check_finite(step_losses, checked, b + 1, label, epoch, step - b, lr)
                checked = b + 1
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            seen += len(y)
            loss_sum += loss.detach() * len(y)
            correct += (logp.detach().argmax(1) == y).sum()
            for p in point_map.mid_epoch(step):
                reach(p, epoch + (b + 1) / steps_per_epoch)
        seconds = time.perf_counter() - t_epoch
        row = {"epoch": epoch + 1, "step": step, "lr": lr, "train_loss": loss_sum.item() / seen,
               "train_acc": correct.item() / seen, "images_per_s": seen / max(seconds, 1e-9)}
        for name, (x, y) in data.evals.items():
            if epoch_evals is None or name in epoch_evals:
                row[f"{name}_loss"], row[f"{name}_acc"] = evaluate(model, x, y, data.prep)
        row["seconds"] = time.perf_counter() - t_start
        result.history.append(row)
        val_acc = row.get("val_acc", row["train_acc"])
        if result.best_epoch == 0 or val_acc > result.best_val_acc:
            result.best_epoch, result.best_val_acc = epoch + 1, val_acc
        log.info("%s: epoch %d/%d step %d loss %.4f train_acc %.4f val_acc %s test_acc %s lr %.3g %.0f img/s",
                 label, epoch + 1, epochs, step, row["train_loss"], row["train_acc"], _fmt(row.get("val_acc")),
                 _fmt(row.get("test_acc")), lr, row["images_per_s"])
        for p in point_map.at(step):
            reach(p, float(epoch + 1))
        result.seconds = time.perf_counter() - t_start
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
        if epoch + 1 < epochs:
            resume.save(model, optimizer, generator, epoch + 1, step, result)
    result.seconds = time.perf_counter() - t_start
    return result


def _check_finite(step_losses: torch.Tensor, start: int, stop: int, label: str, epoch: int, first_step: int,
                  lr: float) -> None:
    """Raise NonFiniteLossError for the first NaN/inf among ``step_losses[start:stop]`` (one device sync).

    ``first_step``: the global step count before this epoch's first step (for the message)."""
    window = step_losses[start:stop]
    bad = ~torch.isfinite(window)
    if bool(bad.any()):
        j = start + int(bad.nonzero()[0, 0])
        raise NonFiniteLossError(
            f"{label}: loss became {step_losses[j].item()} at epoch {epoch + 1}, step {first_step + j + 1} "
            f"(lr {lr:g}); stopping this job. Lower the learning rate or check the input data.")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
