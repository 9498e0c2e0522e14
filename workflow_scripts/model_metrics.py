"""Rule model_metrics: checkpoints of one pre-training run + target -> results/tables/metrics/{target}/…/seed{seed}.csv."""
from transferscope.analysis.jobs import run_model_metrics
from transferscope.runtime import claim_device, setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], smk.threads)
claim_device(smk.params.device)  # own GPU slot (CUDA_VISIBLE_DEVICES) before CUDA is touched
wc = smk.wildcards
run_model_metrics(
    smk.input.target,
    dict(zip(smk.params.points, smk.input.checkpoints)),
    dict(target=wc.target, source=wc.source, arch=wc.arch, seed=int(wc.seed)),
    smk.params.metrics,
    smk.output[0],
    n_samples=smk.params.n_samples,
    pool=smk.params.pool,
    flatten_units=smk.params.flatten_units,
    seed=smk.params.seed,
    split=smk.params.split,
    device=smk.params.device,
    twonn_subsets=smk.params.twonn_subsets,
    metric_bootstrap=smk.params.metric_bootstrap,
    layers=smk.params.layers,
)
