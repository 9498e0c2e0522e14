rule prepare_dataset:
    """Load a source, apply its derivations and split, and save one tensor bundle."""
    output:
        DATA,
    log:
        f"{LOGS}/prepare_dataset/{{dataset}}.log",
    benchmark:
        f"{BENCH}/prepare_dataset/{{dataset}}.tsv"
    conda:
        "../envs/transferscope.yaml"
    threads: 1
    resources:
        **SMALL_RESOURCES,
    params:
        spec=dataset_spec,
        data_root=config["data_root"],
        download=config["download"],
    script:
        "../workflow_scripts/prepare_dataset.py"
