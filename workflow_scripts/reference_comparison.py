"""Rule reference_comparison: transferability.csv + config analysis.reference -> reference_comparison.csv."""
import pandas as pd

from transferscope.analysis.reference import reference_comparison, summary_line
from transferscope.io import write_csv
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
log = setup_job(smk.log[0], 1)
table = reference_comparison(pd.read_csv(smk.input[0]), dict(smk.params.reference))
write_csv(smk.output[0], table)
log.info("reference comparison: %s", summary_line(table))
