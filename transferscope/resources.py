"""Memory requests from the data: what a job holds grows with its input files (datasets stored as uint8 tensors,
checkpoints), with one model's activations of the analysis sample (jobs that extract them) and, when training runs
on the CPU, with what a training step keeps for the backward pass, over a baseline of the Python + torch process.
Shapes come from a forward pass on the meta device (no memory, no arithmetic). Used by ``rules/common.smk``.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MemoryModel:
    """mem_mb = scale × attempt × (base_mb + copies × input_mb + activation_copies × activation_mb + layer_copies ×
    layer_mb + step_mb), rounded up to a multiple of 100 MB.

    ``base_mb``: the process without data (torch import, model, buffers); ``copies``: how many times the job holds
    its inputs at the peak (a training job: the loaded bundle, its train split on the device side and per-batch
    float copies); ``activation_copies``: how many times it holds one model's activations of the analysis sample
    (float32, every layer); ``layer_copies``: the working copies a metric makes of the widest layer (float64 copies,
    centred rows: counted in float32 sizes)."""

    base_mb: float
    copies: float
    activation_copies: float = 0.0
    layer_copies: float = 0.0

    def mem_mb(self, input_mb: float, attempt: int = 1, scale: float = 1.0, activation_mb: float = 0.0,
               layer_mb: float = 0.0, step_mb: float = 0.0) -> int:
        """``activation_mb``/``layer_mb``: float32 size of one model's activations and of its widest layer;
        ``step_mb``: what one training step keeps for backward on the CPU (0 on a GPU: it lives in device memory)."""
        if min(input_mb, activation_mb, layer_mb, step_mb) < 0 or attempt < 1 or scale <= 0:
            raise ValueError(f"input_mb {input_mb}, activation_mb {activation_mb}, layer_mb {layer_mb}, step_mb "
                             f"{step_mb} ≥ 0, attempt {attempt} ≥ 1 and scale {scale} > 0 expected")
        need = (self.base_mb + self.copies * input_mb + self.activation_copies * activation_mb
                + self.layer_copies * layer_mb + step_mb)
        return int(math.ceil(scale * attempt * need / 100.0) * 100)


# Rule families: copies from the code's data path, bases above the peaks measured on the small configs (README
# "Resources, GPUs and profiles", benchmarks/README.md "Memory").
# Activations: extraction holds every layer once plus the widest one while it is concatenated; the metrics then
# convert one layer at a time to float64 (2×) and centre it (another 2×, and a class's rows): 1 + 6 widest layers,
# measured 1.7–2.0 GB for SS/RSA on a 50 × 802,816 float32 layer (153 MB) over a 0.9 GB process.
TRAINING = MemoryModel(base_mb=1500, copies=3.0, activation_copies=1.0, layer_copies=1.0)  # + fine-tuned acts
ANALYSIS = MemoryModel(base_mb=2500, copies=2.0, activation_copies=1.0, layer_copies=7.0)  # extract, model_metrics


@functools.lru_cache(maxsize=16)
def _meta_pass(arch: str, in_channels: int, side: int) -> tuple[dict, int]:
    """One forward pass of ``arch`` on one side×side image on the meta device (shapes only, no memory or arithmetic;
    building the model takes up to ~3 s for VGG16): (tap name -> meta tensor, Σ numel of every leaf module's output).
    """
    import torch

    from transferscope.models import build_model

    total = 0

    def count(module, inputs, output):
        nonlocal total
        total += output.numel() if torch.is_tensor(output) else 0

    with torch.device("meta"):
        model = build_model(arch, 2, in_channels, side)
        for module in model.modules():
            if not any(True for _ in module.children()):
                module.register_forward_hook(count)
        taps = model(torch.empty(1, in_channels, side, side), taps=True)
    return taps, total


@functools.lru_cache(maxsize=64)
def tap_widths(arch: str, in_channels: int, side: int, pool: str, flatten_units: int | None = None) -> dict[str, int]:
    """Units per image of every activation an extraction keeps for ``arch`` on side×side inputs (layer -> width,
    after ``pool`` and ``flatten_units``, as ``inference.pool_taps``), from :func:`_meta_pass`."""
    from transferscope.inference import pool_taps

    taps, _ = _meta_pass(arch, in_channels, side)
    return {name: int(value.shape[1]) for name, value in pool_taps(taps, pool, flatten_units).items()}


def step_mb_per_image(arch: str, in_channels: int, side: int) -> float:
    """MB per training image that a forward pass of ``arch`` keeps for backward: the float32 outputs of every leaf
    module (an upper bound: in-place ReLUs share their input's storage). ResNet-50 at 224 px: 122 MB, so a CPU
    batch of 32 holds ~3.9 GB (3.2 GB measured, benchmarks/bench_memory.py)."""
    return _meta_pass(arch, in_channels, side)[1] * 4 / 2**20


def activation_mb(widths: dict[str, int], n_samples: int) -> float:
    """MB of one model's activations of ``n_samples`` images: n × Σ widths float32 values."""
    return n_samples * sum(widths.values()) * 4 / 2**20


def rule_memory(model: MemoryModel, scale: float = 1.0, sample: dict | None = None, cpu_batch: int | None = None):
    """A Snakemake ``mem_mb`` callable for ``model``: Snakemake passes the job's inputs and attempt number.

    The job's ``arch`` wildcard and the network-facing image shape of its dataset input (``target``, else ``data``)
    size two optional terms: ``sample`` (``n_samples``, ``pool``, ``flatten_units``: the analysis sample) for jobs
    that extract activations, and ``cpu_batch`` (images per training batch) for training on the CPU. Snakemake
    evaluates it once the inputs exist (before that, a dry run shows ``<TBD>``)."""

    def mem_mb(wildcards, input, attempt):
        acts = layer = step = 0.0
        input_mb = float(input.size_mb)  # first: Snakemake stops here (<TBD>) while the inputs do not exist yet
        if sample is not None or cpu_batch:
            from transferscope.data.bundle import bundle_shape

            try:
                c, side, _ = bundle_shape(input.target if hasattr(input, "target") else input.data)
            except (OSError, RuntimeError):  # unreadable: the job itself then fails, naming the file in its log
                return model.mem_mb(input_mb, attempt, scale)
            if sample is not None:
                widths = tap_widths(wildcards.arch, c, side, sample["pool"], sample.get("flatten_units"))
                acts = activation_mb(widths, sample["n_samples"])
                layer = activation_mb({"widest": max(widths.values())}, sample["n_samples"])
            if cpu_batch:
                step = cpu_batch * step_mb_per_image(wildcards.arch, c, side)
        return model.mem_mb(input_mb, attempt, scale, activation_mb=acts, layer_mb=layer, step_mb=step)

    return mem_mb


# ensembles.csv streams the members (evaluate.build_table): at any time it holds member 1's labels, features and
# weight vector, the current member's arrays and weight vector with their float64 difference (2 × its weights), the
# running float64 sum of probabilities and float64 copies a metric makes of one member's probabilities. Six copies
# of the largest member's files (npz + pt) bound that; the base is the process with torch and pandas imported
# (0.55 GB measured) plus the table's rows. What it asks does not grow with the number of members or runs.
ENSEMBLE_TABLE = MemoryModel(base_mb=1000, copies=6.0)


def member_sizes_mb(paths) -> dict[str, float]:
    """MB on disk of each ensemble member: its ``member{k}.npz`` and ``member{k}.pt`` summed under their common stem
    (path without suffix); ``paths`` must exist."""
    import os

    sizes: dict[str, float] = {}
    for path in paths:
        stem = os.path.splitext(str(path))[0]
        sizes[stem] = sizes.get(stem, 0.0) + os.path.getsize(path) / 2**20
    return sizes


def ensemble_table_memory(scale: float = 1.0):
    """A Snakemake ``mem_mb`` callable for the ensemble table rule: :data:`ENSEMBLE_TABLE` on the largest member's
    files among the job's inputs (``member{k}.npz`` + ``.pt``), × attempt × ``scale``, not on their sum."""

    def mem_mb(wildcards, input, attempt):
        float(input.size_mb)  # first: Snakemake stops here (<TBD>) while the inputs do not exist yet
        largest = max(member_sizes_mb(input).values(), default=0.0)
        return ENSEMBLE_TABLE.mem_mb(largest, attempt, scale)

    return mem_mb
