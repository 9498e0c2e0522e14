"""The figure table (transferscope/plots/figures.py): each row has its caption and a plotting module that can draw
it, and the workflow makes exactly one rule figure_<name> per row."""
import importlib
import inspect
import os

import pytest

from conftest import REPO
from transferscope.plots.figures import CONDITIONS, FIGURES, WORKFLOW_FILES, WORKFLOW_VALUES
from transferscope.report_tables import REPORT_TABLES
from workflow_helpers import run_snakemake

TINY = os.path.join(REPO, "tests", "data", "config_tiny.yaml")
# Tables the analysis rules write: a figure reading one is drawn only when the analysis runs.
ANALYSIS_TABLES = {"metrics.csv", "transferability.csv", "cka_finetune.csv"}
# Thesis A's figures (issue 12): each caption states what the thesis found.
THESIS_A = ("pretrain_points", "finetune_curves", "gain_curves", "transfer_gain", "metrics_by_checkpoint",
            "correlation_levels", "correlation_heatmap", "best_predictor")


def test_names_are_unique():
    names = [fig.name for fig in FIGURES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("fig", FIGURES, ids=lambda fig: fig.name)
def test_caption_and_plotting_module_exist(fig):
    assert os.path.isfile(os.path.join(REPO, fig.caption)), fig.caption
    path = os.path.join(REPO, "transferscope", "plots", f"{fig.plotting_module}.py")
    assert os.path.isfile(path), path
    draw = importlib.import_module(f"transferscope.plots.{fig.plotting_module}").draw
    assert callable(draw)
    # plot.py calls draw(**inputs, out=..., style=..., **params): every keyword must be one draw takes
    accepted = set(inspect.signature(draw).parameters)
    assert {*fig.inputs, "out", "style", *fig.params} <= accepted


@pytest.mark.parametrize("fig", FIGURES, ids=lambda fig: fig.name)
def test_row_names_only_known_inputs_values_and_conditions(fig):
    assert fig.when in CONDITIONS
    assert fig.category
    assert "module" not in fig.inputs  # the rule's own input: the plotting module file
    assert all(ref.endswith(".csv") or ref in WORKFLOW_FILES for ref in fig.inputs.values())
    assert set(fig.params.values()) <= set(WORKFLOW_VALUES)
    assert "style" not in fig.params  # always passed, from config figures:


@pytest.mark.parametrize("fig", FIGURES, ids=lambda fig: fig.name)
def test_figures_of_analysis_tables_need_the_analysis(fig):
    if ANALYSIS_TABLES & set(fig.inputs.values()):
        assert fig.when != "always"


@pytest.mark.parametrize("name", THESIS_A)
def test_thesis_a_captions_state_the_finding(name):
    (fig,) = [fig for fig in FIGURES if fig.name == name]
    with open(os.path.join(REPO, fig.caption), encoding="utf-8") as fh:
        caption = fh.read()
    assert "Thesis A" in caption and any(ch.isdigit() for ch in caption)


def test_every_caption_belongs_to_a_figure_or_a_report_table():
    import re

    captions = {f"report/{name}" for name in os.listdir(os.path.join(REPO, "report")) if name.endswith(".rst")}
    rules_dir = os.path.join(REPO, "rules")
    tables = {f"report/{name}" for rules in os.listdir(rules_dir)
              for name in re.findall(r'caption="\.\./report/([\w.]+\.rst)"', open(os.path.join(rules_dir, rules)).read())}
    assert tables == {"report/ensemble_variance_summary.rst"}
    pages = {table.caption for table in REPORT_TABLES.values()}  # the headline tables as HTML pages
    assert captions - {fig.caption for fig in FIGURES} - tables - pages == {"report/workflow.rst"}


def test_workflow_has_one_rule_per_figure(tmp_path):
    out = run_snakemake(tmp_path, "--list-rules", configfile=TINY).stdout
    rules = {line.split()[0] for line in out.splitlines() if line.strip().startswith("figure_")}
    assert rules == {f"figure_{fig.name}" for fig in FIGURES}
