"""Rule import_weights: a dataset-less (pretrained:) source, arch, seed -> checkpoint final + train_log.csv."""
from transferscope.runtime import setup_job
from transferscope.training.import_weights import run_import_weights

smk = snakemake  # noqa: F821 - injected by Snakemake
wc = smk.wildcards
setup_job(smk.log[0], smk.threads)
run_import_weights(
    source=wc.source,
    arch=wc.arch,
    seed=int(wc.seed),
    entry=smk.params.entry,
    checkpoint=smk.output.checkpoint,
    train_log=smk.output.train_log,
)
