# transferscope: why does a pre-trained network transfer well or badly?
# Run: `make run` (or `snakemake --cores all`); full experiments: `snakemake --configfile configs/<x>.yaml`.
import os
import sys

from snakemake.utils import min_version

min_version("9.0")


report: "report/workflow.rst"


# The package beside this Snakefile is the one its rules and scripts were written for: put it first on the path of
# the DAG and of every job (scripts inherit PYTHONPATH; a cluster job re-reads this Snakefile and does the same), so a
# checkout or a module deployed from a local directory needs no pip install, and an older installed copy cannot
# shadow it. A workflow read from a remote source (snakedeploy's github(...)) has no package on disk: install it.
_package_dir = str(workflow.current_basedir)
if os.path.isdir(os.path.join(_package_dir, "transferscope")):
    sys.path.insert(0, _package_dir)
    # (a write, not a variable the user must set: no envvars directive). A job that re-reads this Snakefile inherits
    # the entry already, so it is moved to the front rather than added again.
    _inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != _package_dir]
    os.environ.update(PYTHONPATH=os.pathsep.join([_package_dir, *_inherited]))
try:
    from transferscope import names
except ImportError as err:
    raise WorkflowError(
        f"the transferscope package is not importable ({err}): this workflow's rules need it in the Python "
        f"environment that runs Snakemake. Install it with `pip install 'transferscope @ git+<repository URL>@<tag "
        f"of the deployed workflow>'` or `pip install -e <a local clone>` (README, Use in your own project)."
    ) from None
from transferscope import preflight
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
include: "rules/benchmark.smk"
include: "rules/figures.smk"
include: "rules/ensembles.smk"
include: "rules/report_tables.smk"


# Cheap table and figure rules run in the main Snakemake process, never as cluster jobs that each wait in a queue
# (what the `localrules:` directive does, for names that are generated from the figure and table lists).
# (Renamed as a module's rules are: `use rule * from transferscope as ts_*`.)
_local_rules = [
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
]
workflow.localrules(*[workflow.modifier.modify_rulename(name) for name in _local_rules])
# A dataset that may be downloaded is prepared by the Snakemake process itself: compute nodes often have no internet.
if config["download"]:
    workflow.localrules("prepare_dataset")


rule all:
    default_target: True
    input:
        all_targets(),
        ensemble_targets(),
        report_table_targets(),


# Before anything is submitted to SLURM: every job's and group's CPUs, memory, runtime, GPUs and partition against
# what the cluster offers (transferscope/preflight.py; `make preflight` runs only this).
onstart:
    try:
        preflight.run_preflight(workflow)
    except preflight.PreflightError as err:
        raise WorkflowError(str(err)) from None


onerror:
    print(
        "transferscope: a job failed. Its log is under results/logs/ (path printed above). "
        "Rerun the same command to resume; finished jobs are kept.",
        file=sys.stderr,
    )
