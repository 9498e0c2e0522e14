"""Memory requests that follow the data: the model, and a dry run of thesis B with a bundle of a known size."""
import os
from types import SimpleNamespace

import pytest

from conftest import REPO
from transferscope.config import training_batches
from transferscope.resources import (ANALYSIS, TRAINING, MemoryModel, activation_mb, rule_memory, step_mb_per_image,
                                     tap_widths)
from workflow_helpers import rule_blocks, run_snakemake


def test_memory_grows_with_the_inputs_the_attempt_and_the_scale():
    model = MemoryModel(base_mb=1000, copies=2.0)
    assert model.mem_mb(0) == 1000 and model.mem_mb(450) == 1900 and model.mem_mb(451) == 2000  # ceil to 100 MB
    assert model.mem_mb(450, attempt=2) == 3800 and model.mem_mb(450, scale=1.5) == 2900
    with pytest.raises(ValueError):
        model.mem_mb(10, attempt=0)
    job = rule_memory(TRAINING, scale=2.0)
    assert job(None, SimpleNamespace(size_mb=100.0), 3) == TRAINING.mem_mb(100.0, 3, 2.0)
    assert ANALYSIS.mem_mb(0) > TRAINING.mem_mb(0)  # activations of one model on top of the process


def test_activation_term_and_tap_widths_match_a_real_extraction():
    model = MemoryModel(base_mb=1000, copies=2.0, activation_copies=2.5, layer_copies=3.0)
    assert model.mem_mb(450, activation_mb=200) == 2400 and model.mem_mb(450, 2, activation_mb=200) == 4800
    assert model.mem_mb(450, activation_mb=200, layer_mb=100, step_mb=50) == 2800
    with pytest.raises(ValueError):
        model.mem_mb(10, activation_mb=-1)
    import numpy as np
    import torch

    from transferscope.inference import Preprocess, extract
    from transferscope.models import build_model

    images = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)
    acts = extract(build_model("mnist_cnn", 2, 1, 28), images, Preprocess([0.5], [0.25]), pool="both",
                   max_units=3000)
    assert tap_widths("mnist_cnn", 1, 28, "both", 3000) == {name: a.shape[1] for name, a in acts.items()}
    assert activation_mb({"a": 2**18, "b": 2**18}, 2) == 4.0  # 2 × 2^19 float32 values = 4 MB
    assert np.isclose(activation_mb(tap_widths("vgg16", 3, 224, "flatten"), 500), 3222, atol=1)  # VGG16 at 224 px


def test_analysis_jobs_ask_for_their_activations_from_the_bundle_they_read(tmp_path):
    """A 224-px view of the 8×8 digits: the metrics job's request counts VGG16's flattened taps at 224 px."""
    from transferscope.data.prepare import build_bundle

    path = tmp_path / "digits.pt"
    build_bundle("digits", {"source": "sklearn_digits", "derive": [{"op": "rgb"}], "input_size": 224}).save(path)
    sample = {"n_samples": 500, "pool": "flatten", "flatten_units": None}
    job = rule_memory(ANALYSIS, 1.0, sample)
    wildcards, inputs = SimpleNamespace(arch="vgg16"), SimpleNamespace(size_mb=600.0, target=str(path))
    widths = tap_widths("vgg16", 3, 224, "flatten")
    acts, widest = activation_mb(widths, 500), activation_mb({"pool1": widths["pool1"]}, 500)  # pool1: 802,816
    assert job(wildcards, inputs, 1) == ANALYSIS.mem_mb(600.0, 1, 1.0, acts, widest) > acts + 7 * widest > 13_000
    capped = rule_memory(ANALYSIS, 1.0, {**sample, "flatten_units": 1000})(wildcards, inputs, 1)
    assert capped < ANALYSIS.mem_mb(600.0, 1, 1.0, 0.1 * acts)  # flatten_units shrinks what is held


def test_cpu_training_asks_for_its_batch_backward_state(tmp_path):
    """On the CPU a training step keeps every leaf module's output for backward: counted on the meta device, equal
    to a real forward pass of the same model; the request adds batch × that."""
    import torch

    from transferscope.data.prepare import build_bundle
    from transferscope.models import build_model

    outputs = []
    model = build_model("mnist_cnn", 2, 1, 28)
    for module in model.modules():
        if not list(module.children()):
            module.register_forward_hook(lambda m, i, o: outputs.append(o.numel()))
    model(torch.zeros(1, 1, 28, 28))
    assert step_mb_per_image("mnist_cnn", 1, 28) == sum(outputs) * 4 / 2**20
    assert 100 < step_mb_per_image("resnet50", 3, 224) < 150  # ~122 MB per image at 224 px
    path = tmp_path / "digits.pt"
    build_bundle("digits", {"source": "sklearn_digits", "derive": [{"op": "rgb"}], "input_size": 224}).save(path)
    inputs = SimpleNamespace(size_mb=10.0, data=str(path))  # pretrain names its dataset input `data`
    job = rule_memory(TRAINING, 1.0, cpu_batch=32)
    step = 32 * step_mb_per_image("resnet50", 3, 224)
    assert job(SimpleNamespace(arch="resnet50"), inputs, 1) == TRAINING.mem_mb(10.0, 1, 1.0, step_mb=step) > 4000
    assert rule_memory(TRAINING, 1.0)(SimpleNamespace(arch="resnet50"), inputs, 1) == TRAINING.mem_mb(10.0)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a bundle")  # the job reports it in its log; the request falls back to the inputs
    assert job(SimpleNamespace(arch="resnet50"), SimpleNamespace(size_mb=1.0, target=str(broken)), 1) == \
        TRAINING.mem_mb(1.0)
    config = {"pretrain": {"recipe": {"batch_size": 64}}, "ensembles": {"recipe": {"batch_size": 256}},
              "finetune": {"recipe": {"batch_size": 16}, "modes": ["full", "linear"],
                           "mode_recipes": {"linear": {"batch_size": 128}}}}
    assert training_batches(config) == {"pretrain": 64, "finetune": 128, "ensembles": 256}
    assert "ensembles" not in training_batches({**config, "ensembles": {}})


def _sparse(path, mb):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:  # a sparse file: its size without the disk space
        fh.truncate(int(mb * 1024 * 1024))


def _member_mem(workdir, config):
    out = run_snakemake(workdir, "-n", "--workflow-profile", os.path.join(REPO, "profiles", "slurm"),
                        configfile=config, targets=["results/tables/ensembles.csv"]).stdout
    blocks = rule_blocks(out, "ensemble_member")
    assert blocks and all("slurm_partition=gpu" in b for b in blocks)
    return {int(b.split("mem_mb=")[1].split(",")[0]) for b in blocks}


@pytest.mark.slow
def test_thesis_b_member_memory_follows_the_bundle_size(tmp_path):
    config = os.path.join(REPO, "configs", "thesis_b.yaml")
    _sparse(tmp_path / "results/data/cifar100_224.pt", 9000)  # as if CIFAR-100 were stored at 224 px (uint8)
    # 28,500 MB, where the profile's default is 4,000 (growth with size, attempt, memory.scale: unit test above)
    assert _member_mem(tmp_path, config) == {TRAINING.mem_mb(9000)} == {28500}


@pytest.mark.slow
def test_vgg16_metrics_memory_counts_its_flattened_taps(tmp_path):
    """configs/thesis_a_vgg16.yaml: a model_metrics job holds one VGG16's flattened taps of custom3D's 1,200
    analysis images at 224 px (7.6 GB) and the metrics' copies of its widest layer (pool1, 3.6 GB) besides its
    inputs: its request is computed from the target bundle on disk and the target's own sample size."""
    import torch

    from transferscope.data.bundle import Bundle

    n = 12
    bundle = Bundle(torch.zeros(n, 3, 224, 224, dtype=torch.uint8), torch.arange(n) % 2, torch.full((n,), 2),
                    ["a", "b"], {"mean": [0.5] * 3, "std": [0.25] * 3})
    (tmp_path / "results/data").mkdir(parents=True)
    bundle.save(tmp_path / "results/data/custom3d.pt")
    _sparse(tmp_path / "results/pretrain/imagenet/vgg16/seed1/final.pt", 528)  # VGG16's weights as a checkpoint
    out = run_snakemake(tmp_path, "-n", "--workflow-profile", os.path.join(REPO, "profiles", "slurm"),
                        configfile=os.path.join(REPO, "configs", "thesis_a_vgg16.yaml"),
                        targets=["results/tables/metrics/custom3d/imagenet/vgg16/seed1.csv"]).stdout
    blocks = rule_blocks(out, "model_metrics")
    assert len(blocks) == 1 and "slurm_partition=gpu" in blocks[0]
    inputs_mb = (os.path.getsize(tmp_path / "results/data/custom3d.pt") + 528 * 2**20) / 2**20
    widths = tap_widths("vgg16", 3, 224, "flatten")
    n_samples = 1200  # analysis.target_samples.custom3d, the thesis' 30 training images per class
    acts, widest = activation_mb(widths, n_samples), activation_mb({"widest": max(widths.values())}, n_samples)
    expected = ANALYSIS.mem_mb(inputs_mb, 1, 1.0, acts, widest)
    assert int(blocks[0].split("mem_mb=")[1].split(",")[0]) == expected > 35_000
