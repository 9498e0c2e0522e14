"""Concatenate CSV tables with the same columns into one."""
from transferscope.runtime import setup_job
from transferscope.tables import concat_csv

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
concat_csv(list(smk.input), smk.output[0])
