"""The SLURM preflight's pure parts: what sinfo says a partition offers, and one message per request it cannot hold,
naming the rule, the request, the limit and the key to change (the cluster run is in tests/test_cluster.py)."""
import pytest

from transferscope.preflight import (
    Partition,
    Request,
    check,
    parse_gpus,
    parse_sinfo,
    parse_time_limit,
    profile_in_argv,
    summary,
)

SINFO = """cpu*|2|24105|infinite|(null)
gpu|8+|64000|1-00:00:00|gpu:a100:4(S:0-1)
gpu|16|128000|1-00:00:00|gpu:a100:2,shard:8
"""
PROFILE = "profiles/slurm/config.yaml"


def job(rule="finetune", group=None, cpus=1, mem=1000, runtime=60, gpus=0, partition=None, rules=None):
    return Request(rules=tuple(rules or [rule]), group=group, cpus=cpus, mem_mb=mem, runtime_min=runtime, gpus=gpus,
                   partition=partition)


@pytest.mark.parametrize("text, minutes", [
    ("infinite", None), ("UNLIMITED", None), ("30", 30), ("30:00", 30), ("02:00:00", 120), ("1-00:00:00", 1440),
    ("2-12", 3600), ("00:00:30", 1), ("1-02:03:04", 1440 + 123 + 1),
])
def test_time_limits_in_minutes(text, minutes):
    assert parse_time_limit(text) == minutes


@pytest.mark.parametrize("gres, gpus", [("(null)", 0), ("gpu:1(S:0)", 1), ("gpu:a100:4(S:0-1)", 4),
                                        ("gpu:a100:2,gpu:v100:1,shard:8", 3), ("shard:8", 0)])
def test_gpus_of_a_gres_string(gres, gpus):
    assert parse_gpus(gres) == gpus


def test_sinfo_gives_each_partitions_largest_node():
    parts = parse_sinfo(SINFO)
    assert parts["cpu"] == Partition("cpu", 2, 24105, None, 0, default=True)
    assert parts["gpu"] == Partition("gpu", 16, 128000, 1440, 4, default=False)


def test_fitting_requests_have_no_problem():
    parts = parse_sinfo(SINFO)
    requests = [job(cpus=2, mem=24000), job("pretrain", cpus=16, gpus=4, partition="gpu", runtime=1440)]
    assert check(requests, parts, cores=16, profile=PROFILE) == []


def test_cores_above_every_node_is_named_with_the_cpu_count():
    (message,) = check([job()], parse_sinfo("cpu*|2|24105|infinite|(null)\n"), cores=8, profile=PROFILE)
    assert message.startswith(f"cores: 8 (in {PROFILE} or --cores) exceeds the 2 CPUs of the largest node")
    assert "Set cores to at most 2." in message


def test_one_message_per_problem_naming_rule_request_limit_and_key():
    parts = parse_sinfo(SINFO)
    group = job(group="finetune_group", rules=["finetune", "scratch", "finetune"], cpus=4, runtime=480)
    problems = check([group, group, job("model_metrics", mem=30000), job("pretrain", gpus=1),
                      job("extract", partition="h100")], parts, cores=2, profile=PROFILE)
    assert len(problems) == 4  # the repeated group is reported once; partition cpu has no time limit
    cpus, mem, gpus, partition = problems
    assert cpus.startswith("group finetune_group (rules finetune, scratch) asks --cpus-per-task=4, but the nodes of "
                           "partition cpu have at most 2 CPUs") and f"set cores to at most 2 in {PROFILE}" in cpus
    assert mem.startswith("rule model_metrics asks --mem=30000M, but the nodes of partition cpu have at most 24105 MB")
    assert "memory.scale" in mem and "set mem_mb of model_metrics under set-resources" in mem
    assert gpus.startswith("rule pretrain asks for 1 GPU(s), but the nodes of partition cpu have 0")
    assert "`device: cpu`" in gpus
    assert partition.startswith("rule extract asks for partition 'h100', which this cluster does not have "
                                "(partitions: cpu, gpu)") and "slurm_partition of extract" in partition


def test_time_limit_message_for_a_group():
    parts = {"short": Partition("short", 8, 8000, 240, 0, default=True)}
    (message,) = check([job(group="finetune_group", rules=["finetune", "scratch"], runtime=480)], parts)
    assert message == ("group finetune_group (rules finetune, scratch) asks -t 480 min, but partition short allows at "
                       "most 240 min: lower group-components of finetune_group in your profile (a group asks for its "
                       "jobs' runtimes added up).")


def test_undecided_memory_is_not_checked_but_counted():
    parts = parse_sinfo(SINFO)
    requests = [job(mem=None), job("pretrain", mem=500, runtime=120)]
    assert check(requests, parts, cores=2) == []
    assert summary(requests) == ("2 submissions (most asked: 1 CPUs, 500 MB, 120 min, 0 GPUs; memory of 1 decided "
                                 "once their inputs exist)")


def test_profile_named_on_the_command_line():
    assert profile_in_argv(["snakemake", "--workflow-profile", "profiles/slurm"]) == "profiles/slurm/config.yaml"
    assert profile_in_argv(["snakemake", "--profile=site"]) == "site/config.yaml"
    assert profile_in_argv(["snakemake", "--cores", "2"]) == "your profile"
