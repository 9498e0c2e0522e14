"""Rule prepare_dataset: config spec -> results/data/{dataset}.pt."""
from transferscope.data.prepare import build_bundle
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
log = setup_job(smk.log[0], smk.threads)
bundle = build_bundle(smk.wildcards.dataset, smk.params.spec, smk.params.data_root, smk.params.download)
log.info("dataset %s: %s images %s, %d classes, split %s", smk.wildcards.dataset, len(bundle.labels),
         bundle.shape, bundle.n_classes, bundle.counts())
bundle.save(smk.output[0])
