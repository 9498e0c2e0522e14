"""Rule ensemble_variance: the members' saved probabilities -> ensemble_variance.csv + ensemble_variance_summary.csv."""
from transferscope.ensembles.variance import build_variance
from transferscope.io import write_csv
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
log = setup_job(smk.log[0], smk.threads)
options = dict(smk.params.variance)
tables = build_variance(list(smk.params.runs), **options)
write_csv(smk.output.subsets, tables["subsets"])
write_csv(smk.output.summary, tables["summary"])
runs = tables["subsets"].groupby(["target", "method", "seed", "replicate"]).size()
log.info("variance study: %d subsets of size %d in %d runs with more members", len(tables["subsets"]),
         options["subset_size"], len(runs))
