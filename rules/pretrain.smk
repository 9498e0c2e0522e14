rule pretrain:
    """Pre-train one (source, arch, seed); save the configured checkpoints and a per-epoch log."""
    input:
        data=DATA.replace("{dataset}", "{source}"),
    output:
        checkpoints=expand(
            PRETRAIN_CKPT, ckpt=CKPTS, allow_missing=True
        ),
        train_log=PRETRAIN_LOG,
    params:
        recipe=config["pretrain"]["recipe"],
        points=CKPTS,
        weights=lambda wc: arch_weights(wc.arch),
        device=config["device"],
        cuda=CUDA_OPTIONS,
    log:
        f"{LOGS}/pretrain/{{source}}/{{arch}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/pretrain/{{source}}/{{arch}}/seed{{seed}}.tsv"
    threads: THREADS
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=lambda wc, attempt: 120 * attempt,
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/pretrain.py"


rule pretrain_table:
    """Concatenate the per-epoch pre-training logs into one tidy table."""
    input:
        pretrain_logs(),
    output:
        f"{TABLES}/pretrain.csv",
    log:
        f"{LOGS}/tables/pretrain.log",
    benchmark:
        f"{BENCH}/tables/pretrain.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/concat_csv.py"
