# Tables that are only the concatenation of per-job CSVs with the same columns: one rule family, <family>_table.
CONCAT_TABLES = {
    "pretrain": pretrain_logs(),
    "metrics": run_metrics_tables(),
    "metrics_finetuned": expand(f"{TABLES}/metrics_finetuned/{{target}}.csv", target=TARGETS),
}

for family, parts in CONCAT_TABLES.items():

    rule:
        """Concatenate one family's per-job tables (pre-training logs, per-run or per-target metrics) into one tidy table."""
        name:
            f"{family}_table"
        input:
            parts,
        output:
            f"{TABLES}/{family}.csv",
        log:
            f"{LOGS}/tables/{family}.log",
        benchmark:
            f"{BENCH}/tables/{family}.tsv"
        conda:
            "../envs/transferscope.yaml"
        script:
            "../workflow_scripts/concat_csv.py"


rule pretrain_points:
    """Accuracy and loss at every saved pre-training checkpoint, with its exact step and epoch."""
    input:
        [PRETRAIN_CKPT.format(ckpt=k["checkpoint"], **k) for k in activation_grid()],
    output:
        f"{TABLES}/pretrain_points.csv",
    log:
        f"{LOGS}/tables/pretrain_points.log",
    benchmark:
        f"{BENCH}/tables/pretrain_points.tsv"
    conda:
        "../envs/transferscope.yaml"
    params:
        models=activation_grid(),
    script:
        "../workflow_scripts/pretrain_points.py"


rule transfer_outcomes:
    """Outcomes of every fine-tuned model (final and early accuracy, gain and peak gain over scratch, AUC) and their
    seed means ± sd per (target, source, arch, checkpoint, mode)."""
    input:
        finetune=f"{TABLES}/finetune.csv",
        curves=f"{TABLES}/finetune_curves.csv",
    output:
        outcomes=f"{TABLES}/outcomes.csv",
        summary=f"{TABLES}/transfer_summary.csv",
    log:
        f"{LOGS}/tables/transfer_outcomes.log",
    benchmark:
        f"{BENCH}/tables/transfer_outcomes.tsv"
    conda:
        "../envs/transferscope.yaml"
    params:
        early_point=config["analysis"]["early_point"],
    script:
        "../workflow_scripts/transfer_outcomes.py"
