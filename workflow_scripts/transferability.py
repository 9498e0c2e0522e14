"""Rule transferability: metrics.csv + outcomes.csv (+ finetune_curves.csv: level per_point)
-> results/tables/transferability.csv."""
import pandas as pd

from transferscope.analysis.correlate import transferability_table
from transferscope.io import write_csv
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
table = transferability_table(pd.read_csv(smk.input.metrics), pd.read_csv(smk.input.outcomes),
                              n_boot=smk.params.n_boot, seed=smk.params.seed,
                              curves=pd.read_csv(smk.input.curves), band=smk.params.band,
                              pool=smk.params.pool)
write_csv(smk.output[0], table)
