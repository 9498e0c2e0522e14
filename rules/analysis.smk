# Activations of pre-trained checkpoints on target images -> per-layer metrics -> correlation with transfer.


rule extract:
    """Activations of the target's fixed analysis sample for every checkpoint of one pre-training run."""
    input:
        target=DATA.replace("{dataset}", "{target}"),
        checkpoints=expand(PRETRAIN_CKPT, ckpt=CKPTS, allow_missing=True),
    output:
        expand(ACTS, ckpt=CKPTS, allow_missing=True),
    params:
        points=CKPTS,
        n_samples=config["analysis"]["n_samples"],
        pool=config["analysis"]["pool"],
        seed=config["analysis"]["seed"],
        device=config["device"],
    log:
        f"{LOGS}/extract/{{target}}/{{source}}/{{arch}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/extract/{{target}}/{{source}}/{{arch}}/seed{{seed}}.tsv"
    threads: THREADS
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/extract.py"


rule layer_metrics:
    """Every configured metric on every layer of every pre-trained model, for one target."""
    input:
        activation_files,
    output:
        f"{TABLES}/metrics/{{target}}.csv",
    params:
        model_keys=activation_keys,
        metrics=config["analysis"]["metrics"],
        twonn_subsets=config["analysis"]["twonn_subsets"],
        metric_bootstrap=config["analysis"]["metric_bootstrap"],
        seed=config["analysis"]["seed"],
    log:
        f"{LOGS}/metrics/{{target}}.log",
    benchmark:
        f"{BENCH}/metrics/{{target}}.tsv"
    threads: THREADS
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/layer_metrics.py"


rule metrics_table:
    """All targets' metrics in one tidy table."""
    input:
        expand(f"{TABLES}/metrics/{{target}}.csv", target=TARGETS),
    output:
        f"{TABLES}/metrics.csv",
    log:
        f"{LOGS}/tables/metrics.log",
    benchmark:
        f"{BENCH}/tables/metrics.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/concat_csv.py"


rule transferability:
    """Rank and linear correlation of every metric × layer with fine-tuned accuracy, gain and AUC."""
    input:
        metrics=f"{TABLES}/metrics.csv",
        finetune=f"{TABLES}/finetune.csv",
        curves=f"{TABLES}/finetune_curves.csv",
    output:
        f"{TABLES}/transferability.csv",
    params:
        eval_points=config["finetune"]["eval_points"],
        n_boot=config["analysis"]["bootstrap"],
        seed=config["analysis"]["seed"],
    log:
        f"{LOGS}/tables/transferability.log",
    benchmark:
        f"{BENCH}/tables/transferability.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/transferability.py"


rule layer_metrics_finetuned:
    """The same metrics on the fine-tuned models of one target (analysis.finetuned: true)."""
    input:
        finetuned_activation_files,
    output:
        f"{TABLES}/metrics_finetuned/{{target}}.csv",
    params:
        model_keys=finetuned_keys,
        metrics=config["analysis"]["metrics"],
        twonn_subsets=config["analysis"]["twonn_subsets"],
        metric_bootstrap=config["analysis"]["metric_bootstrap"],
        seed=config["analysis"]["seed"],
    log:
        f"{LOGS}/metrics_finetuned/{{target}}.log",
    benchmark:
        f"{BENCH}/metrics_finetuned/{{target}}.tsv"
    threads: THREADS
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/layer_metrics.py"


rule metrics_finetuned_table:
    """All targets' fine-tuned-model metrics in one tidy table (with a mode column)."""
    input:
        expand(f"{TABLES}/metrics_finetuned/{{target}}.csv", target=TARGETS),
    output:
        f"{TABLES}/metrics_finetuned.csv",
    log:
        f"{LOGS}/tables/metrics_finetuned.log",
    benchmark:
        f"{BENCH}/tables/metrics_finetuned.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/concat_csv.py"
