"""Rule scratch: the from-scratch baseline of one (target, arch, seed) -> result.json."""
from transferscope.runtime import claim_device, setup_job
from transferscope.training.finetune import FinetuneJob, run_finetune

smk = snakemake  # noqa: F821 - injected by Snakemake
wc = smk.wildcards
setup_job(smk.log[0], smk.threads)
claim_device(smk.params.device)  # own GPU slot (CUDA_VISIBLE_DEVICES) before CUDA is touched
job = FinetuneJob(
    arch=wc.arch,
    seed=int(wc.seed),
    mode="full",
    recipe=smk.params.recipe,
    reinit=[],
    eval_points=smk.params.eval_points,
    keys={"target": wc.target, "source": "scratch", "checkpoint": "none"},
    device=smk.params.device,
    cuda=smk.params.cuda,
)
run_finetune(smk.input.target, job, checkpoint=None, result_path=smk.output[0])
