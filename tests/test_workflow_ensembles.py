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
# along the trajectory (rule ensemble_trajectory_tables) and their figures
TRAJECTORY = {name: f"results/tables/ensemble_{name}.csv" for name in ("distances", "pairs", "pair_correlations",
                                                                         "subsets")}
TRAJECTORY_FIGURES = [f"results/figures/ensemble_{n}.png" for n in ("stage_distances", "stage_outputs",
                                                                      "cosine_diversity", "subsets")]
TARGETS += [*TRAJECTORY.values(), *TRAJECTORY_FIGURES]
METHODS = {"local_de", "global_de", "sse", "starsse", "sse_mse", "sse_mse[beta=5]", "sse_rtd", "starsse_freeze-stage2",
           "starsse_wo", "starsse_ce", "starsse_mse", "starsse_rtd"}
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
    assert list(table.columns) == ["target", "source", "arch", "seed", "replicate", "method", "k", "metric", "value"]
    assert set(table["method"]) == METHODS and set(table["k"]) == {1, 2, 3}
    assert {"ens_acc", "ens_nll", "ens_ece", "ens_brier", "diversity", "member_acc", "member_nll",
            "train_seconds"} <= set(table["metric"])
    acc = table[table["metric"].isin(["ens_acc", "member_acc"])]["value"]
    assert acc.between(0, 1).all()
    first = table[(table["k"] == 1) & (table["metric"] == "member_acc")]["value"]
    assert first.nunique() == 1  # member 1 is shared by every method
    run_dir = finished / "results/ensembles/digits69/digits03/small_resnet/seed1/rep1"
    assert (run_dir / "first/member1.pt").exists() and (run_dir / "first/member1.npz").exists()
    assert not (run_dir / "sse/member2.pt").exists()  # SSE's member 2 is StarSSE's (one cycle from member 1)
    assert (run_dir / "starsse/member2.pt").exists() and (run_dir / "sse/member3.pt").exists()
    # the beta sweep: two variants of sse_mse, each with its own members and its own rows
    assert (run_dir / "sse_mse/member3.pt").exists() and (run_dir / "sse_mse[beta=5]/member3.pt").exists()
    sweep = table[table["method"].str.startswith("sse_mse") & (table["metric"] == "member_acc") & (table["k"] == 3)]
    assert sorted(sweep["method"]) == ["sse_mse", "sse_mse[beta=5]"]
    for path in TARGETS[1:5]:
        assert (finished / path).stat().st_size > 10_000
    summary = pd.read_csv(finished / SUMMARIES[0])
    assert set(summary["method"]) == METHODS and (summary["n"] == 1).all()  # one run (seed) per method here
    fraction = summary[(summary["metric"] == "time_fraction_of_de") & (summary["method"] == "local_de")]
    assert (fraction["mean"] == 1.0).all()
    final = pd.read_csv(finished / SUMMARIES[1])
    assert set(final["method"]) == METHODS and (final["k"] == 3).all() and "diversity" in final.columns
    assert not list(finished.glob("results/**/.resume*")) and not list(finished.glob("results/**/*.tmp"))


def test_trajectory_tables_and_figures(finished):
    distances = pd.read_csv(finished / TRAJECTORY["distances"])
    assert list(distances.columns) == ["target", "source", "arch", "seed", "replicate", "method", "k", "measure",
                                       "layer", "value"]
    assert set(distances["method"]) == METHODS and set(distances["k"]) == {1, 2, 3}
    assert set(distances["measure"]) == {"feature_mse", "feature_rtd", "feature_wasserstein", "output_mse",
                                         "weight_l2", "weight_mse"}
    assert set(distances["layer"]) == {"pool", "stem", "stage1", "stage2", "stage3", "fc", "all"}
    outputs = distances[distances["measure"] == "output_mse"]
    assert set(outputs["layer"]) == {"stem", "stage1", "stage2", "stage3", "pool"}  # every stage saved by the members
    assert (distances.loc[distances["k"] == 1, "value"] == 0).all()
    assert (distances.loc[distances["k"] > 1, "value"] >= 0).all()
    frozen = distances[(distances["method"] == "starsse_freeze-stage2") & distances["layer"].isin(["stem", "stage2"])]
    assert (frozen["value"] == 0).all()  # layers up to stage2 do not move from member 1, nor do their outputs
    assert set(frozen["measure"]) == {"weight_l2", "weight_mse", "output_mse"}
    table = pd.read_csv(finished / "results/tables/ensembles.csv").set_index(["method", "k", "metric"])["value"]
    sse = distances[(distances["method"] == "sse") & (distances["k"] == 3)].set_index(["measure", "layer"])["value"]
    assert sse[("feature_mse", "pool")] == pytest.approx(table[("sse", 3, "dist_features")], rel=1e-6)
    assert sse[("weight_l2", "all")] == pytest.approx(table[("sse", 3, "dist_weights")])
    pairs = pd.read_csv(finished / TRAJECTORY["pairs"])
    assert list(pairs.columns) == ["target", "source", "arch", "seed", "replicate", "method", "a", "b",
                                   "with_member1", "diversity", "weight_cosine"]
    assert (pairs["with_member1"] == (pairs["a"] == 1)).all()
    assert len(pairs) == 3 * len(METHODS) and pairs["weight_cosine"].between(-1, 1 + 1e-9).all()
    rho = pd.read_csv(finished / TRAJECTORY["pair_correlations"])
    assert set(rho["scope"]) == {"run", "run_with_member1", "run_without_member1", "method", "cycle_methods", "all"}
    assert list(rho.columns[-3:]) == ["pairs", "spearman", "pearson"] and (rho["pairs"] > 0).all()
    split = rho[rho["scope"].str.startswith("run_")].groupby("scope")["pairs"]
    assert (split.min() == split.max()).all() and split.min().to_dict() == {"run_with_member1": 2,
                                                                            "run_without_member1": 1}  # K = 3
    subsets = pd.read_csv(finished / TRAJECTORY["subsets"]).set_index(["method", "k"])
    assert set(subsets.index.get_level_values("method")) == METHODS
    # max_subsets 2: StarSSE keeps member 1 (C(2, 1) = 2 pairs, all), Local DE samples 2 of its C(3, 2) = 3
    assert subsets.loc[("starsse", 2), "subsets"] == 2 and subsets.loc[("starsse", 2), "exhaustive"]
    assert subsets.loc[("local_de", 2), "subsets"] == 2 and not subsets.loc[("local_de", 2), "exhaustive"]
    full = subsets.xs(3, level="k")
    assert (full["subsets"] == 1).all()
    assert all(full.loc[m, "mean_acc"] == pytest.approx(table[(m, 3, "ens_acc")]) for m in METHODS)
    for path in TRAJECTORY_FIGURES:
        assert (finished / path).stat().st_size > 10_000


def test_nothing_to_do_after_run(finished):
    assert "Nothing to be done" in run(finished, "-n").stdout


def test_variant_parameter_reruns_only_the_methods_it_shapes(finished, tmp_path):
    path = edited_config(TINY, tmp_path / "mse.yaml", lambda c: c["ensembles"]["mse"].__setitem__("beta", 2.0))
    out = run(finished, "-n", configfile=path).stdout
    jobs = planned_jobs(out)
    assert jobs["ensemble_member"] == 4  # members 2 and 3 of sse_mse and of starsse_mse
    members = re.findall(r"output: (\S+member\d\.pt)", out)
    assert {m.split("/")[-2] for m in members} == {"sse_mse", "starsse_mse"}


def test_a_new_variant_adds_its_members_and_reruns_nothing_that_existed(finished, tmp_path):
    path = edited_config(TINY, tmp_path / "sweep.yaml",
                         lambda c: c["ensembles"]["methods"].append("starsse_mse[beta=3]"))
    out = run(finished, "-n", configfile=path).stdout
    jobs = planned_jobs(out)
    assert jobs.pop("ensemble_member") == 2  # members 2 and 3 of the new variant; member 1 is shared
    assert set(re.findall(r"output: \S+/(starsse_mse\S*)/member\d\.pt", out)) == {"starsse_mse[beta=3]"}
    assert set(jobs) <= {"ensemble_table", "ensemble_summary", "ensemble_trajectory_tables", "ensemble_variance",
                         "report_table_ensembles_final", "all"} | {f"figure_ensemble_{n}" for n in ("size", "diversity", "trajectory", "freeze",
                                                                     "stage_distances", "stage_outputs",
                                                                     "cosine_diversity", "subsets", "variance")}


def test_replicates_plan_one_run_per_seed_and_replicate(tmp_path):
    path = edited_config(TINY, tmp_path / "reps.yaml", lambda c: c["ensembles"].__setitem__("replicates", 2))
    out = run(tmp_path, "-n", configfile=path).stdout
    members = set(re.findall(r"output: (\S+member\d\.pt)", out))
    assert {m.split("/")[-3] for m in members} == {"rep1", "rep2"}
    assert len(members) == 2 * len({m.replace("rep2", "rep1") for m in members})


def test_disabled_section_plans_no_ensemble_job(tmp_path):
    path = edited_config(TINY, tmp_path / "off.yaml", lambda c: c["ensembles"].__setitem__("enabled", False))
    jobs = planned_jobs(snakemake(tmp_path, "-n", configfile=path).stdout)
    assert not [j for j in jobs if "ensemble" in j]


def test_cuda_config_requests_gpu_on_member_jobs(tmp_path):
    path = edited_config(TINY, tmp_path / "cuda.yaml", lambda c: c.__setitem__("device", "cuda"))
    out = run(tmp_path, "-n", configfile=path).stdout
    blocks = rule_blocks(out, "ensemble_member")
    # first, DEs, starsse, sse, sse_mse, sse_mse[beta=5], sse_rtd, freeze, wo, ce, starsse_mse, starsse_rtd
    assert len(blocks) == 1 + 2 + 2 + 2 + 1 + 2 + 2 + 2 + 2 + 1 + 1 + 2 + 2
    assert all("gpu=1" in b for b in blocks)
    other = rule_blocks(out, r"ensemble_table|ensemble_trajectory_tables|figure_ensemble_\w+")
    assert other and not any("gpu=1" in b for b in other)


def test_a_longer_run_gives_the_variance_study_and_the_reference_comparison(finished, tmp_path):
    """starsse[members=5] reuses StarSSE's members 1-3 and trains 4 and 5; every size-3 subset with member 1
    (C(4, 2) = 6) enters the variance study; ensembles.reference gives the comparison table."""
    import json
    import shutil

    import numpy as np

    workdir = tmp_path / "work"
    shutil.copytree(finished, workdir, symlinks=True)

    def longer(config):
        ens = config["ensembles"]
        ens["methods"].append("starsse[members=5]")
        ens["variance"] = {"subset_size": 3, "fraction": 0.2}
        ens["trajectory"]["max_subsets"] = 10  # every subset (the tiny config samples 2)
        ens["reference"] = {"label": "text", "rows": {
            "starsse": {"text": "StarSSE", "member_acc": [85.88, 0.25], "diversity": [68.12, 1.15],
                        "ens_acc": [87.41, 0.12], "time": 1.0},
            "sse": {"text": "SSE", "member_acc": [85.52, 0.34], "diversity": [71.57, 5.94], "ens_acc": [87.11, 0.06]},
            "local_de": {"text": "Local DE", "ens_acc": 87.33}}}

    path = edited_config(TINY, tmp_path / "longer.yaml", longer)
    tables = [f"results/tables/{name}.csv" for name in ("ensemble_variance", "ensemble_variance_summary",
                                                          "ensembles_reference_comparison")]
    plan = planned_jobs(snakemake(workdir, "-n", configfile=path, targets=tables).stdout)
    assert plan["ensemble_member"] == 2  # members 4 and 5 of StarSSE; 1-3 exist
    snakemake(workdir, "--cores", "2", configfile=path, targets=tables + ["results/figures/ensemble_variance.png"])
    run_dir = workdir / "results/ensembles/digits69/digits03/small_resnet/seed1/rep1"
    assert (run_dir / "starsse/member5.pt").exists() and not (run_dir / "starsse[members=5]").exists()

    variance = pd.read_csv(workdir / tables[0])
    assert set(variance["method"]) == {"starsse[members=5]"} and len(variance) == 6
    assert variance["subset"].str.startswith("1-").all() and (variance["members"] == 5).all()
    row = variance.iloc[3]
    members = [int(m) for m in row["subset"].split("-")]
    probs, labels = [], None
    for m in members:
        directory = "first" if m == 1 else "starsse"
        with np.load(run_dir / directory / f"member{m}.npz") as data:
            probs.append(data["probs"].astype(np.float64))
            labels = data["labels"]
    assert row["ens_acc"] == pytest.approx(float((np.mean(probs, axis=0).argmax(1) == labels).mean()))
    assert set(variance["group"]) == {"best", "worst", "middle"}
    summary = pd.read_csv(workdir / tables[1])
    assert set(summary["scope"]) == {"run", "method"}
    span = summary[(summary["scope"] == "run") & (summary["group"] == "all")].set_index("statistic")["value"]
    assert span["min"] == variance["ens_acc"].min() and span["max"] == variance["ens_acc"].max()

    comparison = pd.read_csv(workdir / tables[2]).set_index(["method", "metric"])
    assert set(comparison.index.get_level_values("method")) == {"starsse", "sse", "local_de"}
    assert (comparison.xs("ens_acc", level="metric")["n"] == 1).all()  # one run in the tiny config
    ens = pd.read_csv(workdir / "results/tables/ensembles.csv")
    final = ens[(ens["method"] == "sse") & (ens["k"] == 3) & (ens["metric"] == "ens_acc")]["value"].iloc[0]
    assert comparison.loc[("sse", "ens_acc"), "ours_mean"] == pytest.approx(100 * final)
    assert comparison.loc[("sse", "ens_acc"), "text_delta"] == pytest.approx(87.11 - 87.41)
    info = json.loads(str(np.load(run_dir / "starsse/member5.npz")["info"]))
    assert info["k"] == 5 and info["method"] == "starsse"
