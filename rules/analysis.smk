# Activations of pre-trained checkpoints on target images -> per-layer metrics -> correlation with transfer.


rule extract:
    """Activations of the target's fixed analysis sample for every checkpoint of one pre-training run."""
    input:
        target=DATA.replace("{dataset}", "{target}"),
        checkpoints=expand(PRETRAIN_CKPT, ckpt=CKPTS, allow_missing=True),
    output:
        expand(ACTS, ckpt=CKPTS, allow_missing=True),
    log:
        f"{LOGS}/extract/{{target}}/{{source}}/{{arch}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/extract/{{target}}/{{source}}/{{arch}}/seed{{seed}}.tsv"
    conda:
        "../envs/transferscope.yaml"
    threads: THREADS
    resources:
        **EXTRACT_RESOURCES,
    params:
        **ANALYSIS_SAMPLE,
        device=config["device"],
        points=CKPTS,
    script:
        "../workflow_scripts/extract.py"


# Rule layer_metrics reads the pre-trained models, layer_metrics_finetuned the fine-tuned ones (analysis.finetuned):
# (rule name suffix, table family, model files, model keys in the same order).
METRIC_FAMILIES = [
    ("", "metrics", activation_files, activation_keys),
    ("_finetuned", "metrics_finetuned", finetuned_activation_files, finetuned_keys),
]

for suffix, family, model_files, model_keys in METRIC_FAMILIES:

    rule:
        """Every configured metric on every layer of every (pre-trained or fine-tuned) model, for one target."""
        name:
            f"layer_metrics{suffix}"
        input:
            model_files,
        output:
            f"{TABLES}/{family}/{{target}}.csv",
        log:
            f"{LOGS}/{family}/{{target}}.log",
        benchmark:
            f"{BENCH}/{family}/{{target}}.tsv"
        conda:
            "../envs/transferscope.yaml"
        threads: THREADS
        resources:
            **METRICS_RESOURCES,
        params:
            **METRIC_PARAMS,
            model_keys=model_keys,
        script:
            "../workflow_scripts/layer_metrics.py"


rule transferability:
    """Seed-mean correlations (levels all, per source, per checkpoint; per-seed noise floor) of every metric × layer
    with every fine-tuning outcome."""
    input:
        metrics=f"{TABLES}/metrics.csv",
        outcomes=f"{TABLES}/outcomes.csv",
    output:
        f"{TABLES}/transferability.csv",
    log:
        f"{LOGS}/tables/transferability.log",
    benchmark:
        f"{BENCH}/tables/transferability.tsv"
    conda:
        "../envs/transferscope.yaml"
    params:
        n_boot=config["analysis"]["bootstrap"],
        seed=config["analysis"]["seed"],
    script:
        "../workflow_scripts/transferability.py"


rule reference_comparison:
    """Our Spearman ρ next to the published values of config analysis.reference (sign agreement per value)."""
    input:
        f"{TABLES}/transferability.csv",
    output:
        f"{TABLES}/reference_comparison.csv",
    log:
        f"{LOGS}/tables/reference_comparison.log",
    benchmark:
        f"{BENCH}/tables/reference_comparison.tsv"
    conda:
        "../envs/transferscope.yaml"
    params:
        reference=config["analysis"]["reference"],
    script:
        "../workflow_scripts/reference_comparison.py"
