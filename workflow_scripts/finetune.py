"""Rule finetune: every checkpoint of one pre-training run fine-tuned on one target in one mode."""
from transferscope.runtime import claim_device, setup_job
from transferscope.training.finetune import FinetuneJob, run_finetune_checkpoints

smk = snakemake  # noqa: F821 - injected by Snakemake
wc = smk.wildcards
setup_job(smk.log[0], smk.threads)
claim_device(smk.params.device)  # own GPU slot (CUDA_VISIBLE_DEVICES) before CUDA is touched
job = FinetuneJob(
    arch=wc.arch,
    seed=int(wc.seed),
    mode=wc.mode,
    recipe=smk.params.recipe,
    reinit=smk.params.reinit,
    eval_points=smk.params.eval_points,
    keys={"target": wc.target, "source": wc.source},
    device=smk.params.device,
    cuda=smk.params.cuda,
    cka_samples=smk.params.cka_samples,
)
run_finetune_checkpoints(
    smk.input.target,
    dict(zip(smk.params.points, smk.input.checkpoints)),
    dict(zip(smk.params.points, smk.output.results)),
    job,
    stash_dir=smk.params.stash_dir,
    activations=smk.params.activations,
    activation_outputs=dict(zip(smk.params.points, smk.output.activations)) if smk.params.activations else None,
)
