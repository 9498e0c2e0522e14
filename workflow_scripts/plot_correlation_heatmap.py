"""Figure rule: results/tables (or activations) -> results/figures/correlation_heatmap."""
from transferscope.plots import correlation_heatmap
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
inputs = {k: v for k, v in smk.input.items() if k != "module"}
correlation_heatmap.draw(**inputs, out=smk.output[0], **dict(smk.params.items()))
