rule prepare_dataset:
    """Load a source, apply its derivations and split, and save one tensor bundle."""
    output:
        DATA,
    params:
        spec=dataset_spec,
        data_root=config["data_root"],
        download=config["download"],
    log:
        f"{LOGS}/prepare_dataset/{{dataset}}.log",
    benchmark:
        f"{BENCH}/prepare_dataset/{{dataset}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/prepare_dataset.py"
