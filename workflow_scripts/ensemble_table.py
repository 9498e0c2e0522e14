"""Rule ensemble_table: members' saved probabilities -> results/tables/ensembles.csv."""
from transferscope.ensembles.evaluate import build_table
from transferscope.io import write_csv
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
write_csv(smk.output[0], build_table(list(smk.params.runs)))
