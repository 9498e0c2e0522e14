"""Rule transfer_outcomes: finetune tables -> results/tables/outcomes.csv and transfer_summary.csv."""
import pandas as pd

from transferscope.outcomes import outcome_table, transfer_summary
from transferscope.io import write_csv
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
outcomes = outcome_table(pd.read_csv(smk.input.finetune), pd.read_csv(smk.input.curves), smk.params.early_point)
write_csv(smk.output.outcomes, outcomes)
write_csv(smk.output.summary, transfer_summary(outcomes))
