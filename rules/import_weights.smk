# Dataset-less sources (config `pretrained:`): a downloaded network (thesis A's ImageNet VGG16) or a seeded random
# initialisation. Nothing is pre-trained: the checkpoint `final` and a one-row log are written where pretraining
# would write them, so finetune, extract and the tables use them unchanged. The weights file is a param (path and
# checksum), not an input, so a dry run does not need it; a missing file fails the job naming the path.

PRETRAINED_SOURCES = [s for s in SOURCES if s in config["pretrained"]]


ruleorder: import_weights > pretrain


rule import_weights:
    """Checkpoint `final` of a pretrained: source (weights file or seeded random init) + a one-row train log."""
    output:
        checkpoint=PRETRAIN_CKPT.replace("{ckpt}", "final"),
        train_log=PRETRAIN_LOG,
    log:
        f"{LOGS}/import_weights/{{source}}/{{arch}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/import_weights/{{source}}/{{arch}}/seed{{seed}}.tsv"
    wildcard_constraints:
        source="|".join(PRETRAINED_SOURCES) or "(?!)",
    conda:
        "../envs/transferscope.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        entry=lambda wc: config["pretrained"][wc.source][wc.arch],
    script:
        "../workflow_scripts/import_weights.py"
