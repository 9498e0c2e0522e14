"""Helpers of the end-to-end tests: run the real Snakemake workflow in a scratch directory and read its plan."""
import os
import re
import subprocess
import sys

from conftest import REPO

SNAKEMAKE = os.path.join(os.path.dirname(sys.executable), "snakemake")


def run_snakemake(workdir, *args, configfile, targets=(), check=True, repo=REPO, timeout=900):
    """Run Snakemake on ``repo``'s workflow with ``workdir`` as working directory (targets before --configfile,
    which takes a list). Raises with the tail of the output when ``check`` and the run fails."""
    cmd = [SNAKEMAKE, *targets, "--snakefile", os.path.join(repo, "Snakefile"), "--directory", str(workdir), *args,
           "--configfile", str(configfile)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def planned_jobs(output: str) -> dict[str, int]:
    """Rule -> count from the 'Job stats' table of a dry run."""
    stats = output.split("Job stats:")[-1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m.group(1) != "total"}


def rule_blocks(output: str, rules: str) -> list[str]:
    """The job blocks of a dry run whose rule name matches the regular expression ``rules``."""
    return [b for b in output.split("\n\n") if re.search(rf"^rule ({rules}):", b.strip(), re.M)]


def edited_config(base, out, edit) -> str:
    """Write a copy of the YAML config ``base`` to ``out`` after ``edit(config_dict)``; return ``out``."""
    import yaml

    with open(base) as fh:
        config = yaml.safe_load(fh)
    edit(config)
    with open(out, "w") as fh:
        yaml.safe_dump(config, fh)
    return str(out)
