import copy
import os

import pytest
import yaml

from transferscope.config import ConfigError, load_config, mode_from_token, mode_token, used_datasets, validate_config

from conftest import REPO


def base():
    with open(os.path.join(REPO, "config.yaml")) as fh:
        return yaml.safe_load(fh)


def test_default_config_is_valid_and_defaults_filled():
    cfg = validate_config(base())
    assert cfg["pretrain"]["recipe"]["schedule"] == "constant"  # default filled in
    assert cfg["finetune"]["recipe"]["augment"] == {"translate": 0, "hflip": False}
    assert cfg["datasets"]["digits04"]["split"] == {"test": 0.2, "val": 0.1, "seed": 0}
    assert used_datasets(cfg)[:4] == cfg["sources"]


def test_configs_directory_valid():
    for name in sorted(os.listdir(os.path.join(REPO, "configs"))):
        if name.endswith(".yaml"):
            load_config(os.path.join(REPO, "configs", name))


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c: c["pretrain"]["recipe"].__setitem__("epochs", -1), "pretrain.recipe.epochs"),
        (lambda c: c["pretrain"]["recipe"].__setitem__("lr", "fast"), "pretrain.recipe.lr"),
        (lambda c: c.__setitem__("seeds", "one"), "seeds"),
        (lambda c: c.__setitem__("archs", ["alexnet"]), "archs[0]"),
        (lambda c: c.__setitem__("colour", "red"), "colour"),
        (lambda c: c["finetune"].__setitem__("epochz", 3), "epochz"),
        (lambda c: c["sources"].append("imagenet"), "sources[4]"),
        (lambda c: c["datasets"]["digits04"].__setitem__("source", "emnist"), "datasets.digits04.source"),
        (lambda c: c["datasets"]["digits04"]["derive"].append({"op": "blur"}), "datasets.digits04.derive[1]"),
        (lambda c: c["datasets"]["digits04"]["derive"].append({"op": "resize"}), "datasets.digits04.derive[1]"),
        (lambda c: c["finetune"].__setitem__("modes", ["freeze:conv9"]), "finetune.modes[0]"),
        (lambda c: c["finetune"].__setitem__("reinit", ["fc1", "conv9"]), "finetune.reinit[1]: 'conv9' is not a layer"),
        (lambda c: c["finetune"].__setitem__("modes", ["freeze:last_conv"]), "finetune.modes[0]"),  # a VGG alias
        (lambda c: c["finetune"].__setitem__("scratch_arch", "vgg16"), "finetune.scratch_arch: 'vgg16' is not one of"),
        (lambda c: c.__setitem__("device", "tpu"), "device"),
        (lambda c: c["analysis"].__setitem__("layers", ["penultimate", "pool9"]), "analysis.layers"),
    ],
)
def test_bad_config_names_the_key(edit, key):
    cfg = base()
    edit(cfg)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    assert key in str(info.value)


def test_vgg_layer_aliases_name_each_architecture_s_own_layer():
    """Thesis A's surgery by role: in VGG16 / VGG16-BN the last conv is conv5_3, in VGG19 conv5_4; the aliases are
    accepted wherever a layer is named and rejected for an architecture without them, listing those it has."""
    from transferscope.models import arch_spec, layer_problem

    assert [arch_spec(a).resolve_layer("last_conv") for a in ("vgg16", "vgg16_bn", "vgg19")] == \
        ["conv5_3", "conv5_3", "conv5_4"]
    assert [arch_spec(a).resolve_layer("below_last_conv") for a in ("vgg16", "vgg19")] == ["conv5_2", "conv5_3"]
    assert layer_problem("vgg19", "last_conv") is None and layer_problem("vgg19", "conv5_4") is None
    assert "aliases ['last_conv', 'below_last_conv']" in layer_problem("vgg16", "conv5_4")
    assert layer_problem("mnist_cnn", "last_conv").startswith("not a layer of mnist_cnn")


def test_validation_does_not_alias_defaults():
    a, b = validate_config(base()), validate_config(base())
    a["pretrain"]["recipe"]["augment"]["translate"] = 3
    assert b["pretrain"]["recipe"]["augment"]["translate"] == 0


def test_mode_tokens_round_trip():
    for mode in ["full", "linear", "freeze:conv2"]:
        assert mode_from_token(mode_token(mode)) == mode
    assert mode_token("freeze:conv2") == "freeze-conv2"


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_deepcopy_safe():
    cfg = validate_config(copy.deepcopy(base()))
    assert validate_config(copy.deepcopy(cfg)) == cfg


def test_key_order_does_not_matter():
    cfg = base()
    reordered = {k: cfg[k] for k in reversed(list(cfg))}
    reordered["datasets"] = {k: dict(reversed(list(v.items()))) for k, v in cfg["datasets"].items()}
    a, b = validate_config(cfg), validate_config(reordered)
    assert repr(a) == repr(b)
