import pytest
import torch

from transferscope.models import build_model, count_parameters, freeze_prefix, layer_names, reinit_layers, tap_names, train_mode


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


def test_vgg16_taps_small_input():
    model = build_model("vgg16", 5, 3, 32).eval()
    out = model(torch.randn(1, 3, 32, 32), taps=True)
    assert tuple(out) == tap_names("vgg16") and out["out"].shape == (1, 5)


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
    from transferscope.models.torchvision_models import sha256_of

    model = build_model("small_resnet", 4, 1, 16)
    path = tmp_path / "w.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(ValueError, match="sha256"):
        build_model("small_resnet", 4, 1, 16, weights={"path": str(path), "sha256": "0" * 64})
    loaded = build_model("small_resnet", 4, 1, 16, weights={"path": str(path), "sha256": sha256_of(path)})
    assert torch.equal(loaded.fc.weight, model.fc.weight)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        build_model("small_resnet", 4, 1, 16, weights={"path": str(tmp_path / "nope.pt")})
