import os

import numpy as np
import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def onehot(preds, n_classes=3):
    """N×n_classes probabilities putting all mass on ``preds`` (ensemble tests' hand-made members)."""
    p = np.zeros((len(preds), n_classes))
    p[np.arange(len(preds)), preds] = 1.0
    return p


def saved_figures(monkeypatch, module) -> list:
    """The figures ``module.draw`` passes to its ``save`` (the file is still written), kept to read titles and
    labels: the list fills as the module saves."""
    figures = []
    real_save = module.save

    def keep(fig, path, style):
        figures.append(fig)
        real_save(fig, path, style)

    monkeypatch.setattr(module, "save", keep)
    return figures


@pytest.fixture(autouse=True)
def _single_thread():
    torch.set_num_threads(1)
    yield


# Modules whose end-to-end runs take longest (make test's --durations), longest first.
HEAVY_MODULES = ("test_workflow_zoo.py", "test_workflow.py", "test_workflow_vgg_sources.py", "test_workflow_ensembles.py",
                 "test_workflow_plugin_metric.py", "test_module_deployment.py", "test_import_weights.py",
                 "test_ensembles_table_memory.py")


def pytest_collection_modifyitems(config, items):
    """`make test` runs two pytest-xdist workers with --dist loadfile (a module's tests stay on one worker, so its
    module-scoped end-to-end run is built once). The modules with end-to-end runs come first, longest first, then
    the other slow ones, so the quick ones fill the other worker's gaps instead of leaving two end-to-end runs to
    share the cores at the end."""
    def rank(item):
        name = item.path.name
        heavy = HEAVY_MODULES.index(name) if name in HEAVY_MODULES else len(HEAVY_MODULES)
        return heavy, item.get_closest_marker("slow") is None

    items.sort(key=rank)  # stable: file order within each group


def pytest_terminal_summary(terminalreporter):
    """Print what tests recorded for the log (``record_property("sacct", text)``: the SLURM jobs and their states of
    tests/test_cluster.py), whether they ran in this process or in a parallel worker."""
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "sacct" and report.when == "call":
                terminalreporter.write_line(str(value))
