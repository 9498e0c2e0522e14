#!/usr/bin/env bash
# The embedded default workflow (config.yaml) on a lent GPU machine, all jobs sharing its one GPU.
# `device: auto` (jobs use CUDA when they see it, no `gpu` resource requested), so Snakemake runs up to --cores jobs
# side by side; the jobs are tiny (< 1 GiB of GPU memory each). Needs the `.whl` wheels of benchmarks/gpu_check.sh.
#   bash benchmarks/gpu_default_run.sh        (on the GPU machine, repo root, carry .whl; writes $OUT/default_run.log)
set -uo pipefail
REPO=$PWD
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
LIMIT=${GPU_DEFAULT_LIMIT:-240}
exec > >(tee "$OUT/default_run.log") 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$REPO PYTHONUNBUFFERED=1
nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
WF=/tmp/wf_default; rm -rf "$WF"; mkdir -p "$WF"
start=$(date +%s)
timeout "$LIMIT" python3 -m snakemake --snakefile "$REPO/Snakefile" --directory "$WF" --configfile "$REPO/config.yaml" \
    --cores "$(nproc)" --config device=auto --quiet rules > "$OUT/snakemake.log" 2>&1
rc=$?
end=$(date +%s)
echo "default workflow: rc=$rc wall $((end - start)) s on $(nproc) CPU cores + 1 GPU"
tail -3 "$OUT/snakemake.log"
echo "jobs finished: $(grep -c 'Finished job' "$OUT/snakemake.log")"
echo "training logs naming cuda: $(grep -rl 'device cuda' "$WF/results/logs" 2>/dev/null | wc -l) of $(ls -1 "$WF"/results/logs/{pretrain,scratch}/*/*/*.log "$WF"/results/logs/finetune/*/*/*/*/*.log 2>/dev/null | wc -l) pretrain/finetune/scratch logs"
python3 - "$WF" <<'PY'
import glob, sys, pandas as pd
wf = sys.argv[1]
rows = []
for path in glob.glob(f"{wf}/results/benchmarks/**/*.tsv", recursive=True):
    rule = path.split("/results/benchmarks/")[1].split("/")[0]
    rows.append({"rule": rule, "s": float(pd.read_csv(path, sep="\t")["s"].iloc[0])})
if rows:
    print(pd.DataFrame(rows).groupby("rule")["s"].agg(["count", "sum", "mean"]).round(2).to_string())
try:
    pre = pd.read_csv(f"{wf}/results/tables/pretrain.csv")
    print(pre.groupby(["source", "arch"])["images_per_s"].median().round(0).to_string())
    ft = pd.read_csv(f"{wf}/results/tables/finetune.csv")
    print(ft.groupby(["target", "source", "mode"])["test_acc"].mean().unstack("mode").round(3).to_string())
except FileNotFoundError as exc:
    print("table missing:", exc)
PY
for t in pretrain finetune ensembles transferability; do cp "$WF/results/tables/$t.csv" "$OUT"/ 2>/dev/null; done; ls "$OUT"
exit $rc
