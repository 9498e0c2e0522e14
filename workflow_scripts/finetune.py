"""Rule finetune: one pre-trained checkpoint fine-tuned on one target in one mode -> result.json."""
from transferscope.runtime import claim_device, setup_job
from transferscope.training.finetune import run_finetune

smk = snakemake  # noqa: F821 - injected by Snakemake
wc = smk.wildcards
setup_job(smk.log[0], smk.threads)
claim_device(smk.params.device)  # own GPU slot (CUDA_VISIBLE_DEVICES) before CUDA is touched
run_finetune(
    smk.input.target,
    checkpoint=smk.input.checkpoint,
    arch=wc.arch,
    seed=int(wc.seed),
    mode=wc.mode,
    recipe=smk.params.recipe,
    reinit=smk.params.reinit,
    eval_points=smk.params.eval_points,
    result_path=smk.output[0],
    keys={"target": wc.target, "source": wc.source, "checkpoint": wc.ckpt},
    device=smk.params.device,
    cuda=smk.config.get("cuda"),
    cka_samples=smk.params.cka_samples,
)
