# Thesis B: ensembles from one pre-trained checkpoint. The job graph (which member starts from which, which
# members are shared between methods) lives in transferscope/ensembles/plan.py; this file only wires it up.
# One job per member: member 1 (ordinary fine-tuning) -> SSE chains member k-1 -> k, StarSSE fan-out from
# member 1; Local / Global DE members fine-tune the pre-trained checkpoints. The table and figures read only
# the members' saved test-set probabilities, so new metrics never need retraining.
from transferscope.ensembles.plan import EnsemblePlan
from transferscope.resources import RuntimePolicy, ensemble_table_memory

ENSEMBLE_DIR = "results/ensembles/{target}/{source}/{arch}/seed{seed}/rep{rep}/{method}"
ENSEMBLE_MEMBER = f"{ENSEMBLE_DIR}/member{{k}}.pt"
ENSEMBLE_PROBS = f"{ENSEMBLE_DIR}/member{{k}}.npz"
ENSEMBLES = EnsemblePlan(
    config,
    member_pattern=ENSEMBLE_MEMBER,
    data_pattern=DATA,
    checkpoint_pattern=PRETRAIN_CKPT,
    tables=[
        f"{TABLES}/{name}.csv"
        for name in (
            "ensembles",
            "ensembles_summary",
            "ensembles_final",
            "ensemble_distances",
            "ensemble_pairs",
            "ensemble_pair_correlations",
            "ensemble_subsets",
            "ensemble_variance",
            "ensemble_variance_summary",
        )
    ]
    # the comparison with a published table, where ensembles.reference has rows
    + (
        [f"{TABLES}/ensembles_reference_comparison.csv"]
        if ((config.get("ensembles") or {}).get("reference") or {}).get("rows")
        else []
    ),
)


ensemble_targets = ENSEMBLES.targets  # the tables; [] when the ensembles section is absent or disabled
# Each member asks the time its work needs (epochs x steps x the architecture's cost at its side + the RTD loss's
# homology; transferscope/resources.py), planned here, so a member no job could finish stops the plan.
MEMBER_RUNTIME, MEMBER_RETRIES = ENSEMBLES.runtime_resource(RuntimePolicy.from_config(config), "cuda" if GPU else "cpu")


rule ensemble_member:
    """Train one ensemble member; save its weights (.pt) and test-set probabilities (.npz)."""
    input:
        unpack(lambda wc: ENSEMBLES.inputs(wc.target, wc.seed, wc.method, wc.k, wc.rep)),
    output:
        weights=ENSEMBLE_MEMBER,
        probs=ENSEMBLE_PROBS,
    log:
        f"{LOGS}/ensembles/{{target}}/{{source}}/{{arch}}/seed{{seed}}/rep{{rep}}/{{method}}/member{{k}}.log",
    benchmark:
        f"{BENCH}/ensembles/{{target}}/{{source}}/{{arch}}/seed{{seed}}/rep{{rep}}/{{method}}/member{{k}}.tsv"
    wildcard_constraints:
        method=ENSEMBLES.method_pattern(),
        k=r"[0-9]+",
        rep=r"[0-9]+",
    retries: MEMBER_RETRIES
    conda:
        "../envs/transferscope.yaml"
    threads: THREADS
    resources:
        **dict(training_resources("ensembles"), runtime=MEMBER_RUNTIME),
    params:
        **DEVICE_PARAMS,
        spec=lambda wc: ENSEMBLES.spec(wc.target, wc.seed, wc.method, wc.k, wc.rep),
    script:
        "../workflow_scripts/ensemble_member.py"


rule ensemble_table:
    """Per-member and per-ensemble-size metrics of every method from the saved probabilities (tidy table)."""
    input:
        ENSEMBLES.table_inputs(),
    output:
        f"{TABLES}/ensembles.csv",
    log:
        f"{LOGS}/tables/ensembles.log",
    benchmark:
        f"{BENCH}/tables/ensembles.tsv"
    conda:
        "../envs/transferscope.yaml"
    threads: 1
    resources:
        # streams the members: memory from the largest member's files, not from all of them
        **dict(SMALL_RESOURCES, mem_mb=ensemble_table_memory(MEM_SCALE)),
    params:
        runs=ENSEMBLES.runs(),
    script:
        "../workflow_scripts/ensemble_table.py"


rule ensemble_summary:
    """Mean ± sd over runs of every ensemble metric and size, training time as a fraction of the Deep Ensemble's,
    and the k = K rows as a report table."""
    input:
        f"{TABLES}/ensembles.csv",
    output:
        summary=f"{TABLES}/ensembles_summary.csv",
        final=f"{TABLES}/ensembles_final.csv",  # in the report as a table page (rules/report_tables.smk)
    log:
        f"{LOGS}/tables/ensembles_summary.log",
    benchmark:
        f"{BENCH}/tables/ensembles_summary.tsv"
    conda:
        "../envs/transferscope.yaml"
    script:
        "../workflow_scripts/ensemble_summary.py"


rule ensemble_reference_comparison:
    """Our full ensembles next to a published table (config ensembles.reference: thesis B's Table 4.1): mean ± sd
    and n per method and metric, the sign of each method's difference to StarSSE ours vs the text's, time ratios."""
    input:
        f"{TABLES}/ensembles.csv",
    output:
        f"{TABLES}/ensembles_reference_comparison.csv",  # in the report as a table page (rules/report_tables.smk)
    log:
        f"{LOGS}/tables/ensembles_reference_comparison.log",
    benchmark:
        f"{BENCH}/tables/ensembles_reference_comparison.tsv"
    conda:
        "../envs/transferscope.yaml"
    params:
        reference=ENSEMBLES.ens.get("reference", {}),
    script:
        "../workflow_scripts/ensemble_reference_comparison.py"


rule ensemble_variance:
    """Thesis B's variance study: every size-k subset of the runs with more members (ensemble accuracy, mean member
    accuracy, diversity), the best and worst fraction (5 %) compared and their linear separability."""
    input:
        ENSEMBLES.table_inputs(),
    output:
        subsets=f"{TABLES}/ensemble_variance.csv",
        summary=report(
            f"{TABLES}/ensemble_variance_summary.csv",
            caption="../report/ensemble_variance_summary.rst",
            category="Ensembles",
        ),
    log:
        f"{LOGS}/tables/ensemble_variance.log",
    benchmark:
        f"{BENCH}/tables/ensemble_variance.tsv"
    conda:
        "../envs/transferscope.yaml"
    threads: 1
    resources:
        **SMALL_RESOURCES,
    params:
        runs=ENSEMBLES.runs(),
        variance=ENSEMBLES.variance_options(),
    script:
        "../workflow_scripts/ensemble_variance.py"


rule ensemble_trajectory_tables:
    """Along each run, from the saved outputs only: distances of members' pooled test features (MSE, RTD,
    point-cloud Wasserstein), of each stage's pooled outputs (MSE) and of per-layer weights to member 1, diversity
    and weight cosine of every member pair with their Spearman and Pearson correlations, and the accuracies of
    ensembles of size-k member subsets (the variance study)."""
    input:
        ENSEMBLES.table_inputs(),
    output:
        distances=f"{TABLES}/ensemble_distances.csv",
        pairs=f"{TABLES}/ensemble_pairs.csv",
        correlations=f"{TABLES}/ensemble_pair_correlations.csv",
        subsets=f"{TABLES}/ensemble_subsets.csv",
    log:
        f"{LOGS}/tables/ensemble_trajectory_tables.log",
    benchmark:
        f"{BENCH}/tables/ensemble_trajectory_tables.tsv"
    conda:
        "../envs/transferscope.yaml"
    threads: 1
    resources:
        **SMALL_RESOURCES,
    params:
        runs=ENSEMBLES.runs(),
        trajectory=ENSEMBLES.ens.get("trajectory", {}),
    script:
        "../workflow_scripts/ensemble_trajectory_tables.py"
