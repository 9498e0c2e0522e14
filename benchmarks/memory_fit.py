"""Do the memory requests fit? Every job's requested ``mem_mb`` next to its measured peak resident memory.

For a finished run in WORKDIR (made with CONFIG), this replans every job with ``snakemake -n --forceall`` (the
requests are computed from the inputs on disk, as the scheduler computes them) and reads each job's peak RSS
(``max_rss``, MB) from the ``benchmark:`` file Snakemake wrote when it ran. Prints a Markdown table per rule:
jobs, largest request, largest measured peak, and the smallest headroom (request − peak) of any job.

Usage: python benchmarks/memory_fit.py WORKDIR --configfile CONFIG [--snakemake PATH]
       (from the repository root; exits 1 when a job's peak exceeded its request)
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
JOB = re.compile(r"^(?:local)?rule (\w+):$")


def planned_requests(workdir: Path, configfile: str, snakemake: str) -> list[dict]:
    """(rule, benchmark path, mem_mb) of every job of the workflow, from a forced dry run."""
    out = subprocess.run([snakemake, "-n", "--forceall", "--snakefile", str(REPO / "Snakefile"), "--directory",
                          str(workdir), "--configfile", configfile], capture_output=True, text=True, check=True).stdout
    jobs, current = [], None
    for line in out.splitlines():
        match = JOB.match(line.strip())
        if match:
            current = {"rule": match.group(1)}
            jobs.append(current)
        elif current is not None and line.strip().startswith("benchmark:"):
            current["benchmark"] = line.split(":", 1)[1].strip()
        elif current is not None and line.strip().startswith("resources:"):
            found = re.search(r"\bmem_mb=(\d+)", line)
            current["mem_mb"] = int(found.group(1)) if found else None
    return [job for job in jobs if job.get("benchmark") and job.get("mem_mb")]


def peak_rss(path: Path) -> float | None:
    """Largest ``max_rss`` (MB) of a Snakemake benchmark file, or None when the job did not run."""
    if not path.exists():
        return None
    with open(path) as fh:
        values = [float(row["max_rss"]) for row in csv.DictReader(fh, delimiter="\t")
                  if row.get("max_rss") not in (None, "", "-", "NA")]
    return max(values) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--configfile", required=True)
    parser.add_argument("--snakemake", default=os.path.join(os.path.dirname(sys.executable), "snakemake"))
    args = parser.parse_args()
    rows: dict[str, dict] = {}
    for job in planned_requests(args.workdir, args.configfile, args.snakemake):
        peak = peak_rss(args.workdir / job["benchmark"])
        if peak is None:
            continue
        row = rows.setdefault(job["rule"], {"jobs": 0, "request": 0, "peak": 0.0, "headroom": float("inf")})
        row["jobs"] += 1
        row["request"] = max(row["request"], job["mem_mb"])
        row["peak"] = max(row["peak"], peak)
        row["headroom"] = min(row["headroom"], job["mem_mb"] - peak)
    print(f"{args.configfile}, run in {args.workdir}")
    print("| rule | jobs | largest request (MB) | largest peak RSS (MB) | smallest headroom (MB) |")
    print("|---|---|---|---|---|")
    for rule, row in sorted(rows.items()):
        print(f"| {rule} | {row['jobs']} | {row['request']} | {row['peak']:.0f} | {row['headroom']:.0f} |")
    return 1 if any(row["headroom"] < 0 for row in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
