"""End-to-end: the ensembles rules on a tiny config (K = 3, every method, one pre-training seed)."""
import os
import re

import pandas as pd
import pytest

from conftest import REPO
from workflow_helpers import edited_config, planned_jobs, rule_blocks, run_snakemake

TINY = os.path.join(REPO, "tests", "data", "config_ensembles_tiny.yaml")
TARGETS = ["results/tables/ensembles.csv"] + [f"results/figures/ensemble_{n}.png"
                                              for n in ("size", "diversity", "trajectory", "freeze")]
SUMMARIES = ["results/tables/ensembles_summary.csv", "results/tables/ensembles_final.csv"]
TARGETS += SUMMARIES
METHODS = {"local_de", "global_de", "sse", "starsse", "sse_mse", "sse_rtd", "starsse_freeze-stage2", "starsse_wo",
           "starsse_ce", "starsse_mse", "starsse_rtd"}
pytestmark = pytest.mark.slow


def snakemake(workdir, *args, configfile=TINY, targets=(), check=True):
    return run_snakemake(workdir, *args, configfile=configfile, targets=targets, check=check, timeout=600)


def run(workdir, *args, configfile=TINY, check=True):
    return snakemake(workdir, *args, configfile=configfile, targets=TARGETS, check=check)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ens_run")
    run(workdir, "--cores", "2")
    return workdir


def test_table_members_and_figures(finished):
    table = pd.read_csv(finished / "results/tables/ensembles.csv")
    assert list(table.columns) == ["target", "source", "arch", "seed", "method", "k", "metric", "value"]
    assert set(table["method"]) == METHODS and set(table["k"]) == {1, 2, 3}
    assert {"ens_acc", "ens_nll", "ens_ece", "ens_brier", "diversity", "member_acc", "member_nll",
            "train_seconds"} <= set(table["metric"])
    acc = table[table["metric"].isin(["ens_acc", "member_acc"])]["value"]
    assert acc.between(0, 1).all()
    first = table[(table["k"] == 1) & (table["metric"] == "member_acc")]["value"]
    assert first.nunique() == 1  # member 1 is shared by every method
    run_dir = finished / "results/ensembles/digits69/digits03/small_resnet/seed1"
    assert (run_dir / "first/member1.pt").exists() and (run_dir / "first/member1.npz").exists()
    assert not (run_dir / "sse/member2.pt").exists()  # SSE's member 2 is StarSSE's (one cycle from member 1)
    assert (run_dir / "starsse/member2.pt").exists() and (run_dir / "sse/member3.pt").exists()
    for path in TARGETS[1:5]:
        assert (finished / path).stat().st_size > 10_000
    summary = pd.read_csv(finished / SUMMARIES[0])
    assert set(summary["method"]) == METHODS and (summary["n"] == 1).all()  # one run (seed) per method here
    fraction = summary[(summary["metric"] == "time_fraction_of_de") & (summary["method"] == "local_de")]
    assert (fraction["mean"] == 1.0).all()
    final = pd.read_csv(finished / SUMMARIES[1])
    assert set(final["method"]) == METHODS and (final["k"] == 3).all() and "diversity" in final.columns
    assert not list(finished.glob("results/**/.resume*")) and not list(finished.glob("results/**/*.tmp"))


def test_nothing_to_do_after_run(finished):
    assert "Nothing to be done" in run(finished, "-n").stdout


def test_variant_parameter_reruns_only_the_methods_it_shapes(finished, tmp_path):
    path = edited_config(TINY, tmp_path / "mse.yaml", lambda c: c["ensembles"]["mse"].__setitem__("beta", 2.0))
    out = run(finished, "-n", configfile=path).stdout
    jobs = planned_jobs(out)
    assert jobs["ensemble_member"] == 4  # members 2 and 3 of sse_mse and of starsse_mse
    members = re.findall(r"output: (\S+member\d\.pt)", out)
    assert {m.split("/")[-2] for m in members} == {"sse_mse", "starsse_mse"}


def test_disabled_section_plans_no_ensemble_job(tmp_path):
    path = edited_config(TINY, tmp_path / "off.yaml", lambda c: c["ensembles"].__setitem__("enabled", False))
    jobs = planned_jobs(snakemake(tmp_path, "-n", configfile=path).stdout)
    assert not [j for j in jobs if "ensemble" in j]


def test_cuda_config_requests_gpu_on_member_jobs(tmp_path):
    path = edited_config(TINY, tmp_path / "cuda.yaml", lambda c: c.__setitem__("device", "cuda"))
    out = run(tmp_path, "-n", configfile=path).stdout
    blocks = rule_blocks(out, "ensemble_member")
    # first, DEs, starsse, sse, sse_mse, sse_rtd, freeze, wo, ce, starsse_mse, starsse_rtd
    assert len(blocks) == 1 + 2 + 2 + 2 + 1 + 2 + 2 + 2 + 1 + 1 + 2 + 2
    assert all("gpu=1" in b for b in blocks)
    other = rule_blocks(out, r"ensemble_table|figure_ensemble_\w+")
    assert other and not any("gpu=1" in b for b in other)
