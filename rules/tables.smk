# Tables that are only the concatenation of per-job CSVs with the same columns: one rule family, <family>_table.
CONCAT_TABLES = {
    "pretrain": pretrain_logs(),
    "metrics": expand(f"{TABLES}/metrics/{{target}}.csv", target=TARGETS),
    "metrics_finetuned": expand(f"{TABLES}/metrics_finetuned/{{target}}.csv", target=TARGETS),
}

for family, parts in CONCAT_TABLES.items():

    rule:
        """Concatenate one family's per-job tables (pre-training logs, per-target metrics) into one tidy table."""
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
