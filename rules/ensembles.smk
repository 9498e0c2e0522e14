# Thesis B: ensembles from one pre-trained checkpoint. The job graph (which member starts from which, which
# members are shared between methods) lives in transferscope/ensembles/plan.py; this file only wires it up.
# One job per member: member 1 (ordinary fine-tuning) -> SSE chains member k-1 -> k, StarSSE fan-out from
# member 1; Local / Global DE members fine-tune the pre-trained checkpoints. The table and figures read only
# the members' saved test-set probabilities, so new metrics never need retraining.
from transferscope.ensembles.plan import METHOD_PATTERN, EnsemblePlan

ENSEMBLE_DIR = "results/ensembles/{target}/{source}/{arch}/seed{seed}/{method}"
ENSEMBLE_MEMBER = f"{ENSEMBLE_DIR}/member{{k}}.pt"
ENSEMBLE_PROBS = f"{ENSEMBLE_DIR}/member{{k}}.npz"
ENSEMBLE_FIGURES = ["ensemble_size", "ensemble_diversity", "ensemble_trajectory", "ensemble_freeze"]
ENSEMBLES = EnsemblePlan(
    config,
    member_pattern=ENSEMBLE_MEMBER,
    data_pattern=DATA,
    checkpoint_pattern=PRETRAIN_CKPT,
    table=f"{TABLES}/ensembles.csv",
    figures={name: figure(name) for name in ENSEMBLE_FIGURES},
)
ensemble_targets = ENSEMBLES.targets  # [] when the ensembles section is absent or disabled


rule ensemble_member:
    """Train one ensemble member; save its weights (.pt) and test-set probabilities (.npz)."""
    input:
        unpack(lambda wc: ENSEMBLES.inputs(wc.target, wc.seed, wc.method, wc.k)),
    output:
        weights=ENSEMBLE_MEMBER,
        probs=ENSEMBLE_PROBS,
    params:
        spec=lambda wc: ENSEMBLES.spec(wc.target, wc.seed, wc.method, wc.k),
        device=config["device"],
        cuda=CUDA_OPTIONS,
    wildcard_constraints:
        method=METHOD_PATTERN,
        k=r"[0-9]+",
    log:
        f"{LOGS}/ensembles/{{target}}/{{source}}/{{arch}}/seed{{seed}}/{{method}}/member{{k}}.log",
    benchmark:
        f"{BENCH}/ensembles/{{target}}/{{source}}/{{arch}}/seed{{seed}}/{{method}}/member{{k}}.tsv"
    threads: THREADS
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=lambda wc, attempt: 120 * attempt,
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/ensemble_member.py"


rule ensemble_table:
    """Per-member and per-ensemble-size metrics of every method from the saved probabilities (tidy table)."""
    input:
        ENSEMBLES.table_inputs(),
    output:
        f"{TABLES}/ensembles.csv",
    params:
        runs=ENSEMBLES.runs(),
    log:
        f"{LOGS}/tables/ensembles.log",
    benchmark:
        f"{BENCH}/tables/ensembles.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/ensemble_table.py"


rule figure_ensemble_size:
    input:
        table=f"{TABLES}/ensembles.csv",
        module=plot_module("ensemble_size"),
    output:
        report(figure("ensemble_size"), caption="../report/ensemble_size.rst", category="Ensembles"),
    params:
        style=config["figures"],
    log:
        f"{LOGS}/figures/ensemble_size.log",
    benchmark:
        f"{BENCH}/figures/ensemble_size.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/ensemble_plot.py"


rule figure_ensemble_diversity:
    input:
        table=f"{TABLES}/ensembles.csv",
        module=plot_module("ensemble_diversity"),
    output:
        report(figure("ensemble_diversity"), caption="../report/ensemble_diversity.rst", category="Ensembles"),
    params:
        style=config["figures"],
    log:
        f"{LOGS}/figures/ensemble_diversity.log",
    benchmark:
        f"{BENCH}/figures/ensemble_diversity.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/ensemble_plot.py"


rule figure_ensemble_trajectory:
    input:
        table=f"{TABLES}/ensembles.csv",
        module=plot_module("ensemble_trajectory"),
    output:
        report(figure("ensemble_trajectory"), caption="../report/ensemble_trajectory.rst", category="Ensembles"),
    params:
        style=config["figures"],
    log:
        f"{LOGS}/figures/ensemble_trajectory.log",
    benchmark:
        f"{BENCH}/figures/ensemble_trajectory.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/ensemble_plot.py"


rule figure_ensemble_freeze:
    input:
        table=f"{TABLES}/ensembles.csv",
        module=plot_module("ensemble_freeze"),
    output:
        report(figure("ensemble_freeze"), caption="../report/ensemble_freeze.rst", category="Ensembles"),
    params:
        style=config["figures"],
    log:
        f"{LOGS}/figures/ensemble_freeze.log",
    benchmark:
        f"{BENCH}/figures/ensemble_freeze.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/ensemble_plot.py"
