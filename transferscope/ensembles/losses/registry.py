"""The registry of loss terms an ensemble member's cycles may add to cross-entropy (one place per name).

A :class:`LossTerm` knows everything the rest of the package asks about it:

- ``name``: its config section under ``ensembles`` (``ensembles.mse``), its key in a member spec and the method
  field ``EnsembleMethod.term`` that switches it on;
- ``compute(inputs, options)``: the unweighted value on one batch (a 0-d tensor with gradient to the live model),
  or None when it has nothing to compare with yet (WO and CE for member 2: no earlier non-first member);
  :class:`~transferscope.ensembles.losses.member.MemberLoss` adds ``options["beta"] · value``;
- ``options``: the JSON-schema properties of its config section (defaults, descriptions): the schema's
  ``ensembles.<name>`` is built from them (``transferscope.config.registry_sections``), and a variant may override
  any of them (``sse_mse[beta=5]``);
- ``needs(options)``: what the member job must load for it (:data:`NEEDS`);
- ``check(options, ens)``: config problems only this term can see (RTD's points against the batch size).

Adding a term = a module with its compute function and options, one line in :data:`TERMS`, a test; a method that
uses it is one ``EnsembleMethod`` line with ``term=<name>`` (``transferscope/ensembles/plan.py``).
"""
from __future__ import annotations

from transferscope.ensembles.losses import diversity, similarity, weight_orthogonality
from transferscope.ensembles.losses.term import NEEDS, LossTerm, TermInputs, defaults  # noqa: F401 - the API
from transferscope.registries import add, lookup

TERMS: dict[str, LossTerm] = {}


# Names a term may not take: the member spec's fields and the ensembles section's own keys (a term's name is its
# config section and its key in a member spec).
RESERVED = ("method", "k", "member_seed", "role", "recipe", "pretrain_seed", "reinit", "weights", "checkpoint",
            "start", "terms", "freeze", "members", "cycle_lr", "cycle_epochs", "level", "enabled", "targets",
            "source", "arch", "seeds", "global_seeds", "replicates", "methods", "trajectory", "variance", "reference")


def register(term: LossTerm) -> LossTerm:
    """Add a term (a second, different term under one name is an error, and so is a reserved name)."""
    if term.name in RESERVED:
        raise ValueError(f"a loss term may not be named {term.name!r}: the member spec or the ensembles section "
                         "uses that key")
    unknown = set(term.needs(defaults(term))) - set(NEEDS)
    if unknown:
        raise ValueError(f"loss term {term.name!r} needs {sorted(unknown)}; a member job can load {list(NEEDS)}")
    return add(TERMS, term.name, term, "loss term")


def term(name: str) -> LossTerm:
    return lookup(TERMS, name, "loss term")


def spec_needs(spec: dict) -> set[str]:
    """Everything the terms a member spec switches on need."""
    return {need for name, t in TERMS.items() if name in spec for need in t.needs(spec[name])}


# One line per term. The order is the order the terms are computed and summed in (and draw from the loss's
# generator in), so it is part of every member's weights.
register(similarity.MSE_TERM)
register(similarity.RTD_TERM)
register(weight_orthogonality.WO_TERM)
register(diversity.CE_TERM)
