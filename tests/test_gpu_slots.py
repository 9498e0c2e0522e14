"""GPU slot allocation (CPU-only: GPUs are simulated with TRANSFERSCOPE_GPUS) and device selection."""
import os
import re
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from conftest import REPO
from transferscope import gpu_slots
from transferscope.gpu_slots import claim_gpu, count_gpus
from transferscope.runtime import claim_device, resolve_device


def env(**values):
    """An environment mapping without CUDA_VISIBLE_DEVICES unless given (claim_gpu writes into it)."""
    base = {"PATH": os.environ.get("PATH", "")}
    base.update(values)
    return base


def test_concurrent_claims_get_distinct_slots_in_process(tmp_path):
    """Three holders at once (separate lock fds) get GPUs 0, 1, 2; a fourth, with all busy, shares one."""
    envs = [env(TRANSFERSCOPE_GPUS="3") for _ in range(4)]
    slots = [claim_gpu(e, lock_dir=tmp_path) for e in envs[:3]]
    try:
        assert sorted(e["CUDA_VISIBLE_DEVICES"] for e in envs[:3]) == ["0", "1", "2"]
        assert all(s.held and not s.shared for s in slots)
        extra = claim_gpu(envs[3], lock_dir=tmp_path)
        assert extra.shared and envs[3]["CUDA_VISIBLE_DEVICES"] in {"0", "1", "2"}
    finally:
        for s in slots:
            s.release()


def test_slot_freed_after_release(tmp_path):
    e1, e2 = env(TRANSFERSCOPE_GPUS="2"), env(TRANSFERSCOPE_GPUS="2")
    with claim_gpu(e1, lock_dir=tmp_path) as first:
        assert e1["CUDA_VISIBLE_DEVICES"] == "0"
        with claim_gpu(e2, lock_dir=tmp_path):
            assert e2["CUDA_VISIBLE_DEVICES"] == "1"
    assert not first.held
    e3 = env(TRANSFERSCOPE_GPUS="2")
    with claim_gpu(e3, lock_dir=tmp_path):
        assert e3["CUDA_VISIBLE_DEVICES"] == "0"  # slot 0 is free again


JOB = textwrap.dedent("""
    import os, sys, time
    from transferscope.gpu_slots import claim_gpu  # what runtime.claim_device("cuda") calls; no torch import
    slot = claim_gpu()
    print(os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
    go = sys.argv[1]
    while not os.path.exists(go):  # hold the slot until every job has claimed one
        time.sleep(0.02)
""")


def _job(tmp_path, **extra):
    e = {**os.environ, "TRANSFERSCOPE_GPUS": "3", "TRANSFERSCOPE_GPU_LOCKS": str(tmp_path / "locks"), **extra}
    e.pop("CUDA_VISIBLE_DEVICES", None)
    e["PYTHONPATH"] = REPO + os.pathsep + e.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-c", JOB, str(tmp_path / "go")], env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_concurrent_processes_get_distinct_gpus_and_free_them_at_exit(tmp_path):
    """Three job processes running at once see three different devices; after they exit, slot 0 is free."""
    procs = [_job(tmp_path) for _ in range(3)]
    seen = [p.stdout.readline().strip() for p in procs]  # each prints once it holds its slot
    (tmp_path / "go").touch()
    for p in procs:
        assert p.wait(timeout=60) == 0, p.stderr.read()
    assert sorted(seen) == ["0", "1", "2"]
    e = env(TRANSFERSCOPE_GPUS="3")
    with claim_gpu(e, lock_dir=tmp_path / "locks"):
        assert e["CUDA_VISIBLE_DEVICES"] == "0"


def test_killed_job_frees_its_slot(tmp_path):
    proc = _job(tmp_path)
    assert proc.stdout.readline().strip() == "0"
    proc.kill()
    proc.wait(timeout=30)
    e = env(TRANSFERSCOPE_GPUS="3")
    with claim_gpu(e, lock_dir=tmp_path / "locks"):
        assert e["CUDA_VISIBLE_DEVICES"] == "0"


@pytest.mark.parametrize("preset", ["1", "GPU-3f2a", "", "-1"])
def test_preset_single_device_is_respected(tmp_path, preset):
    e = env(TRANSFERSCOPE_GPUS="4", CUDA_VISIBLE_DEVICES=preset)
    assert claim_gpu(e, lock_dir=tmp_path) is None
    assert e["CUDA_VISIBLE_DEVICES"] == preset
    assert not list(tmp_path.iterdir())  # no lock taken


def test_preset_list_is_split_among_jobs(tmp_path):
    """Several preset devices (e.g. a SLURM group job with 2 GPUs): each job takes one of them, never another."""
    e1, e2 = env(CUDA_VISIBLE_DEVICES="2,3"), env(CUDA_VISIBLE_DEVICES="2,3")
    with claim_gpu(e1, lock_dir=tmp_path), claim_gpu(e2, lock_dir=tmp_path):
        assert {e1["CUDA_VISIBLE_DEVICES"], e2["CUDA_VISIBLE_DEVICES"]} == {"2", "3"}


@pytest.mark.parametrize("values", [{"TRANSFERSCOPE_GPUS": "0"}, {"PATH": "/nonexistent"}])
def test_no_gpus_sets_nothing(tmp_path, values):
    e = env(**values)
    assert count_gpus(e) == 0
    assert claim_gpu(e, lock_dir=tmp_path) is None
    assert "CUDA_VISIBLE_DEVICES" not in e


def test_count_gpus_from_nvidia_smi(tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\n"
                    "echo 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)'\n"
                    "echo '  MIG 3g.40gb     Device  0: (UUID: MIG-bbbb)'\n"
                    "echo 'GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-cccc)'\n")
    fake.chmod(0o755)
    assert count_gpus({"PATH": str(tmp_path)}) == 2
    assert count_gpus({"PATH": str(tmp_path), "TRANSFERSCOPE_GPUS": "5"}) == 5  # the variable wins
    with pytest.raises(ValueError, match="TRANSFERSCOPE_GPUS"):
        count_gpus({"TRANSFERSCOPE_GPUS": "two"})


def test_lock_dir_separates_hosts_and_slurm_jobs(monkeypatch):
    monkeypatch.setattr(gpu_slots.socket, "gethostname", lambda: "node7")
    assert str(gpu_slots.default_lock_dir({})) == os.path.join(".snakemake", "gpu_slots", "node7")
    assert gpu_slots.default_lock_dir({"SLURM_JOB_ID": "42"}).name == "node7-42"
    assert str(gpu_slots.default_lock_dir({"TRANSFERSCOPE_GPU_LOCKS": "/x/y"})) == "/x/y"


def test_claim_device_cpu_does_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("TRANSFERSCOPE_GPUS", "2")
    monkeypatch.setenv("TRANSFERSCOPE_GPU_LOCKS", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert claim_device("cpu") is None
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_claim_device_auto_claims_and_holds(monkeypatch, tmp_path):
    monkeypatch.setenv("TRANSFERSCOPE_GPUS", "2")
    monkeypatch.setenv("TRANSFERSCOPE_GPU_LOCKS", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    slot = claim_device("auto")
    try:
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0" and slot in gpu_slots.held_slots()
    finally:
        slot.release()
    assert slot not in gpu_slots.held_slots()


def test_all_busy_waits_then_shares(tmp_path):
    e1, e2 = env(TRANSFERSCOPE_GPUS="1"), env(TRANSFERSCOPE_GPUS="1")
    with claim_gpu(e1, lock_dir=tmp_path):
        t0 = time.monotonic()
        shared = claim_gpu(e2, lock_dir=tmp_path, wait_s=0.3, poll_s=0.05)
        assert time.monotonic() - t0 >= 0.3
        assert shared.shared and e2["CUDA_VISIBLE_DEVICES"] == "0"


# --- device selection ---------------------------------------------------------------------------------------

def test_resolve_device_auto_without_cuda_is_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_resolve_device_cuda_without_cuda_names_config_key(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"config key device"):
        resolve_device("cuda")


def test_resolve_device_unknown_value():
    with pytest.raises(ValueError, match=r"config key device"):
        resolve_device("tpu")


@pytest.mark.slow
@pytest.mark.parametrize("config", ["config_tiny.yaml", "config_ensembles_tiny.yaml"])
def test_every_rule_that_requests_a_gpu_claims_a_slot(tmp_path, config):
    """With device: cuda, each job that requests gpu=1 runs a script that claims its slot (runtime.claim_device)."""
    from workflow_helpers import edited_config, run_snakemake

    path = edited_config(os.path.join(REPO, "tests", "data", config), tmp_path / "cuda.yaml",
                         lambda c: c.__setitem__("device", "cuda"))
    out = run_snakemake(tmp_path, "-n", configfile=path).stdout
    blocks = [b for b in out.split("\n\n") if re.search(r"^\s*rule \w+:", b, re.M)]
    gpu_rules = {re.search(r"^\s*rule (\w+):", b, re.M).group(1) for b in blocks if "gpu=1" in b}
    assert gpu_rules >= ({"pretrain", "finetune", "scratch", "extract"} if config == "config_tiny.yaml"
                         else {"ensemble_member"})
    for rule in gpu_rules:
        script = open(os.path.join(REPO, "workflow_scripts", f"{rule}.py")).read()
        assert "claim_device(smk.params.device)" in script, rule


@pytest.mark.parametrize("device, gpus, expected", [
    ("auto", "2", 1), ("auto", "0", 0), ("cuda", "0", 1), ("cpu", "4", 0),
])
def test_gpu_resource_follows_the_hardware_for_device_auto(device, gpus, expected):
    from transferscope.config import uses_gpu

    assert uses_gpu({"device": device}, {"TRANSFERSCOPE_GPUS": gpus, "PATH": ""}) == expected
