"""Layer activations of a fixed, seeded, class-balanced sample of target test images (the analysis side).

The sample, the extraction (taps, pooling) and the activation file format live in the base module
:mod:`transferscope.inference`, because fine-tuning writes activation files too; they are re-exported here for
the analysis jobs and figures.
"""
from __future__ import annotations

from transferscope.inference import (balanced_sample, extract, load_activations, pool_taps, sample_images,
                                     save_activations)

__all__ = ["balanced_sample", "extract", "load_activations", "pool_taps", "sample_images", "save_activations"]
