#!/usr/bin/env bash
# One-shot check of transferscope on a lent GPU machine (python3 = Python 3.12 with torch + CUDA, no internet).
#
#   bash benchmarks/gpu_check.sh                     # on the GPU machine, repo root, `.whl` carried
#   GPU_CHECK_LOCAL=1 bash benchmarks/gpu_check.sh   # here: .venv, device=cpu, no wheel install, no nvidia-smi
#
# Steps (each timed, everything tee'd to $OUT/gpu_check.log):
#   0. install the carried wheels (.whl/*.whl: snakemake 9 and its closure, mlxtend, ripser, gudhi, ...) into
#      $SITE; report requirements of the carried wheels that the image does not meet, and install the matching
#      .whl/fallback/*.whl (typing-extensions) for those; nvidia-smi -L, torch/CUDA versions.
#   a. pytest -m "not slow" on the training/model/accel/gpu-slot tests.
#   c. dry run: the training jobs must request gpu=1 (run before b, while nothing is built).
#   b. the workflow with device=cuda in a scratch directory (--directory $WF): wall time, per-rule benchmark
#      seconds summed, the pretrain table's images_per_s, GPU utilisation/memory sampled by nvidia-smi.
#   d. CPU baseline on the same machine: only the pre-training jobs (images_per_s on the CPU, threads=1).
# Files under $OUT (at most 7, flat): gpu_check.log, bench_summary.csv, pretrain.csv, pretrain_cpu.csv,
# tables.tar.gz (results/tables, results/benchmarks and results/logs of the GPU run), 2 figures.
#
# Knobs (environment): GPU_CHECK_LOCAL=1; GPU_CHECK_CONFIG (default tests/data/config_tiny.yaml: the embedded
# default config.yaml runs ~100 serial GPU jobs, too long for one call); GPU_CHECK_DEVICE (cuda; cpu when local);
# GPU_CHECK_CORES (8); GPU_CHECK_PYTHON (python3; .venv/bin/python when local); GPU_CHECK_WORKDIR (/tmp/wf);
# GPU_CHECK_SITE (/tmp/site); GPU_CHECK_CPU_BASELINE (1; 0 skips step d); GPU_CHECK_WORKFLOW_LIMIT (300 s at most
# for step b); GPU_CHECK_BUDGET (450 s). Takes about 3.5 minutes (2 CPU cores, tiny config); every step is capped
# by `timeout`, and steps b and d get only what is left of GPU_CHECK_BUDGET, so the script ends within ~8 minutes.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
REPO=$PWD
LOCAL=${GPU_CHECK_LOCAL:-0}
if [ "$LOCAL" = 1 ]; then
    PY=${GPU_CHECK_PYTHON:-$REPO/.venv/bin/python}
    DEVICE=${GPU_CHECK_DEVICE:-cpu}
    OUT=${OUT:-$REPO/benchmarks/out/gpu_check}  # benchmarks/out/ is git-ignored
else
    PY=${GPU_CHECK_PYTHON:-python3}
    DEVICE=${GPU_CHECK_DEVICE:-cuda}
    OUT=${OUT:-/tmp/gpu_check_out}
fi
CONFIG=${GPU_CHECK_CONFIG:-tests/data/config_tiny.yaml}
CORES=${GPU_CHECK_CORES:-8}
WF=${GPU_CHECK_WORKDIR:-/tmp/wf}
SITE=${GPU_CHECK_SITE:-/tmp/site}
CPU_BASELINE=${GPU_CHECK_CPU_BASELINE:-1}
WORKFLOW_LIMIT=${GPU_CHECK_WORKFLOW_LIMIT:-300}  # seconds for step b's snakemake run, at most
BUDGET=${GPU_CHECK_BUDGET:-450}                  # seconds for the whole script (steps b and d shrink to fit)
DEADLINE=$(($(date +%s) + BUDGET))
left() { echo $((DEADLINE - $(date +%s))); }
export PYTHONUNBUFFERED=1 OUT
mkdir -p "$OUT"
LOG=$OUT/gpu_check.log
: >"$LOG"

SUMMARY=()
FAILED=0
# step NAME TIMEOUT_S CMD...: run CMD (a program under `timeout`; a shell function as is: its commands carry their
# own limits), record its seconds and exit status.
step() {
    local name=$1 limit=$2 t0 t1 rc
    shift 2
    echo
    echo "=== [$name] $(date '+%H:%M:%S') (limit ${limit}s): $*"
    t0=$(date +%s)
    if [ "$(type -t "$1")" = function ]; then
        "$@"
    else
        timeout -k 10 "$limit" "$@"
    fi
    rc=$?
    t1=$(date +%s)
    echo "=== [$name] rc=$rc in $((t1 - t0)) s"
    SUMMARY+=("$(printf '%-28s rc=%-3s %4s s' "$name" "$rc" "$((t1 - t0))")")
    [ "$rc" = 0 ] || FAILED=1
    return "$rc"
}

install_wheels() {
    # The carried wheels go to $SITE (ahead of the image's site-packages on PYTHONPATH).
    ls .whl/*.whl >/dev/null 2>&1 || { echo "no .whl/*.whl: run with carry [\".whl\"]"; return 1; }
    echo "$(ls .whl/*.whl | wc -l) wheels, $(du -sh .whl | cut -f1)"
    rm -rf "$SITE"
    timeout 90 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
        .whl/*.whl || return 1
    # Requirements of the carried packages that the image's versions miss; a fallback wheel replaces such a one.
    local fb
    fb=$(PYTHONPATH="$SITE" "$PY" - "$SITE" .whl/fallback <<'EOF'
import glob, os, sys
from importlib.metadata import PackageNotFoundError, distributions, version
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

site, fallback_dir = sys.argv[1:3]
unmet = {}
for dist in distributions(path=[site]):
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            found = version(req.name)
        except PackageNotFoundError:
            found = None
        if found is None or not req.specifier.contains(found, prereleases=True):
            unmet.setdefault(canonicalize_name(req.name), []).append(f"{dist.metadata['Name']} wants {req} (found {found})")
for name, why in sorted(unmet.items()):
    print(f"unmet requirement: {name}: " + "; ".join(why), file=sys.stderr)
fallback = {canonicalize_name(os.path.basename(w).split("-")[0]): w for w in glob.glob(f"{fallback_dir}/*.whl")}
print(" ".join(fallback[n] for n in sorted(unmet) if n in fallback))
EOF
    ) || return 1
    if [ -n "$fb" ]; then
        echo "installing fallback wheels: $fb"
        # shellcheck disable=SC2086
        timeout 60 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" $fb \
            || return 1
    fi
}

report_env() {
    if [ "$LOCAL" != 1 ]; then
        timeout 30 nvidia-smi -L || echo "nvidia-smi -L failed"
    fi
    timeout 60 "$PY" - <<'EOF'
import importlib, importlib.metadata, platform, sys
import torch
print("python", platform.python_version(), sys.executable)
print("torch", torch.__version__, "| cuda", torch.version.cuda, "| cudnn", torch.backends.cudnn.version(),
      "| cuda available", torch.cuda.is_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("device", p.name, f"{p.total_memory / 2**30:.1f} GiB,", p.multi_processor_count, "SMs")
for name, dist in [("snakemake", "snakemake"), ("torchvision", "torchvision"), ("numpy", "numpy"),
                   ("scipy", "scipy"), ("pandas", "pandas"), ("sklearn", "scikit-learn"), ("skimage", "scikit-image"),
                   ("matplotlib", "matplotlib"), ("seaborn", "seaborn"), ("mlxtend", "mlxtend"), ("ripser", "ripser"),
                   ("gudhi", "gudhi"), ("jsonschema", "jsonschema"), ("pydantic", "pydantic"),
                   ("packaging", "packaging"), ("typing_extensions", "typing-extensions"), ("yaml", "pyyaml"),
                   ("transferscope", None)]:
    try:
        mod = importlib.import_module(name)
        version = importlib.metadata.version(dist) if dist else mod.__version__
        print(f"  {name:18s} {version:14s} {getattr(mod, '__file__', '')}")
    except Exception as exc:  # report and go on: the steps below say what it breaks
        print(f"  {name:18s} IMPORT FAILED: {exc!r}")
EOF
}

workflow_config() {
    # A copy of $CONFIG with `device: $DEVICE` ($WF is wiped first).
    rm -rf "$WF" && mkdir -p "$WF" || return 1
    if grep -qE '^device:' "$CONFIG"; then
        sed -E "s/^device:.*/device: $DEVICE/" "$CONFIG" >"$WF/gpu_check_config.yaml"
    else
        { cat "$CONFIG"; echo "device: $DEVICE"; } >"$WF/gpu_check_config.yaml"
    fi
    grep -E '^device:' "$WF/gpu_check_config.yaml"
}

SMK=("$PY" -m snakemake --snakefile "$REPO/Snakefile" --directory "$WF" --configfile "$WF/gpu_check_config.yaml"
     --cores "$CORES" --resources gpu=1 --config "device=$DEVICE")

dry_run() {
    workflow_config || return 1
    timeout -k 10 60 "${SMK[@]}" -n >/tmp/gpu_check_dryrun.txt 2>&1
    local rc=$?
    # rule -> jobs, jobs with gpu=1
    awk '/^(local)?rule [A-Za-z0-9_]+:/ {rule=$NF; sub(":", "", rule); n[rule]++}
         /^ +resources:/ && / gpu=1/ {g[rule]++}
         END {for (r in n) printf "  %-30s jobs %3d  gpu=1 %3d\n", r, n[r], g[r]}' /tmp/gpu_check_dryrun.txt | sort
    sed -n '/^Job stats:/,/^total/p' /tmp/gpu_check_dryrun.txt | tail -n 1
    [ "$rc" = 0 ] || { tail -n 40 /tmp/gpu_check_dryrun.txt; return "$rc"; }
    for rule in pretrain finetune scratch; do
        grep -A20 -m1 "^rule $rule:" /tmp/gpu_check_dryrun.txt | grep -m1 'resources:' | sed "s/^ */  $rule: /"
    done
    if [ "$DEVICE" = cuda ]; then
        awk '/^rule (pretrain|finetune|scratch):/ {t++} /^rule (pretrain|finetune|scratch):/ {r=1} r && /^ +resources:/ {if (/ gpu=1/) ok++; r=0}
             END {printf "  training jobs %d, with gpu=1 %d\n", t, ok; exit !(t > 0 && t == ok)}' /tmp/gpu_check_dryrun.txt
    fi
}

run_workflow() {
    workflow_config || return 1
    local sampler=""
    if [ "$LOCAL" != 1 ] && command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 500 \
            >/tmp/gpu_check_util.csv 2>/dev/null &
        sampler=$!
    fi
    local t0 rc
    t0=$(date +%s)
    timeout -k 10 "$1" "${SMK[@]}" >/tmp/gpu_check_workflow.txt 2>&1
    rc=$?
    echo "workflow wall time: $(($(date +%s) - t0)) s (rc=$rc, $CONFIG, device=$DEVICE, --cores $CORES)"
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null
    grep -E '^(Finished|Error|WorkflowError|MissingOutput)|steps \([0-9]+%\) done|Exception|Traceback' \
        /tmp/gpu_check_workflow.txt | tail -n 8
    [ "$rc" = 0 ] || tail -n 60 /tmp/gpu_check_workflow.txt
    if [ -s /tmp/gpu_check_util.csv ]; then
        awk -F', *' '{n++; u+=$1; if ($1>0) busy++; if ($2>m) m=$2} END {if (n) printf "GPU samples %d (0.5 s): mean util %.1f%%, busy %.0f%% of samples, max memory used %d MiB\n", n, u/n, 100*busy/n, m}' \
            /tmp/gpu_check_util.csv
    fi
    echo "training logs naming the device:"
    grep -rhoE 'device (cuda|cpu)[^,]*' "$WF/results/logs" 2>/dev/null | sort | uniq -c
    timeout 45 "$PY" - "$WF" "$OUT" <<'EOF'
import glob, os, sys
import pandas as pd
wf, out = sys.argv[1:3]
rows = []
for path in glob.glob(f"{wf}/results/benchmarks/**/*.tsv", recursive=True):
    rule = os.path.relpath(path, f"{wf}/results/benchmarks").split(os.sep)[0]
    t = pd.read_csv(path, sep="\t")
    rows.append({"rule": rule, "s": t["s"].sum(), "max_rss": pd.to_numeric(t["max_rss"], errors="coerce").max()})
if rows:
    b = pd.DataFrame(rows).groupby("rule").agg(jobs=("s", "size"), seconds=("s", "sum"), mean_s=("s", "mean"),
                                               max_rss_mb=("max_rss", "max")).sort_values("seconds", ascending=False)
    b.loc["TOTAL"] = [b.jobs.sum(), b.seconds.sum(), b.seconds.sum() / b.jobs.sum(), b.max_rss_mb.max()]
    b.round(2).to_csv(f"{out}/bench_summary.csv")
    print("per-rule benchmark seconds (summed over jobs):")
    print(b.round(2).to_string())
pre = f"{wf}/results/tables/pretrain.csv"
if os.path.exists(pre):
    t = pd.read_csv(pre)
    print("pretrain images_per_s:")
    print(t[["source", "arch", "seed", "epoch", "images_per_s", "seconds", "test_acc"]].to_string(index=False))
    print("mean images_per_s:", round(t["images_per_s"].mean(), 1))
EOF
    cp "$WF/results/tables/pretrain.csv" "$OUT/pretrain.csv" 2>/dev/null
    (cd "$WF/results" && tar czf "$OUT/tables.tar.gz" tables benchmarks logs 2>/dev/null)
    local n=0 fig
    for fig in pretrain_curves finetune_vs_checkpoint; do
        for f in "$WF"/results/figures/"$fig".*; do
            [ -f "$f" ] && cp "$f" "$OUT/" && n=$((n + 1))
        done
    done
    echo "copied to $OUT: $(ls "$OUT" | tr '\n' ' ')"
    return "$rc"
}

cpu_baseline() {
    # The same pre-training jobs on the CPU of this machine (threads from the config), for images_per_s.
    local wf=$WF.cpu
    rm -rf "$wf" && mkdir -p "$wf" || return 1
    sed -E 's/^device:.*/device: cpu/' "$WF/gpu_check_config.yaml" >"$wf/gpu_check_config.yaml"
    timeout -k 10 "$1" "$PY" -m snakemake results/tables/pretrain.csv --snakefile "$REPO/Snakefile" --directory "$wf" \
        --configfile "$wf/gpu_check_config.yaml" --cores "$CORES" --config device=cpu >/tmp/gpu_check_cpu.txt 2>&1
    local rc=$?
    [ "$rc" = 0 ] || { tail -n 40 /tmp/gpu_check_cpu.txt; return "$rc"; }
    cp "$wf/results/tables/pretrain.csv" "$OUT/pretrain_cpu.csv"
    "$PY" - "$wf" <<'EOF'
import sys
import pandas as pd
t = pd.read_csv(f"{sys.argv[1]}/results/tables/pretrain.csv")
print("CPU pretrain images_per_s:")
print(t[["source", "arch", "seed", "epoch", "images_per_s", "seconds"]].to_string(index=False))
print("mean images_per_s (CPU):", round(t["images_per_s"].mean(), 1))
EOF
}

main() {
    local T0
    T0=$(date +%s)
    echo "gpu_check: $(date -Is) host $(hostname) repo $REPO local=$LOCAL device=$DEVICE config=$CONFIG cores=$CORES"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    if [ "$LOCAL" = 1 ]; then
        export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
    else
        step install_wheels 150 install_wheels || { echo "wheel install failed: stop"; return 1; }
        export PYTHONPATH=$SITE:$REPO
    fi
    # A `snakemake` command on PATH (the workflow's tests and users call it by name).
    mkdir -p /tmp/gpu_check_bin
    printf '#!/bin/sh\nexec %s -m snakemake "$@"\n' "$PY" >/tmp/gpu_check_bin/snakemake
    chmod +x /tmp/gpu_check_bin/snakemake
    export PATH=/tmp/gpu_check_bin:$PATH
    echo "PYTHONPATH=$PYTHONPATH"
    echo "snakemake on PATH: $(command -v snakemake) -> $(snakemake --version 2>&1 | tail -n 1)"
    step environment 60 report_env

    local tests=()
    for t in tests/test_training.py tests/test_models.py tests/test_accel.py tests/test_gpu_slots.py; do
        [ -f "$t" ] && tests+=("$t")
    done
    step a_pytest 150 "$PY" -m pytest -q -x -m "not slow" -p no:cacheprovider -rs "${tests[@]}"
    step c_dryrun_gpu_resource 60 dry_run
    local limit=$(($(left) - 90))  # keep 90 s for step b's summary and step d
    [ "$limit" -gt "$WORKFLOW_LIMIT" ] && limit=$WORKFLOW_LIMIT
    [ "$limit" -lt 60 ] && limit=60
    step b_workflow "$limit" run_workflow "$limit"
    if [ "$CPU_BASELINE" = 1 ]; then
        limit=$(($(left) - 10))
        [ "$limit" -gt 75 ] && limit=75
        if [ "$limit" -ge 30 ]; then
            step d_cpu_baseline_pretrain "$limit" cpu_baseline "$limit"
        else
            echo "step d skipped: ${limit}s left of the ${BUDGET}s budget"
        fi
    fi

    echo
    echo "=== summary ($(($(date +%s) - T0)) s in all)"
    printf '%s\n' "${SUMMARY[@]}"
    echo "files in \$OUT: $(ls "$OUT" | wc -l): $(ls "$OUT" | tr '\n' ' ')"
    [ "$FAILED" = 0 ] && echo "GPU_CHECK OK" || echo "GPU_CHECK FAILED"
    return "$FAILED"
}

main 2>&1 | tee -a "$LOG"
exit "${PIPESTATUS[0]}"
