"""Thesis A's VGG16 half: seven sources in their own architectures (VGG16, VGG16-BN, VGG19) from weights files with
their checksums, planned as one run and correlated together across the seven (analysis.pool_archs, n = 7)."""
import hashlib
import os
import re

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy import stats

from transferscope.analysis.correlate import pool_archs, transferability_table
from transferscope.config import model_pairs, validate_config
from transferscope.training.import_weights import imported_blob
from vgg_weights import CIFAR_VGG19_HEAD, VGG16_CONFIG, small_state
from workflow_helpers import edited_config, rule_blocks, run_snakemake



@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    """The six weights files of configs/thesis_a_vgg16.yaml, small, with their sha256."""
    from torchvision.models import vgg16, vgg16_bn, vgg19

    folder = tmp_path_factory.mktemp("weights")
    files = {"vgg16-397923af.pth": small_state(vgg16), "vgg16_places365.pth": small_state(vgg16),
             "vgg16_cars.pth": small_state(vgg16), "vgg_face_dag.pth": small_state(vgg16),
             "segnet_camvid_vgg16_bn.pth": small_state(vgg16_bn, classifier={}),
             "vgg19_cifar10.pth": small_state(vgg19, classifier=CIFAR_VGG19_HEAD)}
    checksums = {}
    for name, state in files.items():
        torch.save(state, folder / name)
        assert (folder / name).stat().st_size < 1_000_000
        checksums[name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    return folder, checksums


def config_with(weight_files, tmp_path) -> str:
    folder, checksums = weight_files

    def edit(config):
        for archs in config["pretrained"].values():
            for entry in archs.values():
                if "path" in entry:
                    name = os.path.basename(entry["path"])
                    entry.update(path=str(folder / name), sha256=checksums[name])

    return edited_config(VGG16_CONFIG, tmp_path / "thesis_a_vgg16.yaml", edit)


def test_seven_sources_in_their_own_architectures():
    with open(VGG16_CONFIG) as fh:
        config = validate_config(yaml.safe_load(fh))
    assert model_pairs(config) == [("imagenet", "vgg16"), ("places365", "vgg16"), ("cars", "vgg16"),
                                   ("vggface", "vgg16"), ("segnet", "vgg16_bn"), ("cifar10", "vgg19"),
                                   ("random_init", "vgg16")]
    assert config["analysis"]["pool_archs"] and config["analysis"]["band"] == "fisher"
    assert config["finetune"]["target_recipes"]["custom3d"]["batch_size"] == 12


@pytest.mark.slow
def test_each_weights_file_loads_into_its_architecture(weight_files):
    """import_weights' own loader reads each small file (checksum verified) into a full-size network: every key of
    VGG16 / VGG16-BN, VGG19's features with its 512-wide classifier skipped, the heads of other sizes skipped."""
    folder, checksums = weight_files
    with open(VGG16_CONFIG) as fh:
        config = validate_config(yaml.safe_load(fh))
    for source, arch in model_pairs(config):
        entry = dict(config["pretrained"][source][arch])
        if "path" in entry:
            name = os.path.basename(entry["path"])
            entry.update(path=str(folder / name), sha256=checksums[name])
        blob = imported_blob(source=source, arch=arch, seed=1, entry=entry)
        state = blob["state_dict"]
        if "path" in entry:
            loaded = torch.load(entry["path"])
            assert torch.equal(state["features.0.weight"], loaded["features.0.weight"])  # from the file
    bad = {"path": str(folder / "vgg19_cifar10.pth"), "sha256": checksums["vgg19_cifar10.pth"], "n_classes": 10}
    with pytest.raises(ValueError, match="vgg19_cifar10.pth does not fit"):  # without skip: its classifier
        imported_blob(source="cifar10", arch="vgg19", seed=1, entry=bad)


@pytest.mark.slow
def test_dry_run_plans_seven_sources_with_checksummed_files(weight_files, tmp_path):
    proc = run_snakemake(tmp_path / "run", "-n", configfile=config_with(weight_files, tmp_path))
    blocks = rule_blocks(proc.stdout, "import_weights")
    models = {re.search(r"wildcards: source=(\w+), arch=(\w+), seed=(\d)", b).groups() for b in blocks}
    assert len(models) == 7 * 3
    assert {(s, a) for s, a, _ in models} >= {("segnet", "vgg16_bn"), ("cifar10", "vgg19"), ("cars", "vgg16")}
    finetune = rule_blocks(proc.stdout, "finetune")
    assert len(finetune) == 7 * 3 * 3 and any("arch=vgg19" in b for b in finetune)


def test_pooled_correlation_is_across_the_seven_sources_with_the_fisher_band():
    """Seven sources over three architectures, two seeds: pool_archs correlates the seed means of all seven (n = 7),
    Spearman ρ by hand, band tanh(1.96/2) = 0.753; without pooling each architecture is its own group."""
    rng = np.random.default_rng(0)
    sources = {"imagenet": "vgg16", "places365": "vgg16", "cars": "vgg16", "vggface": "vgg16",
               "segnet": "vgg16_bn", "cifar10": "vgg19", "random_init": "vgg16"}
    metrics, outcomes = [], []
    for source, arch in sources.items():
        for seed in (1, 2):
            metrics.append(dict(target="pets", source=source, arch=arch, seed=seed, checkpoint="final",
                                layer="pool5", metric="sum_of_squares", value=rng.normal()))
            outcomes.append(dict(target="pets", source=source, arch=arch, seed=seed, checkpoint="final",
                                 mode="freeze:conv5_2", outcome="auc", value=rng.normal()))
    metrics, outcomes = pd.DataFrame(metrics), pd.DataFrame(outcomes)
    table = transferability_table(metrics, outcomes, band="fisher", pool=True)
    row = table[(table["level"] == "all") & (table["statistic"] == "spearman")].iloc[0]
    assert row["arch"] == "vgg16+vgg16_bn+vgg19" and row["n"] == 7
    assert row["band"] == pytest.approx(np.tanh(1.96 / 2), abs=1e-4)
    x = metrics.groupby("source")["value"].mean()
    y = outcomes.groupby("source")["value"].mean()
    assert row["value"] == pytest.approx(stats.spearmanr(x, y[x.index]).statistic)
    split = transferability_table(metrics, outcomes)
    assert set(split.loc[split["level"] == "all", "n"]) == {5, 1}  # vgg16 alone; vgg16_bn and vgg19: one model


def test_a_source_in_two_architectures_stays_two_models_when_pooled():
    table = pd.DataFrame({"source": ["a", "a", "b"], "arch": ["vgg16", "vgg19", "vgg16"]})
    (pooled,) = pool_archs(table)
    assert list(pooled["source"]) == ["a@vgg16", "a@vgg19", "b"] and set(pooled["arch"]) == {"vgg16+vgg19"}
