# The run's pre-trained models as a ranking benchmark of transferability estimators (config benchmark:).


rule leaderboard:
    """Every estimator's ranking of the zoo (the pre-trained models at benchmark.checkpoint) against fine-tuning,
    with bootstrap intervals, beside static baselines (source accuracy, parameter count, random)."""
    input:
        metrics=f"{TABLES}/metrics.csv",
        outcomes=f"{TABLES}/outcomes.csv",
        pretrain_points=f"{TABLES}/pretrain_points.csv",
        finetune=f"{TABLES}/finetune.csv",
    output:
        zoo=f"{TABLES}/benchmark_zoo.csv",
        leaderboard=f"{TABLES}/leaderboard.csv",
    log:
        f"{LOGS}/tables/leaderboard.log",
    benchmark:
        f"{BENCH}/tables/leaderboard.tsv"
    conda:
        "../envs/transferscope.yaml"
    resources:
        **SMALL_RESOURCES,
    params:
        estimators=BENCHMARK_ESTIMATORS,
        outcomes=config["benchmark"]["outcomes"],
        checkpoint=config["benchmark"]["checkpoint"],
        bootstrap=config["benchmark"]["bootstrap"],
        random_draws=config["benchmark"]["random_draws"],
        seed=config["benchmark"]["seed"],
    script:
        "../workflow_scripts/leaderboard.py"
