"""Rule pretrain: one (source, arch, seed) -> checkpoints + train_log.csv."""
from transferscope.runtime import claim_device, setup_job
from transferscope.training.pretrain import run_pretrain

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], smk.threads)
claim_device(smk.params.device)  # own GPU slot (CUDA_VISIBLE_DEVICES) before CUDA is touched
run_pretrain(
    smk.input.data,
    arch=smk.wildcards.arch,
    seed=int(smk.wildcards.seed),
    recipe=smk.params.recipe,
    checkpoints=dict(zip(smk.params.points, smk.output.checkpoints)),
    train_log=smk.output.train_log,
    device=smk.params.device,
    cuda=smk.params.cuda,
    weights=smk.params.weights,
)
