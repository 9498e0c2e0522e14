# Figure rules read only tables. Each lists the plotting module it uses as an input, so editing that module
# (or a figures: option, via params) reruns exactly the figures drawn with it, never training.


rule figure_pretrain_curves:
    input:
        table=f"{TABLES}/pretrain.csv",
        module=plot_module("pretrain_curves"),
    output:
        report(
            figure("pretrain_curves"),
            caption="../report/pretrain_curves.rst",
            category="Pre-training",
        ),
    params:
        style=config["figures"],
    log:
        f"{LOGS}/figures/pretrain_curves.log",
    benchmark:
        f"{BENCH}/figures/pretrain_curves.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/plot_pretrain_curves.py"


rule figure_finetune_vs_checkpoint:
    input:
        table=f"{TABLES}/finetune.csv",
        module=plot_module("finetune_vs_checkpoint"),
    output:
        report(
            figure("finetune_vs_checkpoint"),
            caption="../report/finetune_vs_checkpoint.rst",
            category="Fine-tuning",
        ),
    params:
        style=config["figures"],
        checkpoints=CKPTS,
    log:
        f"{LOGS}/figures/finetune_vs_checkpoint.log",
    benchmark:
        f"{BENCH}/figures/finetune_vs_checkpoint.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/plot_finetune_vs_checkpoint.py"


rule figure_transfer_gain:
    input:
        table=f"{TABLES}/finetune.csv",
        module=plot_module("transfer_gain"),
    output:
        report(
            figure("transfer_gain"),
            caption="../report/transfer_gain.rst",
            category="Fine-tuning",
        ),
    params:
        style=config["figures"],
    log:
        f"{LOGS}/figures/transfer_gain.log",
    benchmark:
        f"{BENCH}/figures/transfer_gain.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/plot_transfer_gain.py"
