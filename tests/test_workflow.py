"""End-to-end: the real Snakemake workflow on a tiny config, plus rerun and resource behaviour."""
import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from conftest import REPO
from workflow_helpers import edited_config, planned_jobs, rule_blocks, run_snakemake
TINY = os.path.join(REPO, "tests", "data", "config_tiny.yaml")
pytestmark = pytest.mark.slow
FIGURES = ("pretrain_curves", "pretrain_points", "finetune_vs_checkpoint", "finetune_curves", "gain_curves",
           "transfer_gain", "metrics_by_layer", "metrics_by_checkpoint", "correlation_heatmap", "correlation_levels",
           "best_predictor", "rdm", "cka_finetune")
OUTCOME_FIGURES = ("correlation_heatmap", "correlation_levels", "best_predictor")


def snakemake(workdir, *args, configfile=TINY, check=True, repo=REPO):
    return run_snakemake(workdir, *args, configfile=configfile, check=check, repo=repo)


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    """A copy of the workflow files, so a test may edit a plotting module without touching the repository."""
    dest = tmp_path_factory.mktemp("workflow") / "repo"
    shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "*.egg-info",
                                                              "__pycache__", ".pytest_cache"))
    return dest


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, workflow_copy):
    workdir = tmp_path_factory.mktemp("run")
    snakemake(workdir, "--cores", "2", repo=workflow_copy)
    return workdir


def test_run_produces_tables_and_figures(finished_run):
    table = pd.read_csv(finished_run / "results/tables/finetune.csv")
    expected = {"target", "source", "arch", "seed", "checkpoint", "mode", "test_acc", "test_loss", "best_epoch",
                "train_seconds"}
    assert expected <= set(table.columns)
    assert len(table) == 2 * 2 * 2 + 1  # sources × checkpoints × modes + scratch
    assert set(table["mode"]) == {"full", "freeze:conv1"}
    assert table["test_acc"].between(0, 1).all()
    real = table[(table.source == "digits03") & (table.checkpoint == "final") & (table["mode"] == "full")]
    assert real["test_acc"].iloc[0] > 0.5  # a real transfer from real digits learns the target
    pre = pd.read_csv(finished_run / "results/tables/pretrain.csv")
    assert {"source", "seed", "epoch", "train_loss", "test_acc", "lr", "images_per_s"} <= set(pre.columns)
    curves = pd.read_csv(finished_run / "results/tables/finetune_curves.csv")
    assert set(curves["point"]) == {"step0", "epoch1", "final"}
    for name in FIGURES:
        assert (finished_run / f"results/figures/{name}.png").stat().st_size > 10_000
    assert not list(finished_run.glob("results/**/.resume*"))  # resume state cleaned up
    assert not list(finished_run.glob("results/**/*.tmp"))  # nothing half-written


def test_analysis_tables(finished_run):
    metrics = pd.read_csv(finished_run / "results/tables/metrics.csv")
    assert list(metrics.columns[:8]) == ["target", "source", "arch", "seed", "checkpoint", "layer", "metric", "value"]
    assert {"sum_of_squares", "rsa", "twonn", "logme", "hscore", "transrate", "leep", "nce"} <= set(metrics["metric"])
    assert {"conv1", "conv1:gap", "fc1", "out"} <= set(metrics["layer"])  # pool: both
    assert len(metrics.groupby(["source", "seed", "checkpoint"])) == 2 * 1 * 2
    twonn = metrics[metrics["metric"] == "twonn"]
    assert twonn["sd"].notna().all()  # twonn_subsets: 3 gives mean ± sd
    boot = metrics[metrics["metric"].isin(["sum_of_squares", "rsa"])].dropna(subset=["value"])
    assert len(boot) and boot["ci_low"].notna().all()  # analysis.metric_bootstrap, default 200 replicates
    assert ((boot["ci_low"] <= boot["ci_high"]) & (boot["ci_low"] >= 0)).all()
    assert metrics.loc[metrics["metric"] == "logme", "ci_low"].isna().all()  # no interval where not cheap
    corr = pd.read_csv(finished_run / "results/tables/transferability.csv")
    assert {"spearman", "kendall", "weighted_tau", "pearson"} == set(corr["statistic"])
    assert {"test_acc", "early_acc", "gain", "peak_gain", "auc", "point_acc"} == set(corr["outcome"])
    n = corr.groupby("level")["n"].unique().to_dict()  # 2 sources × 2 checkpoints × 1 seed
    assert {level: list(v) for level, v in n.items()} == {"all": [4], "per_source": [2], "per_checkpoint": [2],
                                                          "per_seed": [4], "per_seed_pooled": [4], "per_point": [4]}
    points = corr[corr["level"] == "per_point"]
    assert list(dict.fromkeys(points["group"])) == ["step0", "epoch1", "final"]  # one ρ per eval point, in order
    assert set(points["outcome"]) == {"point_acc"}
    assert "constant_rows" not in set(corr["metric"])
    spearman = corr[(corr["statistic"] == "spearman") & (corr["level"] == "all")].dropna(subset=["value"])
    assert spearman["ci_low"].notna().all()  # bootstrap interval (analysis.bootstrap, default 1000 resamples)
    assert ((-1 <= spearman["ci_low"]) & (spearman["ci_low"] <= spearman["ci_high"]) & (spearman["ci_high"] <= 1)).all()
    cka = pd.read_csv(finished_run / "results/tables/cka_finetune.csv")
    assert cka["cka"].between(0, 1 + 1e-9).all() and {"conv1", "fc1"} <= set(cka["layer"])
    acts = list(finished_run.glob("results/activations/digits69/*/mnist_cnn/seed1/*.npz"))
    assert len(acts) == 4
    tuned = pd.read_csv(finished_run / "results/tables/metrics_finetuned.csv")  # analysis.finetuned: true
    assert set(tuned["mode"]) == {"full", "freeze:conv1"}
    assert len(tuned.groupby(["source", "checkpoint", "mode"])) == 2 * 2 * 2
    assert len(list(finished_run.glob("results/activations_finetuned/digits69/*/mnist_cnn/seed1/*/*.npz"))) == 8


def test_target_is_stored_at_its_native_size_and_seen_at_its_input_size(finished_run):
    """digits69 (input_size: 12) is stored at the digits' 8×8 and resized per batch: the fine-tuned checkpoints
    fit 12×12 inputs and every activation file's input tap has 12 × 12 units; flatten_units caps conv maps."""
    import numpy as np

    from transferscope.data.bundle import Bundle

    bundle = Bundle.load(finished_run / "results/data/digits69.pt")
    assert tuple(bundle.images.shape[1:]) == (1, 8, 8) and bundle.shape == (1, 12, 12)
    # the sources' 12×12 checkpoints fit it (fine-tuning checks in_channels × image_size² against bundle.shape)
    assert len(list(finished_run.glob("results/finetune/digits69/*/mnist_cnn/seed1/*/*/result.json"))) == 2 * 2 * 2
    for path in finished_run.glob("results/activations*/digits69/**/*.npz"):
        with np.load(path) as data:
            widths = {str(name): data[f"act:{name}"].shape[1] for name in data["layers"]}
        assert widths["in"] == 144 and widths["conv1"] == 1000 and widths["conv1:gap"] < 1000, (path, widths)


def test_every_job_peaked_below_its_memory_request(finished_run):
    """benchmarks/memory_fit.py: each job's mem_mb (as the scheduler computes it from the inputs on disk) against the
    peak RSS its benchmark file recorded; exit 1 when a job used more than it asked for."""
    done = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "memory_fit.py"), str(finished_run),
                           "--configfile", TINY], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    rules = {line.split("|")[1].strip() for line in done.stdout.splitlines() if line.startswith("| ")}
    assert {"pretrain", "finetune", "scratch", "model_metrics", "extract"} <= rules, done.stdout


def test_metrics_from_saved_activations_equal_the_metrics_table(finished_run, tmp_path):
    """model_metrics computes activations in memory; the same metrics from rule extract's files give the same rows."""
    from transferscope.analysis.jobs import run_layer_metrics
    from transferscope.metrics.registry import metric_names

    params = yaml.safe_load(open(TINY))["analysis"]
    files = sorted(finished_run.glob("results/activations/digits69/*/mnist_cnn/seed1/*.npz"))
    keys = [dict(target="digits69", source=f.parent.parent.parent.name, arch="mnist_cnn", seed=1, checkpoint=f.stem)
            for f in files]
    metrics = metric_names(default_only=True)  # what the tiny config computes (its default list)
    saved = run_layer_metrics([str(f) for f in files], keys, metrics, tmp_path / "m.csv",
                              twonn_subsets=params["twonn_subsets"], seed=0, metric_bootstrap=200)
    table = pd.read_csv(finished_run / "results/tables/metrics.csv")
    table = table[(table["target"] == "digits69") & table["metric"].isin(metrics)]
    on = ["source", "checkpoint", "layer", "metric"]
    both = saved.merge(table, on=on, suffixes=("_saved", "_table"))
    assert len(both) == len(saved) == len(table) > 0
    for column in ("value", "sd", "ci_low", "ci_high"):
        pd.testing.assert_series_equal(both[f"{column}_saved"], both[f"{column}_table"], check_names=False, rtol=1e-9)


def test_without_keep_activations_only_the_rdm_model_is_extracted(tmp_path):
    path = edited_config(TINY, tmp_path / "lean.yaml", lambda c: c["analysis"].__setitem__("keep_activations", False))
    jobs = planned_jobs(snakemake(tmp_path, "-n", configfile=path).stdout)
    assert jobs["extract"] == 1 and jobs["model_metrics"] == 2  # the RDM figure's run; one metrics job per run


def test_report(finished_run, workflow_copy):
    snakemake(finished_run, "--report", "results/report.html", repo=workflow_copy)
    html = (finished_run / "results/report.html").read_text(errors="ignore")
    assert "transfer_gain" in html and "Fine-tuning" in html and "Analysis" in html


def test_nothing_to_do_after_run(finished_run, workflow_copy):
    out = snakemake(finished_run, "-n", repo=workflow_copy).stdout
    assert "Nothing to be done" in out


def test_cuda_options_rerun_nothing_on_the_cpu(finished_run, workflow_copy, tmp_path):
    # cuda: options are training params only where they apply (device != cpu), so a CPU run keeps its results
    changed = edited_config(TINY, tmp_path / "bf16.yaml", lambda c: c.__setitem__("cuda", {"bf16": True}))
    assert "Nothing to be done" in snakemake(finished_run, "-n", configfile=changed, repo=workflow_copy).stdout


def test_plot_option_reruns_only_figures(finished_run, workflow_copy, tmp_path):
    changed = edited_config(TINY, tmp_path / "changed.yaml", lambda c: c["figures"].__setitem__("dpi", 70))
    jobs = planned_jobs(snakemake(finished_run, "-n", configfile=changed, repo=workflow_copy).stdout)
    assert set(jobs) - {"all"} == {f"figure_{name}" for name in FIGURES}


def test_headline_outcome_reruns_only_the_figures_that_show_it(finished_run, workflow_copy, tmp_path):
    changed = edited_config(TINY, tmp_path / "outcome.yaml", lambda c: c["analysis"].__setitem__("outcome", "early_acc"))
    jobs = planned_jobs(snakemake(finished_run, "-n", configfile=changed, repo=workflow_copy).stdout)
    assert set(jobs) - {"all"} == {f"figure_{name}" for name in OUTCOME_FIGURES}


def test_tables_of_thesis_a(finished_run):
    points = pd.read_csv(finished_run / "results/tables/pretrain_points.csv")
    assert len(points) == 2 * 1 * 2 and set(points["checkpoint"]) == {"step0", "final"}
    assert (points.loc[points["checkpoint"] == "step0", "step"] == 0).all() and points["test_acc"].between(0, 1).all()
    summary = pd.read_csv(finished_run / "results/tables/transfer_summary.csv")
    assert set(summary["outcome"]) == {"test_acc", "early_acc", "gain", "peak_gain", "auc"}
    assert len(summary) == 2 * 2 * 2 * 5 and (summary["n"] == 1).all()  # sources × checkpoints × modes × outcomes


def test_plot_module_edit_reruns_only_its_figure(finished_run, workflow_copy):
    module = workflow_copy / "transferscope" / "plots" / "transfer_gain.py"
    original = module.read_text()
    try:
        module.write_text(original + "\n# edited: a new colour map\n")
        stat = module.stat()
        os.utime(module, (stat.st_atime, stat.st_mtime + 5))
        jobs = planned_jobs(snakemake(finished_run, "-n", repo=workflow_copy).stdout)
    finally:
        module.write_text(original)
    assert set(jobs) - {"all"} == {"figure_transfer_gain"}


def test_cuda_config_requests_gpu_on_training_jobs(tmp_path):
    path = edited_config(TINY, tmp_path / "cuda.yaml", lambda c: c.__setitem__("device", "cuda"))
    out = snakemake(tmp_path, "-n", configfile=path).stdout
    blocks = rule_blocks(out, "pretrain|finetune|scratch")
    assert len(blocks) == 2 + 4 + 1  # pretrain + finetune (all checkpoints of a run per job) + scratch
    assert all("gpu=1" in b for b in blocks)
    other = rule_blocks(out, r"prepare_dataset|figure_\w+")
    assert other and not any("gpu=1" in b for b in other)


def test_device_auto_requests_a_gpu_where_there_is_one(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFERSCOPE_GPUS", "1")  # what the machine building the DAG reports (0: unit test)
    path = edited_config(TINY, tmp_path / "auto.yaml", lambda c: c.__setitem__("device", "auto"))
    blocks = rule_blocks(snakemake(tmp_path, "-n", configfile=path).stdout, "pretrain|finetune|scratch|model_metrics")
    assert blocks and all("gpu=1" in b for b in blocks)


@pytest.mark.parametrize("edit, key", [
    (lambda c: c["pretrain"]["recipe"].__setitem__("epochs", -2), "pretrain.recipe.epochs"),
    (lambda c: c.__setitem__("targets", ["imagenet"]), "targets[0]"),
    (lambda c: c.__setitem__("unknown_key", 1), "unknown_key"),
])
def test_bad_config_fails_before_any_job(tmp_path, edit, key):
    path = edited_config(TINY, tmp_path / "bad.yaml", edit)
    proc = snakemake(tmp_path, "--cores", "1", configfile=path, check=False)
    assert proc.returncode != 0
    assert key in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_killed_job_leaves_no_output_and_resumes(tmp_path):
    """A pre-training job killed after its second epoch (of three) leaves no declared output; the rerun resumes."""
    from transferscope.data.prepare import build_bundle
    from transferscope.training import pretrain as pretrain_mod

    cfg = yaml.safe_load(open(TINY))
    bundle = build_bundle("digits03", cfg["datasets"]["digits03"])
    bundle.save(tmp_path / "d.pt")
    recipe = {"optimizer": "adam", "lr": 0.002, "batch_size": 64, "epochs": 3, "schedule": "constant", "augment": {}}
    outs = {p: str(tmp_path / f"ckpt/{p}.pt") for p in ("step0", "epoch1", "final")}
    log = tmp_path / "ckpt/train_log.csv"
    job = tmp_path / "job.json"
    job.write_text(json.dumps(dict(bundle_path=str(tmp_path / "d.pt"), arch="mnist_cnn", seed=1, recipe=recipe,
                                   checkpoints=outs, train_log=str(log), device="cpu")))
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, os.path.join(REPO, "tests", "interrupted_pretrain.py"), str(job)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 9, proc.stderr  # killed at the end of epoch 2
    assert not any(os.path.exists(p) for p in outs.values()) and not log.exists()
    assert (tmp_path / "ckpt/.resume_train_log/state.pt").exists()
    pretrain_mod.run_pretrain(tmp_path / "d.pt", arch="mnist_cnn", seed=1, recipe=recipe, checkpoints=outs,
                              train_log=log, device="cpu")
    frame = pd.read_csv(log)
    assert frame["epoch"].tolist() == [1, 2, 3]
    assert not (tmp_path / "ckpt/.resume_train_log").exists()
    # the resumed run equals an uninterrupted one
    fresh = {p: str(tmp_path / f"fresh/{p}.pt") for p in outs}
    pretrain_mod.run_pretrain(tmp_path / "d.pt", arch="mnist_cnn", seed=1, recipe=recipe, checkpoints=fresh,
                              train_log=tmp_path / "fresh/log.csv", device="cpu")
    import torch

    a, b = torch.load(outs["final"], weights_only=False), torch.load(fresh["final"], weights_only=False)
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
