import pytest
import torch

from transferscope.checkpoints import load_weights_file, model_from_weights_file, sha256_of
from transferscope.models import (ARCHS, TapModel, arch_class, build_model, count_parameters, freeze_prefix, get_layer,
                                  layer_names, reinit_layers, tap_names, train_mode)


def test_mnist_cnn_matches_thesis():
    model = build_model("mnist_cnn", 10, 1, 28)
    assert count_parameters(model) == 225_034
    out = model.eval()(torch.zeros(3, 1, 28, 28), taps=True)
    flat = {k: v.flatten(1).shape[1] for k, v in out.items()}
    assert flat == {"in": 784, "conv1": 21_632, "pool1": 5_408, "conv2": 7_744, "pool2": 1_600, "fc1": 128, "out": 10}
    assert torch.allclose(out["out"].exp().sum(1), torch.ones(3))


@pytest.mark.parametrize("arch, shape", [("small_resnet", (1, 28, 28)), ("small_resnet", (3, 16, 16))])
def test_small_resnet_taps(arch, shape):
    model = build_model(arch, 7, shape[0], shape[1]).eval()
    out = model(torch.randn(2, *shape), taps=True)
    assert tuple(out) == tap_names(arch)
    assert out["pool"].shape == (2, 64) and out["out"].shape == (2, 7)


def test_vgg16_taps_small_input_and_head_replacement():
    model = build_model("vgg16", 5, 3, 32).eval()
    out = model(torch.randn(1, 3, 32, 32), taps=True)
    assert tuple(out) == tap_names("vgg16") and out["out"].shape == (1, 5)
    assert model.head_state_keys() == {"classifier.6.weight", "classifier.6.bias"}
    new = model.replace_head(2)  # the head lives in model.classifier, not in an attribute of its own
    assert model.classifier[6] is new and get_layer(model, "fc3") is new
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 2)


def test_every_registered_arch_owns_its_names_head_and_conversion():
    for arch in ARCHS:
        cls = arch_class(arch)
        assert issubclass(cls, TapModel) and cls.layer_names == layer_names(arch), arch
        assert cls.head_name in cls.layer_names and cls.tap_names[0] == "in" and cls.tap_names[-1] == "out", arch
    torchvision_keys = {"conv1.weight": 1, "bn1.running_mean": 2, "layer1.0.conv1.weight": 3, "fc.bias": 4}
    assert arch_class("resnet50").convert_state_dict(torchvision_keys) == {
        "stem.0.weight": 1, "stem.1.running_mean": 2, "layer1.0.conv1.weight": 3, "fc.bias": 4}
    assert arch_class("small_resnet").convert_state_dict(torchvision_keys) is torchvision_keys


def test_reinit_head_changes_classes_and_keeps_features():
    torch.manual_seed(0)
    model = build_model("mnist_cnn", 5, 1, 28)
    conv_before = model.conv1.weight.clone()
    fc1_before = model.fc1.weight.clone()
    reinit_layers(model, ["fc1", "head"], n_classes=2, generator_seed=3)
    assert model.fc2.out_features == 2
    assert torch.equal(model.conv1.weight, conv_before)
    assert not torch.equal(model.fc1.weight, fc1_before)
    other = build_model("mnist_cnn", 5, 1, 28)
    other.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("fc2")}, strict=False)
    reinit_layers(other, ["fc1"], n_classes=2, generator_seed=3)
    assert torch.equal(other.fc1.weight, model.fc1.weight)  # seeded re-init is reproducible


def test_freeze_prefix_and_train_mode():
    model = build_model("small_resnet", 3, 1, 16)
    frozen = freeze_prefix(model, "stage1")
    assert frozen == ["stem", "stage1"]
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert all(p.requires_grad for p in model.stage2.parameters())
    train_mode(model)
    assert not model.stem[1].training and model.stage2.bn1.training
    with pytest.raises(ValueError, match="conv9"):
        freeze_prefix(model, "conv9")


def test_layer_names_registry():
    assert layer_names("mnist_cnn") == ("conv1", "conv2", "fc1", "fc2")
    with pytest.raises(ValueError, match="unknown architecture"):
        layer_names("alexnet")


def test_weights_file_checksum(tmp_path):
    model = build_model("small_resnet", 4, 1, 16)
    path = tmp_path / "w.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(ValueError, match="sha256"):
        model_from_weights_file("small_resnet", 4, 1, 16, {"path": str(path), "sha256": "0" * 64})
    loaded = model_from_weights_file("small_resnet", 4, 1, 16, {"path": str(path), "sha256": sha256_of(path)})
    assert torch.equal(loaded.fc.weight, model.fc.weight)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        model_from_weights_file("small_resnet", 4, 1, 16, {"path": str(tmp_path / "nope.pt")})


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "model_state", "state_dict+model_state"])
def test_one_weights_loader_for_every_format(tmp_path, wrap):
    """Plain, wrapped (``state_dict`` / BYOL's ``model_state``) and DataParallel (``module.``) files load alike;
    a head of another size keeps its initialisation, anything else that does not fit is an error."""
    torch.manual_seed(0)
    source = build_model("small_resnet", 10, 1, 16)  # 10 classes: the head does not fit a 4-class target
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    for key in reversed(wrap.split("+")) if wrap != "plain" else ():
        state = {key: state}
    path = tmp_path / "w.pt"
    torch.save(state, path)
    assert set(load_weights_file(path)) == set(source.state_dict())
    loaded = model_from_weights_file("small_resnet", 4, 1, 16, {"path": str(path)})
    assert torch.equal(loaded.stage3.conv2.weight, source.stage3.conv2.weight) and loaded.fc.out_features == 4
    torch.save({"stem.9.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="w.pt"):
        model_from_weights_file("small_resnet", 4, 1, 16, {"path": str(path)})


def test_mlp_matches_the_cnn_in_size_and_exposes_its_taps():
    """The zoo's third family: 234,501 parameters for 28×28 grey images and 5 classes, within 5 % of thesis A's CNN."""
    mlp, cnn = build_model("mlp", 5, 1, 28), build_model("mnist_cnn", 5, 1, 28)
    n_mlp, n_cnn = (sum(p.numel() for p in m.parameters()) for m in (mlp, cnn))
    assert (n_mlp, n_cnn) == (234_501, 224_389)
    taps = mlp(torch.rand(3, 1, 28, 28), taps=True)
    assert list(taps) == list(tap_names("mlp")) == ["in", "fc1", "fc2", "out"]
    assert taps["fc2"].shape == (3, 128) and torch.allclose(taps["out"].exp().sum(1), torch.ones(3))
