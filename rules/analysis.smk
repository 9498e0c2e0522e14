# Activations of pre-trained checkpoints on target images -> per-layer metrics -> correlation with transfer.


rule extract:
    """Activations of the target's fixed analysis sample for every checkpoint of one pre-training run."""
    input:
        **RUN_ON_TARGET_INPUTS,
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


rule model_metrics:
    """Every configured metric on every layer of every checkpoint of one pre-training run, for one target (the
    activations are computed in memory: rule extract writes them only when analysis.keep_activations asks)."""
    input:
        **RUN_ON_TARGET_INPUTS,
    output:
        MODEL_METRICS,
    log:
        f"{LOGS}/metrics/{{target}}/{{source}}/{{arch}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/metrics/{{target}}/{{source}}/{{arch}}/seed{{seed}}.tsv"
    conda:
        "../envs/transferscope.yaml"
    threads: THREADS
    resources:
        **{**EXTRACT_RESOURCES, "runtime": 60},
    params:
        **{**ANALYSIS_SAMPLE, **METRIC_PARAMS},
        layers=metric_layers,
        device=config["device"],
        points=CKPTS,
    script:
        "../workflow_scripts/model_metrics.py"


rule layer_metrics_finetuned:
    """Every configured metric on every layer of every fine-tuned model, for one target (the fine-tuning jobs save
    their activations when analysis.finetuned asks)."""
    input:
        finetuned_activation_files,
    output:
        f"{TABLES}/metrics_finetuned/{{target}}.csv",
    log:
        f"{LOGS}/metrics_finetuned/{{target}}.log",
    benchmark:
        f"{BENCH}/metrics_finetuned/{{target}}.tsv"
    conda:
        "../envs/transferscope.yaml"
    threads: THREADS
    resources:
        **METRICS_RESOURCES,
    params:
        **METRIC_PARAMS,
        model_keys=finetuned_keys,
    script:
        "../workflow_scripts/layer_metrics.py"


rule transferability:
    """Seed-mean correlations (levels all, per source, per checkpoint, per fine-tuning eval point; per-seed noise
    floor) of every metric × layer with every fine-tuning outcome; null band by config analysis.band."""
    input:
        metrics=f"{TABLES}/metrics.csv",
        outcomes=f"{TABLES}/outcomes.csv",
        curves=f"{TABLES}/finetune_curves.csv",
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
        band=config["analysis"]["band"],
        pool=config["analysis"]["pool_archs"],
    script:
        "../workflow_scripts/transferability.py"


rule reference_comparison:
    """Our Spearman ρ next to the published values of config analysis.reference, at its level and per checkpoint
    (|ours − theirs| against the reading error and 0.1, Fisher-z test of the difference, sign agreement)."""
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
