"""Rule family figure_<name>: tables (or activations) -> one figure, drawn by the plotting module listed as input
``module`` (transferscope/plots/<module>.py, ``draw(**inputs, out=..., **params)``)."""
import importlib
from pathlib import Path

from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
module = importlib.import_module(f"transferscope.plots.{Path(smk.input.module).stem}")
inputs = {key: path for key, path in smk.input.items() if key not in ("module", "helpers")}
module.draw(**inputs, out=smk.output[0], **dict(smk.params.items()))
