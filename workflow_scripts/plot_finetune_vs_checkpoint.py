"""Figure rule: results/tables -> results/figures/finetune_vs_checkpoint."""
from transferscope.plots import finetune_vs_checkpoint
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
finetune_vs_checkpoint.draw(smk.input.table, smk.output[0], **dict(smk.params.items()))
