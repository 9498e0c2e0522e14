"""Architectures with named layer taps, a registry, head replacement and layer freezing.

Every model has ``layer_names`` (parameterised layers in forward order), ``tap_names`` (activations returned by
``forward(x, taps=True)``) and ``head_name`` (the final classifier layer).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from transferscope.models.mnist_cnn import MnistCNN
from transferscope.models.small_resnet import SmallResNet
from transferscope.models.torchvision_models import ResNet50Taps, VGG16Taps, load_weights_file

ARCHS = {"mnist_cnn": MnistCNN, "small_resnet": SmallResNet, "vgg16": VGG16Taps, "resnet50": ResNet50Taps}


def _arch_class(arch: str):
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r} (known: {sorted(ARCHS)})")
    return ARCHS[arch]


def layer_names(arch: str) -> tuple[str, ...]:
    return _arch_class(arch).layer_names


def tap_names(arch: str) -> tuple[str, ...]:
    return _arch_class(arch).tap_names


def build_model(arch: str, n_classes: int, in_channels: int, image_size: int, weights: dict | None = None) -> nn.Module:
    """Build ``arch`` for inputs C×S×S; ``weights`` = {path, sha256} loads a local pre-trained state dict."""
    model = _arch_class(arch)(n_classes=n_classes, in_channels=in_channels, image_size=image_size)
    if weights:
        state = load_weights_file(weights["path"], weights.get("sha256"))
        if arch == "resnet50":
            state = ResNet50Taps.convert_torchvision_state(state)
        head = get_layer(model, model.head_name)
        own = model.state_dict()
        # a head of another size (e.g. ImageNet's 1000 classes) is skipped; everything else must match
        state = {k: v for k, v in state.items() if not (k in own and own[k].shape != v.shape and _is_head_key(model, k, head))}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or [k for k in missing if not _is_head_key(model, k, head)]:
            raise ValueError(f"weights file {weights['path']} does not fit {arch}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model


def _is_head_key(model: nn.Module, key: str, head: nn.Module) -> bool:
    return any(key == f"{name}.{p}" for name, mod in model.named_modules() if mod is head for p in ("weight", "bias"))


def get_layer(model: nn.Module, name: str) -> nn.Module:
    if hasattr(model, "named_layer"):
        return model.named_layer(name)
    if name not in model.layer_names:
        raise ValueError(f"{type(model).__name__} has no layer {name!r} (layers: {model.layer_names})")
    return getattr(model, name)


def reinit_layers(model: nn.Module, names: list[str], n_classes: int, generator_seed: int) -> None:
    """Re-initialise the named layers (``head`` = the final classifier) with fresh weights from a fixed seed.

    The head is rebuilt with ``n_classes`` outputs.
    """
    names = [model.head_name if n == "head" else n for n in names]
    if model.head_name not in names:
        names.append(model.head_name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(generator_seed)
        for name in names:
            layer = get_layer(model, name)
            if name == model.head_name:
                new = nn.Linear(layer.in_features, n_classes)
                _set_layer(model, name, new)
            else:
                for module in layer.modules():
                    if hasattr(module, "reset_parameters"):
                        module.reset_parameters()


def _set_layer(model: nn.Module, name: str, new: nn.Module) -> None:
    if isinstance(model, VGG16Taps) and name == "fc3":
        model.classifier[6] = new
        model._layers["fc3"] = new
    else:
        setattr(model, name, new)


def freeze_prefix(model: nn.Module, upto: str | None) -> list[str]:
    """Freeze all layers up to and including ``upto`` (None: freeze nothing); return the frozen layer names.

    Frozen layers keep requires_grad=False and are put in eval mode by ``train_mode``.
    """
    if upto is None:
        return []
    if upto not in model.layer_names:
        raise ValueError(f"cannot freeze up to {upto!r}: {type(model).__name__} layers are {model.layer_names}")
    frozen = list(model.layer_names[: model.layer_names.index(upto) + 1])
    for name in frozen:
        for p in get_layer(model, name).parameters():
            p.requires_grad_(False)
    model._frozen_layers = frozen
    return frozen


def train_mode(model: nn.Module) -> None:
    """model.train(), but frozen layers (BatchNorm statistics, dropout) stay in eval mode."""
    model.train()
    for name in getattr(model, "_frozen_layers", []):
        get_layer(model, name).eval()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["ARCHS", "build_model", "layer_names", "tap_names", "reinit_layers", "freeze_prefix", "train_mode",
           "get_layer", "count_parameters"]
