import pytest
import torch

from transferscope.checkpoints import load_weights_file, model_from_weights_file, sha256_of
from transferscope.models import (ARCHS, PREDICTION, TapModel, arch_class, build_model, count_parameters, freeze_prefix, get_layer,
                                  layer_names, reinit_layers, tap_names, train_mode)


def test_mnist_cnn_matches_thesis():
    model = build_model("mnist_cnn", 10, 1, 28)
    assert count_parameters(model) == 225_034
    out = model.eval()(torch.zeros(3, 1, 28, 28), taps=True)
    flat = {k: v.flatten(1).shape[1] for k, v in out.items() if k != PREDICTION}
    assert flat == {"in": 784, "conv1": 21_632, "pool1": 5_408, "conv2": 7_744, "pool2": 1_600, "fc1": 128, "out": 10}
    assert torch.allclose(out["out"].exp().sum(1), torch.ones(3))


@pytest.mark.parametrize("arch, shape", [("small_resnet", (1, 28, 28)), ("small_resnet", (3, 16, 16))])
def test_small_resnet_taps(arch, shape):
    model = build_model(arch, 7, shape[0], shape[1]).eval()
    out = model(torch.randn(2, *shape), taps=True)
    assert tuple(out) == (*tap_names(arch), PREDICTION) and out[PREDICTION] is out["out"]
    assert out["pool"].shape == (2, 64) and out["out"].shape == (2, 7)


def test_vgg16_taps_small_input_and_head_replacement():
    model = build_model("vgg16", 5, 3, 32).eval()
    out = model(torch.randn(1, 3, 32, 32), taps=True)
    assert tuple(out) == (*tap_names("vgg16"), PREDICTION) and out["out"].shape == (1, 5)
    assert model.head_state_keys() == {"classifier.6.weight", "classifier.6.bias"}
    new = model.replace_head(2)  # the head lives in model.classifier, not in an attribute of its own
    assert model.classifier[6] is new and get_layer(model, "fc3") is new
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 2)


VGG_TAP_SHAPES = {"in": (2, 3, 32, 32), "pool1": (2, 64, 16, 16), "pool2": (2, 128, 8, 8), "pool3": (2, 256, 4, 4),
                  "pool4": (2, 512, 2, 2), "pool5": (2, 512, 1, 1), "fc1": (2, 4096), "fc2": (2, 4096), "out": (2, 5)}


@pytest.mark.parametrize("arch, n_convs, bn", [("vgg19", 16, False), ("vgg16_bn", 13, True)])
def test_vgg19_and_vgg16_bn_taps_layers_and_reinit(arch, n_convs, bn):
    """Thesis A's VGG16 half: VGG19 (CIFAR-10) and VGG16-BN (SegNet's encoder) with vgg16's taps (``out`` the ReLU
    of the logits, as thesis A took it; the prediction the log-softmax); thesis A's re-initialisation (the last
    conv -- VGG19's conv5_4, VGG16-BN's conv5_3 -- fc1, fc2, head) leaves the earlier convs as they were."""
    torch.manual_seed(0)
    model = build_model(arch, 5, 3, 32).eval()
    out = model(torch.randn(2, 3, 32, 32), taps=True)
    assert tuple(out) == (*tap_names(arch), PREDICTION) and tap_names(arch) == tap_names("vgg16")
    assert {k: tuple(v.shape) for k, v in out.items() if k != PREDICTION} == VGG_TAP_SHAPES
    assert torch.allclose(out[PREDICTION].exp().sum(1), torch.ones(2))
    assert torch.equal(out["out"], torch.relu(model.classifier[6](out["fc2"])))
    assert torch.equal(out[PREDICTION], model(out["in"]))
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == n_convs and len(layer_names(arch)) == n_convs + 3
    last = "conv5_4" if arch == "vgg19" else "conv5_3"
    assert layer_names(arch)[n_convs - 1] == last
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.features) == (n_convs if bn else 0)
    at = layer_names(arch).index(last)  # thesis A re-initialises the last conv
    assert [get_layer(model, f"conv{i}")[0] if bn else get_layer(model, f"conv{i}") for i in ("1_1", "5_3")] == \
        [convs[0], convs[layer_names(arch).index("conv5_3")]]
    assert get_layer(model, "last_conv") is get_layer(model, last)
    conv5_3 = get_layer(model, "conv5_3")
    if bn:
        conv5_3[1].weight.data.fill_(3.0)
        conv5_3[1].running_mean.fill_(3.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    reinit_layers(model, ["last_conv", "fc1", "fc2", "head"], n_classes=4, generator_seed=1)
    after = model.state_dict()
    changed = {k for k in before if k in after and not torch.equal(before[k], after[k])}
    i = list(model.features).index(convs[at])
    expected = {f"features.{i}.weight", f"features.{i}.bias", "classifier.0.weight", "classifier.0.bias",
                "classifier.3.weight", "classifier.3.bias", "classifier.6.weight", "classifier.6.bias"}
    if bn:
        expected |= {f"features.{i + 1}.weight", f"features.{i + 1}.running_mean"}  # its BatchNorm reset too
        assert torch.equal(conv5_3[1].weight, torch.ones(512))
        assert torch.equal(conv5_3[1].running_mean, torch.zeros(512))
    assert changed == expected
    assert model.classifier[6].out_features == 4 and get_layer(model, "fc3") is model.classifier[6]
    model = build_model(arch, 5, 3, 32)
    frozen = freeze_prefix(model, "below_last_conv")  # thesis A: every conv before the last frozen
    assert frozen == list(layer_names(arch)[:n_convs - 1]) and frozen[-1] == ("conv5_3" if arch == "vgg19" else "conv5_2")


def test_vgg16_bn_freezing_a_prefix_freezes_its_batchnorms():
    with torch.device("meta"):
        model = build_model("vgg16_bn", 10, 3, 32)
    frozen = freeze_prefix(model, "below_last_conv")  # conv5_2 in VGG16-BN
    assert frozen == list(layer_names("vgg16_bn")[:12])
    bns = [m for m in model.features if isinstance(m, torch.nn.BatchNorm2d)]
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert not any(p.requires_grad for m in convs[:12] + bns[:12] for p in m.parameters())
    assert all(p.requires_grad for m in (convs[12], bns[12]) for p in m.parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())
    train_mode(model)
    assert not any(bn.training for bn in bns[:12]) and bns[12].training and model.classifier.training
    assert sum(p.numel() for p in get_layer(model, "conv1_1").parameters()) == 3 * 64 * 9 + 64 + 2 * 64


@pytest.mark.slow  # a full-size VGG saved and loaded: ~5 s each
@pytest.mark.parametrize("arch", ["vgg16", "vgg19", "vgg16_bn"])
def test_torchvision_vgg_weights_file_loads_with_every_key(tmp_path, arch):
    """A torchvision state dict (``features.0.weight``, ``features.1.running_mean``, ..., ``classifier.6``) is a
    ``pretrained:`` weights file of its arch: every key matches; a 1000-class head keeps our 10-class one."""
    import torchvision

    torch.manual_seed(0)
    state = getattr(torchvision.models, arch)(weights=None).state_dict()
    path = tmp_path / f"{arch}.pth"
    torch.save(state, path)
    model = model_from_weights_file(arch, 10, 3, 224, {"path": str(path), "sha256": sha256_of(path)})
    own = model.state_dict()
    assert set(arch_class(arch).convert_state_dict(state)) == set(own)
    for key, value in state.items():
        if not key.startswith("classifier.6."):
            assert torch.equal(own[key], value), key
    assert own["classifier.6.weight"].shape == (10, 4096)
    assert ("features.1.running_mean" in own) == (arch == "vgg16_bn")


def _forward_gmac(arch: str, in_channels: int, side: int) -> float:
    """Multiply-accumulates of one forward pass of one image with 10 classes, in 10⁹: nn.Conv2d (output size ×
    in_channels/groups × kh × kw) and nn.Linear (output size × in_features), counted by hooks on the meta device."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            total += output.numel() * module.in_channels // module.groups * kh * kw
        else:
            total += output.numel() * module.in_features

    with torch.device("meta"):
        model = build_model(arch, 10, in_channels, side)
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                module.register_forward_hook(count)
        model(torch.empty(1, in_channels, side, side))
    return total / 1e9


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_registered_forward_gmac_is_recounted(arch):
    """Every ARCHS entry's forward_gmac is its forward pass at ref_side (RGB at 224 and 32 px, grey at 28 px)."""
    spec = ARCHS[arch]
    channels = {224: 3, 32: 3, 28: 1}[spec.ref_side]
    counted = _forward_gmac(arch, channels, spec.ref_side)
    assert spec.forward_gmac == pytest.approx(counted, rel=0.02), (arch, counted)


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
    assert list(taps) == [*tap_names("mlp"), PREDICTION] == ["in", "fc1", "fc2", "out", PREDICTION]
    assert taps["fc2"].shape == (3, 128) and torch.allclose(taps["out"].exp().sum(1), torch.ones(3))
