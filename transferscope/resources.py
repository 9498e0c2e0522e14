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
    from transferscope.models import tap_names

    taps, _ = _meta_pass(arch, in_channels, side)
    taps = {name: taps[name] for name in tap_names(arch)}  # not the prediction the dict ends with
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
    size two optional terms: ``sample`` (``n_samples``, ``pool``, ``flatten_units``: the analysis sample, or a
    function of the job's wildcards giving it) for jobs
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
                drawn = sample(wildcards) if callable(sample) else sample  # a target's own (analysis.target_samples)
                widths = tap_widths(wildcards.arch, c, side, drawn["pool"], drawn.get("flatten_units"))
                acts = activation_mb(widths, drawn["n_samples"])
                layer = activation_mb({"widest": max(widths.values())}, drawn["n_samples"])
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


# Runtime requests (minutes) of ensemble members from the work they do: epochs × steps of the network (forward +
# backward at the side the network sees) plus, for SSE-RTD members, the RTD loss, whose persistent homology runs on
# the CPU whatever the device. Planned from the config alone (the registries' image counts, sides and forward
# multiply-accumulates), so a dry run shows each member's request and the plan can refuse a member that no job of
# the cluster's time limit could finish.
# Sustained training throughput in GFLOP/s (6 FLOP per multiply-accumulate of the forward pass: 2 forward, 4
# backward). cpu: the slowest of four architectures on the 2-core development machine (thesis A's CNN, 52 GFLOP/s;
# ResNet-50 at 224 px reached 152, benchmarks/bench_step_cost.py, benchmarks/README.md "Step cost"), so small
# networks are not under-asked; cuda: NVIDIA's published float32 training rate of ResNet-50 on an A100 (≈ 400
# images/s ≈ 10 TFLOP/s), rounded down (no GPU was measured here). Override either with `runtime.gflops` from
# your own pretrain.csv's images_per_s (GFLOP/s = images_per_s × 6 × forward GMAC of the architecture at its side).
TRAIN_GFLOPS = {"cpu": 50.0, "cuda": 8000.0}
# Seconds of one RTD loss step at P points per backend (forward + backward of the loss, 2048-d features, card 50,
# 2 threads; benchmarks/README.md "RTD loss" and "Persistent-homology backends"); log-log interpolation between
# them, the last segment's slope beyond. giotto-ph's 64-point step included loading the library, so it starts at 128.
RTD_STEP_SECONDS = {"gudhi": ((64, 0.47), (128, 4.1), (256, 44.7)), "giotto": ((128, 0.29), (256, 1.25))}


def rtd_step_seconds(points: int, backend: str = "gudhi") -> float:
    """Seconds of one RTD loss step on ``points`` points with ``backend`` (:data:`RTD_STEP_SECONDS`)."""
    table = RTD_STEP_SECONDS[backend]
    if points <= table[0][0]:
        return table[0][1] * (points / table[0][0])  # below the smallest measurement: no cheaper than linear
    for (p0, s0), (p1, s1) in zip(table, table[1:]):
        if points <= p1 or (p1, s1) == table[-1]:
            slope = math.log(s1 / s0) / math.log(p1 / p0)
            return s0 * (points / p0) ** slope
    return table[0][1]  # a one-entry table


def forward_gflop(arch: str, side: int) -> float:
    """GFLOP of one image's forward pass through ``arch`` at ``side`` px: 2 × the registry's multiply-accumulates at
    its ``ref_side``, scaled by (side / ref_side)² (exact for the convolutions, an upper bound below ref_side for
    networks whose linear layers read a flattened map)."""
    from transferscope.models.specs import ARCHS

    spec = ARCHS[arch]
    return 2.0 * spec.forward_gmac * (side / spec.ref_side) ** 2


@dataclass(frozen=True)
class TrainingWork:
    """What one training job computes: ``epochs`` over ``train_images`` in batches of ``batch_size`` at ``side`` px
    through ``arch``, then one forward pass over ``eval_images``; ``rtd_points`` (None: no RTD term) the points of
    each step's RTD loss under ``rtd_backend``."""

    arch: str
    side: int
    train_images: int
    eval_images: int
    epochs: int
    batch_size: int
    rtd_points: int | None = None
    rtd_backend: str = "gudhi"

    @property
    def steps(self) -> int:
        return self.epochs * math.ceil(self.train_images / self.batch_size)

    def minutes(self, device: str, gflops: float | None = None, overhead_min: float = 5.0) -> float:
        """Estimated wall-clock minutes on ``device`` (``cpu`` or ``cuda``) at ``gflops`` sustained training GFLOP/s
        (default :data:`TRAIN_GFLOPS`), plus ``overhead_min`` for start-up, data loading and saving."""
        rate = gflops or TRAIN_GFLOPS[device]
        per_image = 3.0 * forward_gflop(self.arch, self.side) / rate  # forward + backward, seconds
        seconds = self.steps * self.batch_size * per_image + self.eval_images * per_image / 3.0
        if self.rtd_points:
            seconds += self.steps * rtd_step_seconds(self.rtd_points, self.rtd_backend)
        return overhead_min + seconds / 60.0


def planned_images(config: dict, dataset: str) -> tuple[int, int, int] | None:
    """(train images, evaluation images, side the networks see) of a configured dataset, from the source
    registry's counts before any derivation (an upper bound: subsets and carves only shrink it) and its
    ``input_size`` / last ``resize`` or ``pad`` / ``image_size`` / native side; None when the files decide."""
    from transferscope.data.sources import get_source

    spec = config["datasets"][dataset]
    source = get_source(spec["source"])
    sizes = [op["size"] for op in spec.get("derive") or [] if op.get("op") in ("resize", "pad")]
    side = spec.get("input_size") or (sizes[-1] if sizes else None) or spec.get("image_size") or source.side
    if source.images is None or side is None:
        return None
    train, test = source.images
    return train, (test or train), int(side)


@dataclass(frozen=True)
class RuntimePolicy:
    """How estimates become requests (config section ``runtime``): ``scale`` × estimate, rounded up to whole
    minutes, × attempt; never above ``max_minutes`` (the time limit of the partition the jobs go to; None: no
    limit). A job whose first request would exceed it is a config error at plan time, unless ``span_jobs``: then
    it asks ``max_minutes`` on every try and resumes from its per-epoch state, and its rule gets enough retries for
    ``ceil(scale × estimate / max_minutes)`` jobs plus ``spare_retries``. ``fallback`` is the request per attempt
    of a job without an estimate."""

    scale: float = 1.5
    max_minutes: int | None = None
    span_jobs: bool = False
    gflops: dict | None = None
    fallback: int = 120
    spare_retries: int = 2

    @classmethod
    def from_config(cls, config: dict) -> RuntimePolicy:
        section = dict(config.get("runtime") or {})
        gflops = {device: rate for device, rate in (section.pop("gflops", None) or {}).items() if rate}
        return cls(**section, gflops=gflops or None)

    def estimate(self, work: TrainingWork | None, device: str) -> float | None:
        """Minutes ``work`` takes on ``device``, × scale (None without work)."""
        if work is None:
            return None
        return self.scale * work.minutes(device, (self.gflops or {}).get(device))

    def jobs_needed(self, minutes: float | None) -> int:
        """SLURM jobs a job of ``minutes`` (scaled) needs under ``max_minutes``."""
        if minutes is None or not self.max_minutes:
            return 1
        return max(1, math.ceil(minutes / self.max_minutes))

    def request(self, minutes: float | None, attempt: int) -> int:
        """Minutes to ask on the ``attempt``-th try (1-based) of a job estimated at ``minutes`` (scaled)."""
        asked = self.fallback * attempt if minutes is None else math.ceil(minutes) * attempt
        return min(asked, self.max_minutes) if self.max_minutes else asked

    def retries(self, estimates) -> int | None:
        """Retries a rule needs so its longest job can span jobs (None: leave the profile's)."""
        most = max((self.jobs_needed(m) for m in estimates), default=1)
        return most - 1 + self.spare_retries if self.span_jobs and most > 1 else None

    def check(self, estimates: dict[str, float | None], what: str = "job") -> None:
        """Raise a ``ConfigError`` naming every ``label`` whose scaled estimate exceeds ``max_minutes`` (unless
        ``span_jobs``)."""
        if not self.max_minutes or self.span_jobs:
            return
        over = {label: m for label, m in estimates.items() if m is not None and m > self.max_minutes}
        if over:
            from transferscope.config import ConfigError

            lines = [f"  {label}: estimated {m:,.0f} min (× runtime.scale {self.scale:g} included)"
                     for label, m in sorted(over.items(), key=lambda item: -item[1])]
            raise ConfigError(
                f"invalid configuration: {len(over)} {what}(s) would run longer than runtime.max_minutes = "
                f"{self.max_minutes} (the partition's time limit):\n" + "\n".join(lines) + "\n"
                "  Fix: set runtime.span_jobs: true (each job asks runtime.max_minutes and resumes from its "
                "per-epoch state on the next try; the rule gets the retries it needs), or make it cheaper (e.g. "
                "ensembles.rtd.backend: giotto, fewer rtd points), or raise runtime.max_minutes on a partition "
                "that allows it (README \"Resources, GPUs and profiles\").")
