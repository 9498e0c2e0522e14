"""Rule extract: activations of the target sample for each checkpoint of one pre-training run."""
from transferscope.analysis.jobs import run_extract
from transferscope.runtime import claim_device, setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], smk.threads)
claim_device(smk.params.device)  # own GPU slot (CUDA_VISIBLE_DEVICES) before CUDA is touched
run_extract(
    smk.input.target,
    dict(zip(smk.params.points, smk.input.checkpoints)),
    dict(zip(smk.params.points, smk.output)),
    n_samples=smk.params.n_samples,
    pool=smk.params.pool,
    flatten_units=smk.params.flatten_units,
    seed=smk.params.seed,
    split=smk.params.split,
    device=smk.params.device,
)
