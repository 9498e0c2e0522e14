"""End to end on a real SLURM cluster: tests/data/config_cluster.yaml through profiles/slurm (sbatch, sacct) gives
the same tables as a local run. Needs the single-node cluster of ci/slurm_cluster.sh (`.ci/run` starts it when it
can); skipped without it."""
import glob
import os
import re
import subprocess
import time

import pandas as pd
import pytest

from conftest import REPO
from workflow_helpers import SNAKEMAKE, edited_config

pytestmark = pytest.mark.cluster
CONFIG = os.path.join(REPO, "tests", "data", "config_cluster.yaml")
START = "bash ci/slurm_cluster.sh start` (root, Debian)"
CLUSTER = "transferscope"  # ClusterName written by ci/slurm_cluster.sh
# Table rules only: figures are local rules that would add nothing to the comparison but time.
TABLES = ("finetune_table", "pretrain_table", "pretrain_points", "metrics_table", "transfer_outcomes",
          "transferability")
TIMING = re.compile(r"seconds|per_s")  # wall-clock columns differ between any two runs
# The plugin re-polls sacct after this many seconds (+10 s per poll without a finished job); the profile's 40 s
# suits real clusters, not seconds-long jobs. A job that sacct shows as `CANCELLED by <uid>` is never recognised as
# failed by plugin 2.8, so the run is bounded by a timeout that cancels its jobs.
FAST_POLLING = ("--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2")
TIMEOUT = 480


def slurm(*args, timeout=20):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=True).stdout


@pytest.fixture(scope="module")
def slurm_cluster():
    """The test cluster's node CPUs; skips (with the command to start it) where the test cluster is not up."""
    try:
        config = slurm("scontrol", "show", "config")
        partitions = set(slurm("sinfo", "-h", "-o", "%R").split())
        cpus = int(slurm("sinfo", "-h", "-p", "cpu", "-o", "%c").split()[0].rstrip("+"))
    except FileNotFoundError:
        pytest.skip(f"SLURM is not installed: start the test cluster with `{START}")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, IndexError, ValueError):
        pytest.skip(f"no SLURM controller reachable: start the test cluster with `{START}")
    name = re.search(r"^ClusterName\s*=\s*(\S+)", config, re.M)
    if not name or name.group(1) != CLUSTER or not {"cpu", "gpu"} <= partitions:
        pytest.skip(f"the reachable SLURM cluster is not the test cluster of ci/slurm_cluster.sh (`{START})")
    return cpus


def snakemake(workdir, *args, configfile=CONFIG) -> subprocess.Popen:
    """Snakemake on CONFIG (device: auto) as on a machine with one GPU: every training and metrics job requests
    gpu=1 (the test cluster's node has one GRES GPU, /dev/null; the jobs find no CUDA and run on the CPU)."""
    cmd = [SNAKEMAKE, *TABLES, "--snakefile", os.path.join(REPO, "Snakefile"), "--directory", str(workdir), *args,
           "--configfile", str(configfile)]
    with open(workdir / "snakemake.log", "w") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "TRANSFERSCOPE_GPUS": "1"})


def finish(proc, workdir, timeout, on_timeout=lambda out: None, check=True) -> str:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        on_timeout((workdir / "snakemake.log").read_text())
        raise
    out = (workdir / "snakemake.log").read_text()
    assert proc.returncode == 0 or not check, f"snakemake in {workdir} failed ({proc.returncode}):\n{out[-6000:]}"
    return out


def tables(workdir) -> dict[str, pd.DataFrame]:
    found = {os.path.basename(p): pd.read_csv(p) for p in sorted(glob.glob(f"{workdir}/results/tables/*.csv"))}
    return {name: df.drop(columns=[c for c in df.columns if TIMING.search(c)]) for name, df in found.items()}


def cancel_run(out):
    run_id = re.search(r"SLURM run ID: (\S+)", out)
    if run_id:
        subprocess.run(["scancel", "--name", run_id.group(1)], timeout=30)


def test_slurm_run_gives_the_local_tables(tmp_path, slurm_cluster, record_property):
    (tmp_path / "slurm").mkdir()
    (tmp_path / "local").mkdir()
    # Both at once: the cluster run mostly waits (sbatch, polling), the local one fills the CPUs meanwhile.
    # The profile as shipped but for `cores`, set to the node's CPUs (the preflight stops the shipped cores: 8).
    cluster = snakemake(tmp_path / "slurm", "--workflow-profile", os.path.join(REPO, "profiles", "slurm"),
                        "--executor", "slurm", "--retries", "0", "--cores", str(slurm_cluster), *FAST_POLLING)
    local = snakemake(tmp_path / "local", "--cores", "2")
    try:
        finish(local, tmp_path / "local", 300)
    except BaseException:
        cluster.kill()
        cluster.wait()
        cancel_run((tmp_path / "slurm" / "snakemake.log").read_text())
        raise
    out = finish(cluster, tmp_path / "slurm", TIMEOUT, on_timeout=cancel_run)
    assert re.search(r"^preflight: \d+ submissions .* fit the cluster", out, re.M), out[-3000:]

    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)
    fields = "JobID,Partition,AllocCPUS,AllocTRES,Timelimit,State,Elapsed,Comment"
    sacct = slurm("sacct", "-X", "-P", "-n", "--name", run_id, "--starttime", "now-1days", "-o", fields).split()
    jobs = [dict(zip(fields.split(","), line.split("|"))) for line in sacct]
    # shown in pytest's terminal summary (tests/conftest.py), also when the tests run in parallel workers
    record_property("sacct", "\n".join([f"SLURM run {run_id}: {len(jobs)} jobs"]
                                       + ["  " + " ".join(f"{k}={v}" for k, v in job.items()) for job in jobs]))
    assert jobs and all(job["State"] == "COMPLETED" for job in jobs)
    assert {job["Partition"] for job in jobs} == {"gpu"}  # training and metrics on gpu (profile)
    assert all("gres/gpu=1" in job["AllocTRES"] for job in jobs)  # each job, and the group, holds one GPU
    # the fine-tuning group (finetune + scratch, run one after the other): one job's CPUs, their runtimes added up
    group = [job for job in jobs if job["Comment"].startswith("rule_finetune_group")]
    assert len(group) == 1 and group[0]["AllocCPUS"] == "1" and group[0]["Timelimit"] == "04:00:00", group
    assert "localrule prepare_dataset:" in out  # download: true -> prepared by the Snakemake process

    local_tables, cluster_tables = tables(tmp_path / "local"), tables(tmp_path / "slurm")
    assert set(local_tables) == set(cluster_tables) and "finetune.csv" in local_tables
    for name, expected in local_tables.items():
        pd.testing.assert_frame_equal(cluster_tables[name], expected, check_exact=False, rtol=1e-6, obj=name)


def cpu_config(tmp_path):
    """CONFIG with device: cpu: no job asks for a GPU, so a group's width is bounded by `cores` and `serial`."""
    return edited_config(CONFIG, tmp_path / "cpu.yaml", lambda c: c.update(device="cpu"))


def test_shipped_profile_on_a_smaller_node_stops_in_preflight_naming_cores(tmp_path, slurm_cluster):
    """profiles/slurm as shipped (cores: 8) on the test cluster's node (2 CPUs): the preflight stops the run before
    anything is submitted, within a minute, naming `cores` and the node's CPU count."""
    t0 = time.monotonic()
    proc = snakemake(tmp_path, "--workflow-profile", os.path.join(REPO, "profiles", "slurm"), "--executor", "slurm",
                     configfile=cpu_config(tmp_path))
    out = finish(proc, tmp_path, 60, check=False)
    assert time.monotonic() - t0 < 60
    assert proc.returncode != 0
    assert "cores: 8" in out and f"exceeds the {slurm_cluster} CPUs of the largest node" in out, out[-3000:]
    assert "Set cores to at most" in out
    assert not (tmp_path / "results" / "pretrain").exists() and "Submitted" not in out  # nothing submitted


def test_make_preflight_passes_a_fitting_profile_and_submits_nothing(tmp_path, slurm_cluster):
    """make preflight with cores set to the node's CPUs: every request fits; a CPU-only fine-tuning group asks for
    one job's CPUs (its jobs run one after the other)."""
    args = f"--cores {slurm_cluster} --directory {tmp_path}"
    proc = subprocess.run(["make", "-s", "-C", REPO, "preflight", f"CONFIG={cpu_config(tmp_path)}", f"ARGS={args}"],
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert re.search(r"^preflight: \d+ submissions \(most asked: 1 CPUs, .*\) fit the cluster", out, re.M), out
    assert not (tmp_path / "results" / "pretrain").exists() and "Submitted" not in out
