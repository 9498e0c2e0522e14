rule pretrain:
    """Pre-train one (source, arch, seed); save the configured checkpoints and a per-epoch log."""
    input:
        data=DATA.replace("{dataset}", "{source}"),
    output:
        checkpoints=expand(PRETRAIN_CKPT, ckpt=CKPTS, allow_missing=True),
        train_log=PRETRAIN_LOG,
    log:
        f"{LOGS}/pretrain/{{source}}/{{arch}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/pretrain/{{source}}/{{arch}}/seed{{seed}}.tsv"
    conda:
        "../envs/transferscope.yaml"
    threads: THREADS
    resources:
        **training_resources("pretrain"),
    params:
        **DEVICE_PARAMS,
        recipe=config["pretrain"]["recipe"],
        points=CKPTS,
        weights=lambda wc: arch_weights(wc.arch),
    script:
        "../workflow_scripts/pretrain.py"
