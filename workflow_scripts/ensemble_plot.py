"""Ensemble figure rules: results/tables/ensembles.csv -> one figure, drawn by the plotting module listed as input."""
import importlib
from pathlib import Path

from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
module = importlib.import_module(f"transferscope.plots.{Path(smk.input.module).stem}")
module.draw(smk.input.table, smk.output[0], **dict(smk.params.items()))
