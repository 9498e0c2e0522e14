"""Memory requests that follow the data: the model, and a dry run of thesis B with a bundle of a known size."""
import os
from types import SimpleNamespace

import pytest

from conftest import REPO
from transferscope.resources import ANALYSIS, TRAINING, MemoryModel, rule_memory
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
    _sparse(tmp_path / "results/data/cifar100_224.pt", 9000)  # CIFAR-100 at 224 px as uint8
    # 28,500 MB, where the profile's default is 4,000 (growth with size, attempt, memory.scale: unit test above)
    assert _member_mem(tmp_path, config) == {TRAINING.mem_mb(9000)} == {28500}
