"""Dataset-less sources (config `pretrained:`): validation, the imported checkpoint, and a tiny workflow run."""
import copy
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO
from transferscope.checkpoints import load_checkpoint, model_from_checkpoint, sha256_of
from transferscope.config import ConfigError, used_datasets, validate_config
from transferscope.data.prepare import build_bundle
from transferscope.models import build_model
from transferscope.training.finetune import FinetuneJob, run_finetune
from transferscope.training.import_weights import imported_blob, run_import_weights

SMALL = {"n_classes": 10, "in_channels": 1, "image_size": 12}
TARGET = {"source": "sklearn_digits", "derive": [{"op": "class_subset", "classes": [6, 7, 8, 9]}, {"op": "pad", "size": 12}],
          "split": {"test": 0.3, "val": 0.1, "seed": 0}, "few_shot": 8}


def base_config(**pretrained):
    return {"datasets": {"digits69": copy.deepcopy(TARGET)}, "sources": list(pretrained), "targets": ["digits69"],
            "pretrained": pretrained, "pretrain": {"checkpoints": ["final"]}}


@pytest.fixture()
def weights_file(tmp_path):
    torch.manual_seed(123)
    path = tmp_path / "w.pth"
    torch.save(build_model("mnist_cnn", 10, 1, 12).state_dict(), path)
    return path


def test_config_accepts_pretrained_sources(weights_file):
    cfg = validate_config(base_config(rand={"mnist_cnn": {"random": True, **SMALL}},
                                      file={"mnist_cnn": {"path": str(weights_file), **SMALL}}))
    assert cfg["pretrained"]["file"]["mnist_cnn"]["path"] == str(weights_file)
    assert used_datasets(cfg) == ["digits69"]  # a pretrained source needs no dataset
    defaults = validate_config(base_config(r={"mnist_cnn": {"random": True}}))["pretrained"]["r"]["mnist_cnn"]
    assert (defaults["n_classes"], defaults["in_channels"], defaults["image_size"]) == (1000, 3, 224)


@pytest.mark.parametrize("edit, key", [
    (lambda c: c["pretrain"].__setitem__("checkpoints", ["step0", "final"]), "pretrain.checkpoints"),
    (lambda c: c["pretrained"]["rand"].__setitem__("no_such_arch", {"random": True}), "pretrained.rand"),
    (lambda c: c["pretrained"]["rand"]["mnist_cnn"].pop("random"), "pretrained.rand.mnist_cnn"),
    (lambda c: c["pretrained"]["rand"]["mnist_cnn"].__setitem__("path", "x.pth"), "pretrained.rand.mnist_cnn"),
    (lambda c: c["datasets"].__setitem__("rand", copy.deepcopy(TARGET)), "both a dataset"),
])
def test_config_errors_name_the_key(edit, key):
    cfg = base_config(rand={"mnist_cnn": {"random": True, **SMALL}})
    edit(cfg)
    with pytest.raises(ConfigError, match=key):
        validate_config(cfg)


def test_random_entry_is_seeded():
    a = imported_blob(source="r", arch="mnist_cnn", seed=1, entry={"random": True, **SMALL})
    b = imported_blob(source="r", arch="mnist_cnn", seed=1, entry={"random": True, **SMALL})
    c = imported_blob(source="r", arch="mnist_cnn", seed=2, entry={"random": True, **SMALL})
    assert torch.equal(a["state_dict"]["conv1.weight"], b["state_dict"]["conv1.weight"])
    assert not torch.equal(a["state_dict"]["conv1.weight"], c["state_dict"]["conv1.weight"])


def test_weights_file_checkpoint_fine_tunes(weights_file, tmp_path):
    entry = {"path": str(weights_file), "sha256": sha256_of(weights_file), **SMALL}
    ckpt, log = tmp_path / "final.pt", tmp_path / "train_log.csv"
    run_import_weights(source="file", arch="mnist_cnn", seed=1, entry=entry, checkpoint=ckpt, train_log=log)
    blob = load_checkpoint(ckpt)
    expected = torch.load(weights_file)
    model = model_from_checkpoint(blob, ckpt)
    for k, v in expected.items():
        assert torch.equal(model.state_dict()[k], v), k
    assert blob["point"] == "final" and blob["role"] == "pretrained"
    assert pd.read_csv(log).loc[0, "source"] == "file"
    build_bundle("digits69", TARGET).save(tmp_path / "t.pt")
    recipe = {"optimizer": "adam", "lr": 1e-3, "batch_size": 16, "epochs": 2, "schedule": "constant", "augment": {}}
    job = FinetuneJob(arch="mnist_cnn", seed=1, mode="full", recipe=recipe, reinit=["head"], eval_points=["step0"],
                      keys={"target": "digits69", "source": "file", "checkpoint": "final"}, device="cpu")
    out = run_finetune(tmp_path / "t.pt", job, checkpoint=ckpt, result_path=tmp_path / "r.json")
    assert 0 <= out["test_acc"] <= 1


def test_wrong_checksum_names_the_file(weights_file, tmp_path):
    entry = {"path": str(weights_file), "sha256": "0" * 64, **SMALL}
    with pytest.raises(ValueError, match="w.pth"):
        imported_blob(source="file", arch="mnist_cnn", seed=1, entry=entry)


@pytest.mark.slow
def test_workflow_with_pretrained_sources(tmp_path, weights_file):
    """import_weights feeds finetune and the tables; pretrain is never scheduled for these sources."""
    cfg = yaml.safe_load(open(os.path.join(REPO, "tests", "data", "config_tiny.yaml")))
    cfg["datasets"] = {"digits69": TARGET}
    cfg["sources"] = ["rand", "file"]
    cfg["pretrained"] = {"rand": {"mnist_cnn": {"random": True, **SMALL}},
                         "file": {"mnist_cnn": {"path": str(weights_file), **SMALL}}}
    cfg["pretrain"]["checkpoints"] = ["final"]
    cfg["finetune"]["modes"] = ["full"]
    cfg["finetune"]["recipe"]["epochs"] = 2
    cfg["analysis"] = {"enabled": False}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    snakemake = os.path.join(os.path.dirname(sys.executable), "snakemake")
    cmd = [snakemake, "--snakefile", os.path.join(REPO, "Snakefile"), "--directory", str(tmp_path), "--configfile",
           str(path), "--cores", "2", "results/tables/finetune.csv", "results/tables/pretrain.csv"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "rule pretrain:" not in proc.stderr + proc.stdout
    table = pd.read_csv(tmp_path / "results/tables/finetune.csv")
    assert set(table["source"]) == {"rand", "file", "scratch"}
    assert set(pd.read_csv(tmp_path / "results/tables/pretrain.csv")["source"]) == {"rand", "file"}
