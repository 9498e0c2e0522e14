"""Everything a job says reaches its log file: warnings, stderr and the traceback of an uncaught exception."""
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from conftest import REPO
from workflow_helpers import run_snakemake

JOB = '''
    import sys, warnings
    from transferscope.runtime import setup_job

    log = setup_job(sys.argv[1])
    log.info("started")
    warnings.warn("a library warning")
    print("a progress line on stderr", file=sys.stderr)
    raise FileNotFoundError("dataset 'mnist' not found in data/MNIST/raw")
'''


def test_uncaught_error_warning_and_stderr_reach_the_log(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB))
    log = tmp_path / "logs" / "job.log"
    proc = subprocess.run([sys.executable, str(script), str(log)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1  # still a failure for Snakemake
    text = log.read_text()
    for expected in ("started", "a library warning", "a progress line on stderr", "Traceback",
                     "FileNotFoundError: dataset 'mnist' not found in data/MNIST/raw"):
        assert expected in text, expected
    assert "not found in data/MNIST/raw" in proc.stderr  # the console still shows it, once
    assert proc.stderr.count("Traceback") == 1


@pytest.mark.slow
def test_missing_dataset_fails_with_the_expected_path_in_the_rule_log(tmp_path):
    config = {"device": "cpu", "data_root": str(tmp_path / "data"), "datasets": {"mnist": {"source": "mnist"}},
              "sources": ["mnist"], "targets": ["mnist"], "analysis": {"enabled": False}}
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "run"
    proc = run_snakemake(workdir, "--cores", "1", configfile=configfile, targets=["results/data/mnist.pt"],
                         check=False)
    assert proc.returncode != 0
    text = (workdir / "results/logs/prepare_dataset/mnist.log").read_text()
    expected = os.path.join(str(tmp_path / "data"), "MNIST", "raw")
    assert "not found" in text and expected in text and "train-images-idx3-ubyte" in text
    assert not (workdir / "results/data/mnist.pt").exists()
