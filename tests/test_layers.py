"""Imports point down only: the base never imports a job package, and training never imports its siblings.

Read with ``ast`` (imports inside functions included), so a cycle cannot hide in a function body.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "transferscope"
JOB_PACKAGES = ("training", "analysis", "ensembles", "plots", "benchmark")
BASE_MODULES = ("checkpoints", "inference", "io", "runtime", "names", "outcomes", "tables", "registries")
BASE = [PACKAGE / f"{name}.py" for name in BASE_MODULES] + [
    path for sub in ("models", "metrics", "data") for path in sorted((PACKAGE / sub).rglob("*.py"))]


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import statement of ``path`` (``from a import b`` gives a and a.b)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def forbidden(path: Path, packages) -> list[str]:
    bad = tuple(f"transferscope.{p}" for p in packages)
    return sorted(m for m in imported_modules(path) if m in bad or m.startswith(tuple(b + "." for b in bad)))


@pytest.mark.parametrize("path", sorted((PACKAGE / "training").rglob("*.py")), ids=lambda p: p.name)
def test_training_imports_no_sibling(path):
    assert forbidden(path, ("analysis", "ensembles", "plots")) == []


# What each job package may use besides the base: ensembles members are trainings (the training loop, optimizers,
# fine-tuning's model preparation); the leaderboard figure reads the benchmark's layout of its table (the headline
# slice, the baseline names) instead of repeating it; analysis builds only on the base.
SIBLINGS_ALLOWED = {"analysis": (), "plots": ("benchmark",), "ensembles": ("training",), "benchmark": ()}


@pytest.mark.parametrize("package, path", [(pkg, path) for pkg in SIBLINGS_ALLOWED
                                           for path in sorted((PACKAGE / pkg).rglob("*.py"))],
                         ids=lambda p: p if isinstance(p, str) else p.name)
def test_job_packages_import_only_the_siblings_they_build_on(package, path):
    others = [p for p in JOB_PACKAGES if p != package and p not in SIBLINGS_ALLOWED[package]]
    assert forbidden(path, others) == []


@pytest.mark.parametrize("path", BASE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_base_imports_no_job_package(path):
    assert path.exists()
    assert forbidden(path, JOB_PACKAGES) == []


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from transferscope.analysis.activations import extract\n"
                      "    import transferscope.plots.style\n")
    assert forbidden(module, JOB_PACKAGES) == ["transferscope.analysis.activations",
                                                "transferscope.analysis.activations.extract",
                                                "transferscope.plots.style"]
