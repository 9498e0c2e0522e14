"""Figure rule: results/tables -> results/figures/transfer_gain."""
from transferscope.plots import transfer_gain
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
transfer_gain.draw(smk.input.table, smk.output[0], **dict(smk.params.items()))
