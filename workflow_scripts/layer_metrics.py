"""Rule layer_metrics_finetuned: fine-tuned models' activation files of one target -> results/tables/metrics_finetuned/{target}.csv."""
from transferscope.analysis.jobs import run_layer_metrics
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], smk.threads)
run_layer_metrics(list(smk.input), smk.params.model_keys, smk.params.metrics, smk.output[0],
                  twonn_subsets=smk.params.twonn_subsets, seed=smk.params.seed,
                  metric_bootstrap=smk.params.metric_bootstrap)
