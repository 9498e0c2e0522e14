"""transferscope used the way Snakemake users adopt a published workflow: a ``module`` block in their own repository,
with their own config (README, "Use in your own project"); and the package carrying everything a run reads, so a
non-editable install (pip install of a tag, what a remote module needs) works too."""
import os
import subprocess
import sys
import textwrap
import zipfile

import pandas as pd
import pytest

from conftest import REPO
from workflow_helpers import SNAKEMAKE

pytestmark = pytest.mark.slow
CONFIG = os.path.join(REPO, "tests", "data", "config_cluster.yaml")  # the smallest end-to-end config
TABLES = ["results/tables/finetune.csv", "results/tables/metrics.csv", "results/tables/transferability.csv"]


def user_project(root, snakefile_tail=""):
    """A user's repository as README describes it: workflow/Snakefile with the module block, config/config.yaml."""
    (root / "workflow").mkdir(parents=True)
    (root / "config").mkdir()
    (root / "config" / "config.yaml").write_text(open(CONFIG).read())
    (root / "workflow" / "Snakefile").write_text(textwrap.dedent(f'''\
        configfile: "config/config.yaml"


        module transferscope:
            snakefile:
                "{os.path.join(REPO, "Snakefile")}"
            config:
                config


        use rule * from transferscope


        onstart:
            transferscope.onstart()
        ''') + snakefile_tail)
    return root


def snakemake(root, *args, env=None):
    return subprocess.run([SNAKEMAKE, *args, "--snakefile", "workflow/Snakefile"], cwd=root, capture_output=True,
                          text=True, timeout=600, env=env)


def test_module_from_a_local_checkout_runs_the_users_config_to_its_tables(tmp_path):
    root = user_project(tmp_path / "my_project")
    proc = snakemake(root, *TABLES, "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for table in TABLES:
        assert len(pd.read_csv(root / table)) > 0, table
    assert not (tmp_path / "my_project" / "workflow" / "results").exists()  # results in the user's working dir
    assert "localrule transferability:" in proc.stdout + proc.stderr  # the module's local rules stay local
    # the figures' plotting modules are read from the package, not from the user's directory
    dry = snakemake(root, "-n", "results/figures/transfer_gain.png")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert os.path.join(REPO, "transferscope", "plots", "transfer_gain.py") in dry.stdout


def test_module_config_is_validated_against_the_schema(tmp_path):
    root = user_project(tmp_path / "bad")
    path = root / "config" / "config.yaml"
    path.write_text(path.read_text() + "\nunknown_key: 1\n")
    proc = snakemake(root, "-n")
    assert proc.returncode != 0 and "unknown_key" in proc.stdout + proc.stderr


def test_wheel_carries_the_schema_and_validates_a_config_without_the_checkout(tmp_path):
    """What a remote module deployment relies on: `pip install` of the package (not editable) brings the config
    schema, and the schema-filled config validates from that install alone."""
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path / "dist"), REPO], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("transferscope-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "transferscope/config.schema.yaml" in archive.namelist()
        archive.extractall(tmp_path / "site")
    check = ("import transferscope, yaml; from transferscope.config import load_config; "
             f"assert transferscope.__file__.startswith({str(tmp_path / 'site')!r}), transferscope.__file__; "
             f"print(load_config({CONFIG!r})['analysis']['metrics'])")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env={**env, "PYTHONPATH": str(tmp_path / "site")})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sum_of_squares" in done.stdout


def test_the_modules_preflight_runs_from_the_users_onstart(tmp_path):
    """A module's own onstart does not run (Snakemake runs only the main Snakefile's): README's `onstart:
    transferscope.onstart()` calls it; with TRANSFERSCOPE_PREFLIGHT=only it checks (nothing on the local executor)
    and stops before any job."""
    root = user_project(tmp_path / "p")
    proc = snakemake(root, "--cores", "1", env={**os.environ, "TRANSFERSCOPE_PREFLIGHT": "only"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "preflight: nothing to check (executor local, not slurm)" in proc.stdout + proc.stderr
    assert not (root / "results").exists()
