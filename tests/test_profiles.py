"""Cluster profile and the full experiment configs: dry runs only (no sbatch, no data, no weights needed)."""
import importlib.util
import os
import re
import time

import pytest
import yaml

from conftest import REPO
from workflow_helpers import run_snakemake
SLURM_PROFILE = os.path.join(REPO, "profiles", "slurm")
TRAINING = ("pretrain", "finetune", "scratch")
GPU_RULES = TRAINING + ("extract", "model_metrics", "ensemble_member")


def dry_run(workdir, configfile, *args):
    t0 = time.perf_counter()
    proc = run_snakemake(workdir, "-n", *args, configfile=os.path.join(REPO, configfile), timeout=300)
    return proc.stdout + proc.stderr, time.perf_counter() - t0


def job_blocks(out: str) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    for block in out.split("\n\n"):
        m = re.search(r"^\s*(?:local)?rule (\w+):", block, re.M)
        if m:
            blocks.setdefault(m.group(1), []).append(block)
    return blocks


def test_slurm_profile_uses_plugin_resource_names():
    with open(os.path.join(SLURM_PROFILE, "config.yaml")) as fh:
        prof = yaml.safe_load(fh)
    assert prof["executor"] == "slurm" and prof["retries"] >= 1
    defaults = prof["default-resources"]
    assert "slurm_account" not in defaults and {"mem_mb", "runtime"} <= set(defaults)  # unset: the plugin guesses
    # cpus_per_task in default-resources would override every rule's threads (the plugin maps threads itself)
    assert "cpus_per_task" not in defaults
    assert all(prof["set-resources"][r]["slurm_partition"] == "gpu" for r in GPU_RULES)
    assert prof["groups"] == {"finetune": "finetune_group", "scratch": "finetune_group"}
    assert prof["group-components"]["finetune_group"] > 1 and prof["cores"] >= 1


def test_training_runtime_grows_with_attempt():
    """The training resources are written once (rules/common.smk) and used by every training rule; ensemble members
    replace its runtime with their planned estimate (tests/test_runtime_requests.py)."""
    rules = {name: open(os.path.join(REPO, "rules", f"{name}.smk")).read()
             for name in ("common", "pretrain", "finetune", "ensembles")}
    assert rules["common"].count("runtime=lambda wc, attempt: 120 * attempt") == 1
    assert re.search(r"def training_resources\(role, sample=None\):[\s\S]*?return dict\(\s*gpu=GPU,", rules["common"])
    uses = {name: len(re.findall(r"\*\*(?:dict\()?training_resources\(\"(\w+)\"", text)) for name, text in rules.items()}
    assert uses == {"common": 0, "pretrain": 1, "finetune": 2, "ensembles": 1}  # + scratch, ensemble_member
    assert "training_resources(\"ensembles\"), runtime=MEMBER_RUNTIME" in rules["ensembles"]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
                    reason="snakemake-executor-plugin-slurm not installed (pip install -e '.[slurm]')")
def test_slurm_profile_dry_run_groups_finetuning(tmp_path):
    out, _ = dry_run(tmp_path, "configs/thesis_a_cnn.yaml", "--workflow-profile", SLURM_PROFILE)
    assert "localrules directive specifies rules that are not present" not in out
    assert "Group job finetune_group" in out
    finetune = job_blocks(out)["finetune"]
    assert all("slurm_partition=gpu" in b and "gpu=1" in b and "runtime=120" in b for b in finetune)


@pytest.mark.slow
def test_thesis_cnn_dry_run(tmp_path):
    out, _ = dry_run(tmp_path, "configs/thesis_a_cnn.yaml")
    blocks = job_blocks(out)
    counts = {rule: len(b) for rule, b in blocks.items()}
    assert counts["prepare_dataset"] == 6 and counts["pretrain"] == 6 * 10
    assert counts["finetune"] == 6 * 2 * 10 and counts["scratch"] == 2 * 10  # one job fine-tunes all 12 checkpoints
    for rule in TRAINING:
        assert all("gpu=1" in b for b in blocks[rule]), rule
    assert not any("gpu=1" in b for b in blocks["prepare_dataset"])


@pytest.mark.slow
def test_thesis_mini_dry_run_plans_one_metrics_job_per_run(tmp_path):
    out, _ = dry_run(tmp_path, "configs/thesis_a_mini.yaml")
    counts = {rule: len(b) for rule, b in job_blocks(out).items()}
    assert counts["pretrain"] == 6 * 5 and counts["finetune"] == 6 * 2 * 5 and counts["model_metrics"] == 6 * 2 * 5
    assert counts["extract"] == 1 and counts["reference_comparison"] == 1  # only the RDM figure's run is written


@pytest.mark.slow
def test_zoo_dry_run_plans_54_models_on_4_targets_in_2_modes(tmp_path):
    out, _ = dry_run(tmp_path, "configs/zoo.yaml")
    counts = {rule: len(b) for rule, b in job_blocks(out).items()}
    assert counts["pretrain"] == 3 * 6 * 3 and counts["model_metrics"] == 54 * 4  # archs × sources × seeds
    assert counts["finetune"] == 54 * 4 * 2 and "scratch" not in counts
    assert counts["leaderboard"] == 1 and counts["figure_leaderboard"] == 1
    assert "figure_metrics_by_layer" not in counts  # analysis.layers: [penultimate]


@pytest.mark.slow
def test_thesis_vgg16_dry_run_needs_no_data_or_weights(tmp_path):
    out, _ = dry_run(tmp_path, "configs/thesis_a_vgg16.yaml")
    counts = {rule: len(b) for rule, b in job_blocks(out).items()}
    assert counts["import_weights"] == 7 * 3  # the thesis' seven sources, 3 seeds each
    assert "pretrain" not in counts
    assert counts["prepare_dataset"] == 3 and counts["finetune"] == 7 * 3 * 3 and counts["scratch"] == 3 * 3
    archs = {re.search(r"wildcards: source=(\w+), arch=(\w+)", b).groups() for b in job_blocks(out)["import_weights"]}
    assert {arch for _, arch in archs} == {"vgg16", "vgg16_bn", "vgg19"}
    assert ("segnet", "vgg16_bn") in archs and ("cifar10", "vgg19") in archs and len(archs) == 7


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
                    reason="snakemake-executor-plugin-slurm not installed (pip install -e '.[slurm]')")
@pytest.mark.parametrize("config", ["tests/data/config_tiny.yaml", "tests/data/config_ensembles_tiny.yaml"])
def test_every_job_requesting_a_gpu_lands_on_the_gpu_partition(tmp_path, config):
    from workflow_helpers import edited_config

    cuda = edited_config(os.path.join(REPO, config), tmp_path / "cuda.yaml", lambda c: c.__setitem__("device", "cuda"))
    proc = run_snakemake(tmp_path, "-n", "--workflow-profile", SLURM_PROFILE, configfile=cuda, timeout=300)
    jobs = [b for b in re.split(r"\n(?=\[[A-Z][a-z]{2} )", proc.stdout) if re.search(r"^(local)?rule \w+:", b, re.M)]
    gpu_jobs = [b for b in jobs if re.search(r"\bgpu=1\b", b)]
    assert gpu_jobs and all("slurm_partition=gpu" in b for b in gpu_jobs)
    rules = {re.search(r"rule (\w+):", b).group(1) for b in gpu_jobs}
    assert rules <= set(GPU_RULES)
    assert ("ensemble_member" if "ensembles" in config else "extract") in rules
