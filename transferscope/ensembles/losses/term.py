"""A loss term of an ensemble member's cycles: what it computes, its options and what it needs (see ``registry``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable
from transferscope.lazy import lazy_module

torch = lazy_module("torch")

# What a term may need, loaded by the member job (transferscope.ensembles.members):
# features: the live model's pooled features (tap ``pool``) of the batch; reference: member 1 (eval mode, no grad),
# whose pooled features arrive as ``reference_features``; earlier_models / earlier_weights: the earlier non-first
# members 2..k−1 as models (eval mode) / flattened weights; origin_weights: member 1's flattened weights.
NEEDS = ("features", "reference", "earlier_models", "earlier_weights", "origin_weights")


@dataclass
class TermInputs:
    """One batch as a term sees it: the live ``model``, images ``x`` (B×C×H×W), labels ``y`` (B), the model's
    log-probabilities ``log_probs`` (B×K), and what the terms of the spec need (None / empty otherwise):
    ``features`` (B×d, with gradient), ``reference_features`` (B×d, member 1's, no grad), ``earlier_models``,
    ``earlier_weights`` (flat vectors), ``origin_weights``, and ``pick(n)``: an index drawn from the loss's own
    generator (the earlier member a WO / CE step compares with)."""

    model: torch.nn.Module
    x: torch.Tensor
    y: torch.Tensor
    log_probs: torch.Tensor
    pick: Callable[[int], int]
    features: torch.Tensor | None = None
    reference_features: torch.Tensor | None = None
    earlier_models: list = field(default_factory=list)
    earlier_weights: list = field(default_factory=list)
    origin_weights: torch.Tensor | None = None


@dataclass(frozen=True)
class LossTerm:
    name: str
    compute: Callable[[TermInputs, dict], torch.Tensor | None]
    options: dict
    description: str
    needs: Callable[[dict], tuple[str, ...]]
    log_name: str | None = None
    check: Callable[[dict, dict], list[str]] | None = None

    @property
    def history_name(self) -> str:
        """The term's name in a member's per-epoch loss history (``info.terms``)."""
        return self.log_name or self.name

    def schema(self) -> dict:
        """The JSON schema of its config section."""
        return {"type": "object", "additionalProperties": False, "default": {}, "description": self.description,
                "properties": self.options}


def defaults(term: LossTerm) -> dict:
    """Its options with their schema defaults."""
    return {key: sub.get("default") for key, sub in term.options.items()}
