"""Runtime requests of ensemble members from the work they do (transferscope/resources.py): the RTD step table, the
network's cost at its side, the policy that turns estimates into requests, and what a dry run of thesis B asks."""
import math
import os
import re

import pytest
import yaml

from conftest import REPO
from transferscope.config import ConfigError, validate_config
from transferscope.ensembles.plan import EnsemblePlan
from transferscope.models.specs import ARCHS
from transferscope.resources import (RTD_STEP_SECONDS, TRAIN_GFLOPS, RuntimePolicy, TrainingWork, forward_gflop,
                                     planned_images, rtd_step_seconds)
from workflow_helpers import edited_config, rule_blocks, run_snakemake

THESIS_B = os.path.join(REPO, "configs", "thesis_b.yaml")


def thesis_b(**runtime) -> dict:
    with open(THESIS_B) as fh:
        config = yaml.safe_load(fh)
    config["runtime"] = runtime
    return validate_config(config)


def plan_of(config: dict) -> EnsemblePlan:
    return EnsemblePlan(config, member_pattern="m/{target}/{source}/{arch}/{seed}/{rep}/{method}/member{k}.pt",
                        data_pattern="d/{dataset}.pt", checkpoint_pattern="c.pt")


def test_rtd_step_is_the_measurement_at_measured_points_and_log_linear_between():
    for backend, table in RTD_STEP_SECONDS.items():
        for points, seconds in table:
            assert rtd_step_seconds(points, backend) == pytest.approx(seconds)
    # halfway in log(points) is the geometric mean of the neighbours
    assert rtd_step_seconds(round(math.sqrt(128 * 256)), "gudhi") == pytest.approx(math.sqrt(4.1 * 44.7), rel=1e-3)
    # beyond the table: the last slope (about 11x per doubling for gudhi); below it: no cheaper than linear
    assert rtd_step_seconds(512, "gudhi") == pytest.approx(44.7 * 44.7 / 4.1)
    assert rtd_step_seconds(32, "gudhi") == pytest.approx(0.47 / 2)
    values = [rtd_step_seconds(p, "giotto") for p in (16, 64, 128, 200, 256, 400)]
    assert values == sorted(values)


def test_forward_cost_scales_with_the_area_from_the_registry():
    assert forward_gflop("resnet50", 224) == pytest.approx(2 * ARCHS["resnet50"].forward_gmac)
    assert forward_gflop("resnet50", 112) == pytest.approx(forward_gflop("resnet50", 224) / 4)


def test_minutes_of_a_member_by_hand():
    work = TrainingWork("resnet50", 224, train_images=1000, eval_images=500, epochs=2, batch_size=100,
                        rtd_points=128, rtd_backend="gudhi")
    per_image = 3 * 2 * ARCHS["resnet50"].forward_gmac / TRAIN_GFLOPS["cpu"]  # seconds, forward + backward
    steps = 2 * 10
    expected = 5 + (steps * 100 * per_image + 500 * per_image / 3 + steps * 4.1) / 60
    assert work.steps == steps
    assert work.minutes("cpu") == pytest.approx(expected)
    assert work.minutes("cpu", gflops=2 * TRAIN_GFLOPS["cpu"]) < expected  # a faster device asks less
    assert TrainingWork("resnet50", 224, 1000, 500, 2, 100).minutes("cpu") == pytest.approx(expected - steps * 4.1 / 60)


def test_policy_scales_multiplies_by_attempt_and_caps_at_the_limit():
    policy = RuntimePolicy(scale=2.0, max_minutes=100)
    work = TrainingWork("mnist_cnn", 28, 600, 100, 1, 60)
    minutes = policy.estimate(work, "cpu")
    assert minutes == pytest.approx(2.0 * work.minutes("cpu"))
    assert policy.request(minutes, 1) == math.ceil(minutes) and policy.request(minutes, 2) == 2 * math.ceil(minutes)
    assert policy.request(90.2, 2) == 100  # capped at max_minutes
    assert policy.request(None, 1) == 100 and RuntimePolicy().request(None, 2) == 240  # fallback 120 x attempt
    assert policy.jobs_needed(250) == 3 and policy.jobs_needed(None) == 1
    assert policy.retries([250, 50]) is None  # span_jobs off: the profile's retries stay
    assert RuntimePolicy(max_minutes=100, span_jobs=True).retries([250, 50]) == 2 + 2
    assert RuntimePolicy(max_minutes=100, span_jobs=True).retries([50]) is None


def test_plan_time_error_names_each_variant_its_estimate_and_the_keys():
    config = thesis_b(max_minutes=1440)
    plan = plan_of(config)
    policy = RuntimePolicy.from_config(config)
    labels = plan.estimate_labels(plan.runtime_estimates(policy, "cuda"))
    with pytest.raises(ConfigError) as err:
        policy.check(labels, "ensemble member")
    text = str(err.value)
    assert "runtime.max_minutes = 1440" in text and "runtime.span_jobs" in text and "ensembles.rtd.backend" in text
    assert re.search(r"sse_rtd member 2: estimated 2,6\d\d min", text)  # 256 points on gudhi: ~30 h x 1.5
    assert "starsse_rtd member 5" in text and "sse_rtd[points=64]" not in text and "local_de" not in text
    RuntimePolicy.from_config(thesis_b(max_minutes=1440, span_jobs=True)).check(labels)  # spanning: no error


def test_planned_images_from_the_registry_and_unknown_for_image_folders():
    config = thesis_b()
    assert planned_images(config, "cifar100_224") == (50000, 10000, 224)
    tiny = {"datasets": {"d": {"source": "sklearn_digits", "derive": [{"op": "pad", "size": 12}]},
                         "f": {"source": "image_folder", "path": "x", "image_size": 32}}}
    assert planned_images(tiny, "d") == (1797, 1797, 12)
    assert planned_images(tiny, "f") is None


@pytest.mark.slow
def test_thesis_b_dry_run_asks_each_rtd_member_its_estimate_or_stops_naming_it(tmp_path):
    """Without a limit, every 256-point RTD member asks at least its estimate (about 30 h x 1.5 on gudhi); with
    the shipped max_minutes and span_jobs, it asks the limit; without span_jobs the plan stops naming it."""
    config = thesis_b()
    plan, policy = plan_of(config), RuntimePolicy.from_config(config)
    estimates = plan.runtime_estimates(policy, "cuda")

    def requests(configfile):
        proc = run_snakemake(tmp_path / "run", "-n", configfile=configfile)
        asked = {}
        for block in rule_blocks(proc.stdout, "ensemble_member"):
            wc = dict(re.findall(r"(\w+)=((?:[^,\[\s]|\[[^\]]*\])+)", block.split("wildcards:")[1].split("\n")[0]))
            job = (wc["target"], int(wc["seed"]), wc["method"], int(wc["k"]), int(wc["rep"]))
            asked[job] = int(re.search(r"runtime=(\d+)", block).group(1))
        return asked

    unlimited = requests(edited_config(THESIS_B, tmp_path / "unlimited.yaml", lambda c: c.pop("runtime")))
    rtd256 = [job for job in unlimited if job[2] in ("sse_rtd", "starsse_rtd")]
    assert len(rtd256) == 2 * 3 * 2 * 4  # seeds x replicates x (SSE-RTD, StarSSE-RTD) x members 2..5
    assert all(unlimited[job] >= estimates[job] > 2000 for job in rtd256)
    assert all(unlimited[job] >= estimates[job] for job in unlimited)

    shipped = requests(THESIS_B)
    assert all(shipped[job] == 1440 for job in rtd256)
    assert all(shipped[job] == unlimited[job] for job in shipped if job not in rtd256)

    refuse = edited_config(THESIS_B, tmp_path / "refuse.yaml", lambda c: c["runtime"].update(span_jobs=False))
    proc = run_snakemake(tmp_path / "refused", "-n", configfile=refuse, check=False)
    assert proc.returncode != 0 and "sse_rtd member 2: estimated" in proc.stdout + proc.stderr
    assert not (tmp_path / "refused" / "results").exists()
