"""Figure rule: results/tables -> results/figures/pretrain_curves."""
from transferscope.plots import pretrain_curves
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
pretrain_curves.draw(smk.input.table, smk.output[0], **dict(smk.params.items()))
