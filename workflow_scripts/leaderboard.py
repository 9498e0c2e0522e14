"""Rule leaderboard: metrics, outcomes, pre-training points, fine-tuning table -> benchmark_zoo.csv, leaderboard.csv."""
import pandas as pd

from transferscope.benchmark.zoo import leaderboard_table, zoo_table
from transferscope.io import write_csv
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
setup_job(smk.log[0], 1)
params = smk.params
zoo = zoo_table(pd.read_csv(smk.input.metrics), pd.read_csv(smk.input.outcomes),
                pd.read_csv(smk.input.pretrain_points), pd.read_csv(smk.input.finetune),
                estimators=list(params.estimators), outcome_names=list(params.outcomes), checkpoint=params.checkpoint)
write_csv(smk.output.zoo, zoo)
write_csv(smk.output.leaderboard, leaderboard_table(zoo, bootstrap=params.bootstrap,
                                                    random_draws=params.random_draws, seed=params.seed))
