"""Architectures with named layer taps, a registry, head replacement and layer freezing.

``ARCHS`` is the registry (name -> :class:`~transferscope.models.specs.ArchSpec`: layer, tap and stage names and
the class), readable without torch (the Snakefile validates configs against it). Every class derives from
:class:`~transferscope.models.base.TapModel` and takes its names from its spec; it owns head replacement and the
conversion of foreign state dicts. Adding an architecture = one module with its class + one entry in
``transferscope/models/specs.py`` + a test.
"""
from __future__ import annotations

from transferscope.lazy import lazy_module
from transferscope.models.specs import ARCHS, PREDICTION, ArchSpec

torch = lazy_module("torch")
PENULTIMATE = "penultimate"  # analysis.layers: each architecture's tap before its head


def __getattr__(name: str):  # PEP 562: the torch class loads on first use, not when the registry is read
    if name == "TapModel":
        from transferscope.models.base import TapModel

        return TapModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def arch_spec(arch: str) -> ArchSpec:
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r} (known: {sorted(ARCHS)})")
    return ARCHS[arch]


def arch_class(arch: str) -> type:
    """The ``TapModel`` subclass of ``arch`` (imports torch)."""
    return arch_spec(arch).model_class()


def layer_names(arch: str) -> tuple[str, ...]:
    return arch_spec(arch).layer_names


def layer_problem(arch: str, name: str) -> str | None:
    """Why ``name`` names no layer of ``arch`` (None when it is a layer or an alias of one, e.g. ``last_conv``)."""
    spec = arch_spec(arch)
    if spec.names_layer(name):
        return None
    aliases = f"; aliases {[alias for alias, _ in spec.aliases]}" if spec.aliases else ""
    return f"not a layer of {arch} ({spec.layer_names}{aliases})"


def tap_names(arch: str) -> tuple[str, ...]:
    return arch_spec(arch).tap_names


def metric_taps(arch: str, names: list[str] | None) -> tuple[str, ...] | None:
    """The taps of ``arch`` that config ``analysis.layers`` names (None: every tap); ``penultimate`` is the tap that
    feeds the head. Raises ValueError naming an unknown tap."""
    if names is None:
        return None
    spec = arch_spec(arch)
    taps = [spec.penultimate if name == PENULTIMATE else name for name in names]
    unknown = [tap for tap in taps if tap not in spec.tap_names]
    if unknown:
        raise ValueError(f"{unknown} not taps of {arch} ({spec.tap_names}, or {PENULTIMATE!r})")
    return tuple(dict.fromkeys(taps))


def stage_taps(arch: str) -> tuple[str, ...]:
    """The conv-map taps ending ``arch``'s stages, in forward order (what ensemble members save pooled)."""
    return arch_spec(arch).stage_taps


def build_model(arch: str, n_classes: int, in_channels: int, image_size: int) -> TapModel:
    """``arch`` for inputs C×S×S with ``n_classes`` outputs, freshly initialised from the global RNG.

    Pre-trained weights from a file: ``transferscope.checkpoints.model_from_weights_file``."""
    return arch_class(arch)(n_classes=n_classes, in_channels=in_channels, image_size=image_size)


def layer_state_keys(model: TapModel, names) -> set[str]:
    """State-dict keys of the named layers' parameters and buffers (``head``: the classifier)."""
    prefix = {id(module): name for name, module in model.named_modules()}
    keys = set()
    for name in names:
        layer = get_layer(model, model.head_name if name == "head" else name)
        for module in layer.modules():
            if id(module) in prefix:
                keys |= {f"{prefix[id(module)]}.{key}" for key in module.state_dict(keep_vars=True)
                         if "." not in key}
    return keys


def load_pretrained_state(model: TapModel, state: dict, origin: str, skip=()) -> None:
    """Load a pre-trained state dict (in the reference implementation's key names) into ``model``.

    Head weights that do not fit (e.g. ImageNet's 1000 classes) are skipped and keep their initialisation, and so
    are the layers named in ``skip`` (a file whose classifier has other shapes: a CIFAR VGG19's 512-wide one);
    every other key must match. ``origin`` (a path) names the source in errors.
    """
    state = type(model).convert_state_dict(state)
    head_keys = model.head_state_keys()
    skipped = layer_state_keys(model, skip)
    own = model.state_dict()
    state = {k: v for k, v in state.items()
             if k not in skipped and not (k in head_keys and (k not in own or own[k].shape != v.shape))}
    missing, unexpected = model.load_state_dict(state, strict=False)
    unexpected = [k for k in unexpected if not _under(k, skipped)]
    if unexpected or [k for k in missing if k not in head_keys and k not in skipped]:
        raise ValueError(f"weights file {origin} does not fit {type(model).__name__}: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")


def _under(key: str, skipped: set[str]) -> bool:
    """Whether ``key`` lies in the top-level container of a skipped layer (``classifier``): a file's keys there may
    be numbered otherwise (a CIFAR VGG19's ``classifier.1`` is torchvision's ``classifier.0``)."""
    return key.split(".", 1)[0] in {k.split(".", 1)[0] for k in skipped}


def get_layer(model: TapModel, name: str) -> nn.Module:
    return model.named_layer(name)


def reinit_layers(model: TapModel, names: list[str], n_classes: int, generator_seed: int) -> None:
    """Re-initialise the named layers (``head`` = the final classifier) with fresh weights from a fixed seed.

    The head is rebuilt with ``n_classes`` outputs.
    """
    names = [model.head_name if n == "head" else model.resolve_layer(n) for n in names]
    if model.head_name not in names:
        names.append(model.head_name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(generator_seed)
        for name in names:
            if name == model.head_name:
                model.replace_head(n_classes)
            else:
                for module in get_layer(model, name).modules():
                    if hasattr(module, "reset_parameters"):
                        module.reset_parameters()


def freeze_prefix(model: nn.Module, upto: str | None) -> list[str]:
    """Freeze all layers up to and including ``upto`` (a layer or an alias; None: freeze nothing); return the frozen
    layer names.

    Frozen layers keep requires_grad=False and are put in eval mode by ``train_mode``.
    """
    if upto is None:
        return []
    upto = model.resolve_layer(upto)
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


__all__ = ["ARCHS", "ArchSpec", "TapModel", "arch_spec", "arch_class", "build_model", "layer_names", "layer_problem", "tap_names", "stage_taps",
           "metric_taps", "PENULTIMATE", "PREDICTION",
           "load_pretrained_state", "reinit_layers", "freeze_prefix", "train_mode", "get_layer", "count_parameters"]
