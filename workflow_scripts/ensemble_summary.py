"""Rule ensemble_summary: ensembles.csv -> ensembles_summary.csv (mean ± sd over runs) + the report's k = K table."""
import pandas as pd

from transferscope.ensembles.evaluate import final_summary, summary_table
from transferscope.io import write_csv
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
summary = summary_table(pd.read_csv(smk.input[0]))
write_csv(smk.output.summary, summary)
write_csv(smk.output.final, final_summary(summary))
