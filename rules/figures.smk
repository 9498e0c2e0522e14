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
        table=f"{TABLES}/finetune_curves.csv",
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


rule figure_metrics_by_layer:
    input:
        table=f"{TABLES}/metrics.csv",
        module=plot_module("metrics_by_layer"),
    output:
        report(figure("metrics_by_layer"), caption="../report/metrics_by_layer.rst", category="Analysis"),
    params:
        style=config["figures"],
        checkpoint=CKPTS[-1],
    log:
        f"{LOGS}/figures/metrics_by_layer.log",
    benchmark:
        f"{BENCH}/figures/metrics_by_layer.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/plot_metrics_by_layer.py"


rule figure_correlation_heatmap:
    input:
        table=f"{TABLES}/transferability.csv",
        module=plot_module("correlation_heatmap"),
    output:
        report(figure("correlation_heatmap"), caption="../report/correlation_heatmap.rst", category="Analysis"),
    params:
        style=config["figures"],
    log:
        f"{LOGS}/figures/correlation_heatmap.log",
    benchmark:
        f"{BENCH}/figures/correlation_heatmap.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/plot_correlation_heatmap.py"


rule figure_best_predictor:
    input:
        transferability=f"{TABLES}/transferability.csv",
        metrics=f"{TABLES}/metrics.csv",
        finetune=f"{TABLES}/finetune.csv",
        module=plot_module("best_predictor"),
    output:
        report(figure("best_predictor"), caption="../report/best_predictor.rst", category="Analysis"),
    params:
        style=config["figures"],
    log:
        f"{LOGS}/figures/best_predictor.log",
    benchmark:
        f"{BENCH}/figures/best_predictor.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/plot_best_predictor.py"


rule figure_rdm:
    input:
        activations=rdm_model_file(),
        module=plot_module("rdm"),
    output:
        report(figure("rdm"), caption="../report/rdm.rst", category="Analysis"),
    params:
        style=config["figures"],
    log:
        f"{LOGS}/figures/rdm.log",
    benchmark:
        f"{BENCH}/figures/rdm.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/plot_rdm.py"


rule figure_cka_finetune:
    input:
        table=f"{TABLES}/cka_finetune.csv",
        module=plot_module("cka_finetune"),
    output:
        report(figure("cka_finetune"), caption="../report/cka_finetune.rst", category="Analysis"),
    params:
        style=config["figures"],
    log:
        f"{LOGS}/figures/cka_finetune.log",
    benchmark:
        f"{BENCH}/figures/cka_finetune.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/plot_cka_finetune.py"
