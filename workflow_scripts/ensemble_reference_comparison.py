"""Rule ensemble_reference_comparison: ensembles.csv + config ensembles.reference -> ensembles_reference_comparison.csv."""
import pandas as pd

from transferscope.ensembles.reference import reference_comparison
from transferscope.io import write_csv
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
log = setup_job(smk.log[0], 1)
table = reference_comparison(pd.read_csv(smk.input[0]), dict(smk.params.reference))
write_csv(smk.output[0], table)
signs = table["same_sign"].dropna()
log.info("ensemble reference comparison: %d rows; differences to %s with the text's sign in %d of %d", len(table),
         smk.params.reference.get("baseline", "starsse"), int(signs.astype(bool).sum()), len(signs))
