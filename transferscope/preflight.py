"""SLURM preflight: every job's (and job group's) request against what the cluster's partitions offer, before
anything is submitted, with one message per problem naming the rule, the request, the limit and the key to change.

sbatch rejects a request that no node of its partition can hold, and Snakemake (with the SLURM executor plugin)
then reports ``Error in rule …: message: None`` without saying why. The checks here read the same values the plugin
turns into sbatch options (plugin 2.x: ``threads`` or ``cpus_per_task`` → ``--cpus-per-task``, ``mem_mb`` →
``--mem``, ``runtime`` → ``-t``, ``gpu`` / ``gres`` → ``--gpus`` / ``--gres``, ``slurm_partition`` → ``-p``) and
compare them with ``sinfo``. Pure functions (:func:`parse_sinfo`, :func:`check`) do the work; :func:`requests_of_dag`
reads a built Snakemake DAG and :func:`run_preflight` is what the Snakefile's ``onstart`` calls.

``make preflight`` runs the workflow with ``TRANSFERSCOPE_PREFLIGHT=only``: the checks run, then Snakemake stops
before submitting anything (exit 0 when every request fits, 1 with the messages otherwise).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

ONLY_ENV = "TRANSFERSCOPE_PREFLIGHT"  # "only": check, then stop without submitting; "off": skip the checks
SINFO_FORMAT = "%P|%c|%m|%l|%G"  # partition (default marked *), CPUs, memory (MB), time limit, GRES of a node set


class PreflightError(Exception):
    """Requests that no node of their partition can hold; ``str()`` lists one problem per line."""


@dataclass(frozen=True)
class Partition:
    """What the largest node of one SLURM partition offers.

    ``cpus``: CPUs of its largest node; ``mem_mb``: memory of its largest node (MB; None: not reported);
    ``time_min``: the partition's time limit in minutes (None: infinite); ``gpus``: most GPUs (GRES ``gpu``) of one
    node; ``default``: the partition jobs go to when they name none."""

    name: str
    cpus: int
    mem_mb: int | None
    time_min: int | None
    gpus: int
    default: bool = False


@dataclass(frozen=True)
class Request:
    """What one submission (a job, or a group of jobs that share one SLURM job) asks for.

    ``rules``: its rules in order; ``group``: the group name, None for a single job; ``cpus``: --cpus-per-task;
    ``mem_mb``: --mem in MB (None: decided only once the job's inputs exist); ``runtime_min``: -t in minutes (None:
    not set); ``gpus``: GPUs asked; ``partition``: -p (None: the cluster's default)."""

    rules: tuple[str, ...]
    group: str | None
    cpus: int
    mem_mb: int | None
    runtime_min: int | None
    gpus: int
    partition: str | None

    @property
    def what(self) -> str:
        rules = ", ".join(dict.fromkeys(self.rules))
        return f"group {self.group} (rules {rules})" if self.group else f"rule {rules}"


def _number(text: str) -> int | None:
    """'2', '2+' (several node sizes: the smallest is shown) or 'n/a' → int or None."""
    match = re.match(r"(\d+)", text.strip())
    return int(match.group(1)) if match else None


def parse_time_limit(text: str) -> int | None:
    """A SLURM time limit ('infinite', 'UNLIMITED', 'MM', 'MM:SS', 'HH:MM:SS', 'D-HH[:MM[:SS]]') in minutes."""
    text = text.strip()
    if not text or text.lower() in ("infinite", "unlimited", "n/a"):
        return None
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if days:
        hours, minutes, seconds = (parts + [0, 0, 0])[:3]
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    elif len(parts) == 2:
        hours, (minutes, seconds) = 0, parts
    else:
        hours, minutes, seconds = 0, parts[0], 0
    return int(days or 0) * 1440 + hours * 60 + minutes + (1 if seconds else 0)


def parse_gpus(gres: str) -> int:
    """GPUs in a node's GRES string ('gpu:1(S:0)', 'gpu:a100:4,shard:8', '(null)') → 4, 0 …"""
    total = 0
    for item in gres.split(","):
        match = re.match(r"gpu(?::[^:(]+)?:(\d+)", item.strip())
        if match:
            total += int(match.group(1))
    return total


def parse_sinfo(text: str) -> dict[str, Partition]:
    """Partitions from ``sinfo -h -o '%P|%c|%m|%l|%G'`` (one line per partition and node configuration), each with
    the largest node's CPUs, memory and GPUs."""
    found: dict[str, Partition] = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 5 or not fields[0]:
            continue
        name, cpus, mem, limit, gres = fields
        default = name.endswith("*")
        name = name.rstrip("*")
        part = Partition(name, _number(cpus) or 0, _number(mem), parse_time_limit(limit), parse_gpus(gres), default)
        if name in found:
            old = found[name]
            part = Partition(name, max(old.cpus, part.cpus), max(old.mem_mb or 0, part.mem_mb or 0) or None,
                             old.time_min, max(old.gpus, part.gpus), old.default or part.default)
        found[name] = part
    return found


def query_partitions() -> dict[str, Partition]:
    """The cluster's partitions as ``sinfo`` reports them (raises PreflightError when sinfo cannot be run)."""
    try:
        out = subprocess.run(["sinfo", "-h", "-o", SINFO_FORMAT], capture_output=True, text=True, timeout=60,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError) as err:
        raise PreflightError(f"preflight: cannot ask SLURM what it offers (`sinfo -h -o '{SINFO_FORMAT}'`): {err}. "
                             f"Set {ONLY_ENV}=off to submit without the checks.") from None
    partitions = parse_sinfo(out)
    if not partitions:
        raise PreflightError(f"preflight: `sinfo` lists no partition (output: {out.strip()!r})")
    return partitions


def check(requests: list[Request], partitions: dict[str, Partition], *, cores: int | None = None,
          profile: str = "your profile") -> list[str]:
    """One message per problem: the profile's ``cores`` above every node's CPUs, and per request (deduplicated by
    rule or group and kind) a partition that does not exist, or CPUs, memory, runtime or GPUs beyond its partition's
    largest node or time limit. Each message names the rule, the request, the limit and the key to change."""
    problems: dict[tuple, str] = {}
    default = next((p for p in partitions.values() if p.default), None)
    most_cpus = max(p.cpus for p in partitions.values())
    if cores is not None and cores > most_cpus:
        problems[("cores",)] = (
            f"cores: {cores} (in {profile} or --cores) exceeds the {most_cpus} CPUs of the largest node: it caps every "
            f"rule's threads and sizes CPU job groups, so a job may ask sbatch for more CPUs than a node has. "
            f"Set cores to at most {most_cpus}.")
    for req in requests:
        key = (req.group or req.rules[0],)
        part = partitions.get(req.partition) if req.partition else default
        if part is None:
            where = (f"partition {req.partition!r}, which this cluster does not have" if req.partition
                     else "no partition, and this cluster has no default one")
            names = ", ".join(sorted(partitions))
            problems[key + ("partition",)] = (
                f"{req.what} asks for {where} (partitions: {names}). Set slurm_partition of {req.rules[0]} under "
                f"set-resources (or under default-resources) in {profile}.")
            continue
        if req.cpus > part.cpus:
            fix = ("the group's jobs run one after the other: set cores to at most "
                   f"{part.cpus} in {profile}" if req.group else
                   f"set `threads` in the config (or cores in {profile}) to at most {part.cpus}")
            problems[key + ("cpus",)] = (
                f"{req.what} asks --cpus-per-task={req.cpus}, but the nodes of partition {part.name} have at most "
                f"{part.cpus} CPUs (cores): {fix}.")
        if req.mem_mb is not None and part.mem_mb is not None and req.mem_mb > part.mem_mb:
            problems[key + ("mem",)] = (
                f"{req.what} asks --mem={req.mem_mb}M, but the nodes of partition {part.name} have at most "
                f"{part.mem_mb} MB: lower `memory.scale` in the config, or set mem_mb of {req.rules[0]} under "
                f"set-resources in {profile}, or send it to a partition with larger nodes (slurm_partition).")
        if req.runtime_min is not None and part.time_min is not None and req.runtime_min > part.time_min:
            fix = (f"lower group-components of {req.group} in {profile} (a group asks for its jobs' runtimes added "
                   "up)" if req.group else f"set runtime of {req.rules[0]} under set-resources in {profile}")
            problems[key + ("time",)] = (
                f"{req.what} asks -t {req.runtime_min} min, but partition {part.name} allows at most "
                f"{part.time_min} min: {fix}.")
        if req.gpus > part.gpus:
            problems[key + ("gpus",)] = (
                f"{req.what} asks for {req.gpus} GPU(s), but the nodes of partition {part.name} have {part.gpus}: set "
                f"slurm_partition of {req.rules[0]} to a GPU partition under set-resources in {profile}, or "
                "`device: cpu` in the config.")
    return list(problems.values())


def _int(value) -> int | None:
    """A resource value as int; None where Snakemake has not decided it yet (``<TBD>``: inputs missing)."""
    value = getattr(value, "value", value)  # Snakemake 9 wraps some values (e.g. global cores) in a Resource
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def request_of(job) -> Request:
    """The sbatch request of one Snakemake job or group job, as the SLURM executor plugin forms it."""
    res = job.resources
    jobs = list(getattr(job, "jobs", [job]))
    gpus = _int(res.get("gpu")) or 0
    gres = str(res.get("gres") or "")
    if not gpus and gres.startswith("gpu"):
        gpus = parse_gpus(gres) or 1
    cpus = _int(res.get("cpus_per_task")) or _int(job.threads) or 1
    mem = _int(res.get("mem_mb"))
    if res.get("mem_mb_per_cpu"):
        per_cpu = _int(res.get("mem_mb_per_cpu"))
        mem = per_cpu * cpus if per_cpu is not None else None
    group = str(job.groupid) if hasattr(job, "jobs") else None  # a GroupJob, submitted as one SLURM job
    return Request(rules=tuple(j.rule.name for j in jobs), group=group, cpus=cpus, mem_mb=mem,
                   runtime_min=_int(res.get("runtime")), gpus=gpus, partition=res.get("slurm_partition") or None)


def requests_of_dag(dag) -> list[Request]:
    """Requests of every job or group that will be submitted (local rules excluded)."""
    needrun = set(dag.needrun_jobs())
    requests = []
    for item in dag.get_jobs_or_groups():
        members = list(getattr(item, "jobs", [item]))
        if not any(job in needrun for job in members) or item.is_local:
            continue
        requests.append(request_of(item))
    return requests


def summary(requests: list[Request]) -> str:
    """'N submissions (most asked: C CPUs, M MB, T min, G GPUs; memory of K decided once their inputs exist)'."""
    if not requests:
        return "no submissions"
    most = [f"{max(r.cpus for r in requests)} CPUs"]
    mems, times = [r.mem_mb for r in requests if r.mem_mb is not None], [r.runtime_min for r in requests
                                                                          if r.runtime_min is not None]
    most += [f"{max(mems)} MB"] if mems else []
    most += [f"{max(times)} min"] if times else []
    most.append(f"{max(r.gpus for r in requests)} GPUs")
    undecided = sum(r.mem_mb is None for r in requests)
    note = f"; memory of {undecided} decided once their inputs exist" if undecided else ""
    return f"{len(requests)} submissions (most asked: {', '.join(most)}{note})"


def profile_in_argv(argv: list[str]) -> str:
    """The profile named on the command line (``--workflow-profile`` / ``--profile``), for the messages."""
    for flag in ("--workflow-profile", "--profile"):
        for i, arg in enumerate(argv):
            if arg == flag and i + 1 < len(argv):
                return os.path.join(argv[i + 1], "config.yaml")
            if arg.startswith(flag + "="):
                return os.path.join(arg.split("=", 1)[1], "config.yaml")
    return "your profile"


def run_preflight(workflow) -> None:
    """The Snakefile's ``onstart`` hook: on the SLURM executor, check every request of the built DAG (raise
    PreflightError with the problems); with TRANSFERSCOPE_PREFLIGHT=only, exit after the checks."""
    mode = os.environ.get(ONLY_ENV, "")
    plugin = getattr(workflow.executor_plugin, "name", "")
    if mode == "off" or plugin != "slurm":
        if mode == "only":
            print(f"preflight: nothing to check (executor {plugin or 'local'}, not slurm)", file=sys.stderr)
            sys.exit(0)
        return
    partitions = query_partitions()
    requests = requests_of_dag(workflow.dag)
    cores = _int(workflow.global_resources.get("_cores"))
    problems = check(requests, partitions, cores=cores, profile=profile_in_argv(sys.argv))
    offered = "; ".join(f"{p.name}{'*' if p.default else ''}: {p.cpus} CPUs, {p.mem_mb} MB, "
                        f"{'no limit' if p.time_min is None else f'{p.time_min} min'}, {p.gpus} GPUs"
                        for p in partitions.values())
    if problems:
        raise PreflightError("preflight: the cluster cannot run this workflow as configured ("
                             + offered + "):\n" + "\n".join(f"  - {p}" for p in problems))
    print(f"preflight: {summary(requests)} fit the cluster ({offered})", file=sys.stderr)
    if mode == "only":
        sys.exit(0)
