"""Memory requests from the data: what a job holds grows with its input files (datasets stored as uint8 tensors,
checkpoints), over a baseline of the Python + torch process. Used by ``rules/common.smk``; pure and testable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MemoryModel:
    """mem_mb = scale × attempt × (base_mb + copies × input_mb), rounded up to a multiple of 100 MB.

    ``base_mb``: the process without data (torch import, model, buffers); ``copies``: how many times the job holds
    its inputs at the peak (a training job: the loaded bundle, its train split on the device side and per-batch
    float copies)."""

    base_mb: float
    copies: float

    def mem_mb(self, input_mb: float, attempt: int = 1, scale: float = 1.0) -> int:
        if input_mb < 0 or attempt < 1 or scale <= 0:
            raise ValueError(f"input_mb {input_mb} ≥ 0, attempt {attempt} ≥ 1 and scale {scale} > 0 expected")
        return int(math.ceil(scale * attempt * (self.base_mb + self.copies * input_mb) / 100.0) * 100)


# Rule families: copies from the code's data path, bases above the peaks measured on the small configs (README
# "Resources, GPUs and profiles"); not yet measured at thesis scale.
TRAINING = MemoryModel(base_mb=1500, copies=3.0)   # pretrain, finetune, scratch, ensemble members
ANALYSIS = MemoryModel(base_mb=2500, copies=2.0)   # extract, model_metrics: + activations of one model


def rule_memory(model: MemoryModel, scale: float = 1.0):
    """A Snakemake ``mem_mb`` callable for ``model``: Snakemake passes the job's inputs and attempt number.

    Snakemake evaluates it once the inputs exist (before that, a dry run shows ``<TBD>``)."""

    def mem_mb(wildcards, input, attempt):
        return model.mem_mb(float(input.size_mb), attempt, scale)

    return mem_mb
