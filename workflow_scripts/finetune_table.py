"""Rule finetune_table: result JSONs -> results/tables/finetune.csv and finetune_curves.csv."""
from transferscope.runtime import setup_job
from transferscope.tables import finetune_tables

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
finetune_tables(list(smk.input), smk.output.table, smk.output.curves, smk.output.cka, smk.params.scratch_arch)
