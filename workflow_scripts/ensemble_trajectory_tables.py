"""Rule ensemble_trajectory_tables: members' saved outputs -> distances to member 1 (pooled features, stage outputs,
weights), member pairs, cosine-diversity correlations and the subset (variance) study
(transferscope.ensembles.trajectory)."""
from transferscope.ensembles.trajectory import build_tables
from transferscope.io import write_csv
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
options = dict(smk.params.trajectory)
tables = build_tables(list(smk.params.runs), rtd_points=options["rtd_points"], seed=options["seed"],
                      max_subsets=options["max_subsets"], ot_points=options["ot_points"])
for name, frame in tables.items():
    write_csv(smk.output[name], frame)
