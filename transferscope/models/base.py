"""What every architecture of the registry provides, with defaults for models whose layers are attributes.

A model class declares (through its ``transferscope.models.specs`` entry) ``layer_names`` (parameterised layers
in forward order; ``layer_aliases`` name some of them by role), ``tap_names`` (activations returned by
``forward(x, taps=True)``, followed there by ``specs.PREDICTION``), ``stage_taps`` (the conv-map taps that end the architecture's stages: thesis B
measures each stage's output, globally average-pooled, along an ensemble's members) and ``head_name`` (the final
classifier layer, an ``nn.Linear``). It owns the mapping
from these names to its modules (:meth:`named_layer`, :meth:`set_layer`), the head (:meth:`replace_head`,
:meth:`head_state_keys`) and the conversion of foreign state dicts (:meth:`convert_state_dict`), so code outside
the class never asks which architecture it holds.
"""
from __future__ import annotations

import torch.nn as nn


class TapModel(nn.Module):
    layer_names: tuple[str, ...] = ()
    layer_aliases: dict[str, str] = {}
    tap_names: tuple[str, ...] = ()
    stage_taps: tuple[str, ...] = ()  # a subset of tap_names, in forward order; every one a B×C×H×W map
    head_name: str = ""

    def __init_subclass__(cls, arch: str | None = None, **kwargs):
        """``class X(TapModel, arch="name")`` takes its names from ``transferscope.models.specs.ARCHS[name]``."""
        super().__init_subclass__(**kwargs)
        if arch is not None:
            from transferscope.models.specs import ARCHS

            spec = ARCHS[arch]
            cls.layer_names, cls.tap_names = spec.layer_names, spec.tap_names
            cls.stage_taps, cls.head_name = spec.stage_taps, spec.head_name
            cls.layer_aliases = dict(spec.aliases)

    def resolve_layer(self, name: str) -> str:
        """The layer ``name`` stands for (an alias such as VGG's ``last_conv`` -> its layer; else ``name``)."""
        return self.layer_aliases.get(name, name)

    def named_layer(self, name: str) -> nn.Module:
        name = self.resolve_layer(name)
        if name not in self.layer_names:
            raise ValueError(f"{type(self).__name__} has no layer {name!r} (layers: {self.layer_names})")
        return getattr(self, name)

    def set_layer(self, name: str, module: nn.Module) -> None:
        """Put ``module`` in place of the layer ``name``."""
        self.named_layer(name)  # validates the name
        setattr(self, self.resolve_layer(name), module)

    def replace_head(self, n_classes: int) -> nn.Module:
        """A freshly initialised head with ``n_classes`` outputs (draws from the global RNG); returns it."""
        new = nn.Linear(self.named_layer(self.head_name).in_features, n_classes)
        self.set_layer(self.head_name, new)
        return new

    def head_state_keys(self) -> set[str]:
        """State-dict keys of the head's weight and bias."""
        head = self.named_layer(self.head_name)
        return {f"{name}.{p}" for name, mod in self.named_modules() if mod is head for p in ("weight", "bias")}

    @classmethod
    def convert_state_dict(cls, state: dict) -> dict:
        """A state dict of the reference implementation (e.g. torchvision's) with this class's keys; identity here."""
        return state
