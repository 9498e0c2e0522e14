rule finetune:
    """Fine-tune every checkpoint of one pre-training run on one target in one mode (one result per checkpoint)."""
    input:
        **RUN_ON_TARGET_INPUTS,
    output:
        results=expand(FINETUNE, ckpt=CKPTS, allow_missing=True),
        activations=(expand(ACTS_FINETUNED, ckpt=CKPTS, allow_missing=True) if ANALYSE_FINETUNED else []),
    log:
        f"{LOGS}/finetune/{{target}}/{{source}}/{{arch}}/seed{{seed}}/{{mode}}.log",
    benchmark:
        f"{BENCH}/finetune/{{target}}/{{source}}/{{arch}}/seed{{seed}}/{{mode}}.tsv"
    conda:
        "../envs/transferscope.yaml"
    threads: THREADS
    resources:
        **training_resources("finetune", finetuned_activation_params()),
    params:
        **FINETUNE_PARAMS,
        points=CKPTS,
        activations=finetuned_activation_params(),
        stash_dir=lambda wc: FINETUNE_STASH.format(**wc),
        recipe=mode_recipe,
        reinit=config["finetune"]["reinit"],
        cka_samples=config["finetune"]["cka_samples"],
    script:
        "../workflow_scripts/finetune.py"


rule scratch:
    """From-scratch baseline: the target trained from a random network (recipe < scratch_recipe < target_recipes)."""
    input:
        target=DATA.replace("{dataset}", "{target}"),
    output:
        SCRATCH,
    log:
        f"{LOGS}/scratch/{{target}}/{{arch}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/scratch/{{target}}/{{arch}}/seed{{seed}}.tsv"
    conda:
        "../envs/transferscope.yaml"
    threads: THREADS
    resources:
        **training_resources("finetune"),
    params:
        **FINETUNE_PARAMS,
        recipe=scratch_target_recipe,
    script:
        "../workflow_scripts/scratch.py"


rule finetune_table:
    """Collect every fine-tuning and scratch result into tidy tables (final results and curves)."""
    input:
        finetune_results(),
        scratch_results(),
    output:
        table=f"{TABLES}/finetune.csv",
        curves=f"{TABLES}/finetune_curves.csv",
        cka=f"{TABLES}/cka_finetune.csv",
    log:
        f"{LOGS}/tables/finetune.log",
    benchmark:
        f"{BENCH}/tables/finetune.tsv"
    conda:
        "../envs/transferscope.yaml"
    params:
        scratch_arch=config["finetune"].get("scratch_arch"),
    script:
        "../workflow_scripts/finetune_table.py"
