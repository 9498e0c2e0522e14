# transferscope: why does a pre-trained network transfer well or badly?
# Run: `make run` (or `snakemake --cores all`); full experiments: `snakemake --configfile configs/<x>.yaml`.
import sys

from snakemake.utils import min_version

min_version("9.0")


report: "report/workflow.rst"


sys.path.insert(0, workflow.basedir)  # the package is importable even when not pip-installed

from transferscope import names
from transferscope.config import ConfigError, validate_config

# The embedded default is used only when no --configfile is given: a full experiment config replaces it
# instead of being deep-merged into it.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


try:
    validate_config(config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None


include: "rules/common.smk"


# The same patterns as the schema's and the package's parsers (transferscope/names.py).
wildcard_constraints:
    dataset=names.NAME,
    source=names.NAME,
    target=names.NAME,
    arch=names.NAME,
    seed=names.SEED,
    ckpt=names.POINT,
    mode=names.MODE_TOKEN,


include: "rules/data.smk"
include: "rules/pretrain.smk"
include: "rules/import_weights.smk"
include: "rules/finetune.smk"
include: "rules/analysis.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"
include: "rules/ensembles.smk"
include: "rules/report_tables.smk"


# Cheap table and figure rules run in the main Snakemake process, never as cluster jobs that each wait in a queue
# (what the `localrules:` directive does, for names that are generated from the figure and table lists).
workflow.localrules(
    "all",
    "finetune_table",
    "pretrain_points",
    "transfer_outcomes",
    "transferability",
    "reference_comparison",
    "ensemble_table",
    "ensemble_summary",
    "ensemble_reference_comparison",
    *[f"{family}_table" for family in CONCAT_TABLES],
    *[f"figure_{fig.name}" for fig in FIGURE_TABLE],
    *[f"report_table_{name}" for name in report_tables.REPORT_TABLES],
)
# A dataset that may be downloaded is prepared by the Snakemake process itself: compute nodes often have no internet.
if config["download"]:
    workflow.localrules("prepare_dataset")


rule all:
    default_target: True
    input:
        all_targets(),
        ensemble_targets(),
        report_table_targets(),


onerror:
    print(
        "transferscope: a job failed. Its log is under results/logs/ (path printed above). "
        "Rerun the same command to resume; finished jobs are kept.",
        file=sys.stderr,
    )
