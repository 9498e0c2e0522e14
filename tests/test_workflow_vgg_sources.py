"""Thesis A's VGG16 half end to end on tiny images: two VGG-family sources from weights files (ImageNet's VGG16 and
CIFAR-10's VGG19) imported, fine-tuned through the thesis' surgery (each architecture's last conv re-initialised,
the convs before it frozen) and analysed; the correlations pool the two architectures."""
import os

import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO
from transferscope.checkpoints import sha256_of
from vgg_weights import CIFAR_VGG19_HEAD, VGG16_CONFIG, small_state
from workflow_helpers import run_snakemake

TINY = os.path.join(REPO, "tests", "data", "config_vgg_tiny.yaml")


def tiny_vgg_config(folder) -> dict:
    """configs/thesis_a_vgg16.yaml with config_vgg_tiny.yaml's sections in place and small weights files."""
    from torchvision.models import vgg16, vgg19

    with open(VGG16_CONFIG) as fh:
        config = yaml.safe_load(fh)
    with open(TINY) as fh:
        tiny = yaml.safe_load(fh)
    for key, value in tiny.items():
        if isinstance(value, dict) and key != "datasets":
            recipe = {**config[key].get("recipe", {}), **value.pop("recipe", {})}
            config[key].update(value)
            if recipe:
                config[key]["recipe"] = recipe
        else:
            config[key] = value
    files = {"imagenet": small_state(vgg16),
             "cifar10": small_state(vgg19, classifier=CIFAR_VGG19_HEAD)}
    for source, state in files.items():
        (entry,) = config["pretrained"][source].values()
        path = folder / os.path.basename(entry["path"])
        torch.save(state, path)
        entry.update(path=str(path), sha256=sha256_of(path), image_size=32)  # the side the file is declared for
    config["pretrained"] = {source: config["pretrained"][source] for source in config["sources"]}
    return config


@pytest.fixture(scope="module")
def vgg_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("vgg_run")
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(tiny_vgg_config(work)))
    proc = run_snakemake(work, "--cores", "2", configfile=path, timeout=1200)
    return work, proc


def trainable_after_surgery(arch: str, n_classes: int) -> int:
    """Parameters the thesis' surgery leaves trainable: the last conv (3×3, 512 -> 512) and fc1..fc3."""
    return (512 * 512 * 9 + 512) + (512 * 7 * 7 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * n_classes + n_classes)


@pytest.mark.slow  # two full-size VGGs imported, fine-tuned and analysed, one trained from scratch: ~75 s on 2 cores, ~1 GB of checkpoints
def test_two_vgg_family_sources_fine_tune_and_analyse(vgg_run):
    work, _ = vgg_run
    tables = work / "results" / "tables"
    finetune = pd.read_csv(tables / "finetune.csv")
    assert sorted(zip(finetune["source"], finetune["arch"])) == [("cifar10", "vgg19"), ("imagenet", "vgg16"),
                                                                ("scratch", "vgg16")]
    tuned = finetune[finetune["source"] != "scratch"]
    assert set(tuned["mode"]) == {"freeze:below_last_conv"}
    # VGG19's conv5_3 frozen like VGG16's conv5_2: both train their last conv and the classifier only
    assert (tuned["trainable_params"] == trainable_after_surgery("vgg16", 3)).all()
    outcomes = pd.read_csv(tables / "outcomes.csv")
    gains = outcomes[outcomes["outcome"] == "gain"].set_index("arch")["value"]
    scratch_acc = finetune.loc[finetune["source"] == "scratch", "test_acc"].item()
    for arch in ("vgg16", "vgg19"):  # finetune.scratch_arch: VGG19's gain against VGG16's baseline too
        assert gains[arch] == pytest.approx(tuned.set_index("arch")["test_acc"][arch] - scratch_acc)
    curves = pd.read_csv(tables / "finetune_curves.csv")
    for _, curve in curves.groupby(["source", "arch"]):  # the target's own eval points; its batch size 12: 24 images, 2 steps
        assert list(curve["point"]) == ["step0", "step1", "final"] and list(curve["step"]) == [0, 1, 4]
    assert finetune["test_acc"].between(0, 1).all()

    metrics = pd.read_csv(tables / "metrics.csv")
    layers = ["pool1", "pool2", "pool3", "pool4", "pool5", "out"]
    for arch in ("vgg16", "vgg19"):
        mine = metrics[(metrics["arch"] == arch) & metrics["metric"].isin(["sum_of_squares", "rsa", "twonn"])]
        assert set(mine["layer"]) == set(layers)
        assert mine[mine["layer"].str.startswith("pool")]["value"].notna().all()

    table = pd.read_csv(tables / "transferability.csv")
    assert set(table["arch"]) == {"vgg16+vgg19"}  # analysis.pool_archs: the two architectures correlated together
    pooled = table[(table["level"] == "all") & (table["outcome"] == "auc") & table["layer"].str.startswith("pool")
                   & table["metric"].isin(["sum_of_squares", "rsa", "twonn"])]
    assert len(pooled) and set(pooled["n"]) == {2}  # both sources in every correlation of the thesis' metrics
    per_point = table[table["level"] == "per_point"]
    assert set(per_point["group"]) == {"step0", "step1", "final"}
    figures = work / "results" / "figures"
    assert (figures / "correlation_levels.png").stat().st_size > 0 and (figures / "metrics_by_layer.png").exists()


@pytest.mark.slow
def test_vgg_out_tap_is_the_relu_of_the_logits(vgg_run):
    """The imported VGG19 checkpoint's ``out`` activations, as the metrics job extracts them, are the ReLU of its
    logits (thesis A's quirk) while its predictions stay log-probabilities."""
    from transferscope.checkpoints import load_checkpoint, model_from_checkpoint
    from transferscope.data.bundle import Bundle
    from transferscope.inference import Preprocess, extract, predict_log_probs

    work, _ = vgg_run
    model = model_from_checkpoint(load_checkpoint(work / "results" / "pretrain" / "cifar10" / "vgg19" / "seed1" /
                                                  "final.pt")).eval()
    target = Bundle.load(work / "results" / "data" / "digits3.pt")
    images, prep = target.images[:16], Preprocess.of(target)
    out = torch.from_numpy(extract(model, images, prep)["out"])
    with torch.no_grad():
        taps = model(prep(images), taps=True)
    logits = model.classifier[6](taps["fc2"])
    assert torch.allclose(out, torch.relu(logits), atol=1e-5) and (out >= 0).all()
    log_probs = predict_log_probs(model, images, prep)
    assert torch.allclose(log_probs, torch.log_softmax(logits, 1), atol=1e-5)
