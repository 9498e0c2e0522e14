"""Rule pretrain_points: every pre-training checkpoint -> results/tables/pretrain_points.csv."""
from transferscope.runtime import setup_job
from transferscope.tables import pretrain_points_table

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
pretrain_points_table(list(smk.input), list(smk.params.models), smk.output[0])
