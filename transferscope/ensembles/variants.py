"""Ensemble method variants named by what shapes them: ``sse_mse[beta=20]``, ``starsse[cycle_lr=0.1,cycle_epochs=3]``.

An entry of ``ensembles.methods`` is a method name (the ``ensembles`` section's values) or a method name with
hyperparameter overrides in brackets; the entry, written back in one canonical form (keys sorted, values in YAML
spelling), is the variant's name: its output directory and its label in every table and figure. So a β sweep is a
list of entries, each with its own results, and adding one variant leaves the others' files alone.

Which keys a variant may set: ``members`` (every method), ``cycle_lr``, ``cycle_epochs`` (cycle methods) and the
keys of the method's own config section (``mse``: beta; ``rtd``: beta, card, p, points; ``wo``: beta, detached, form;
``ce``: beta, version; ``freeze``: level, bn_frozen, cycle_lr).

``members`` is the one key that does not shape a member's weights: member k of ``starsse[members=15]`` is member k
of ``starsse`` (each cycle's recipe and seed depend on k, never on K). So it changes how many members a run has,
not where they live: :func:`directory_name` drops it, and a 15-member run reuses the 5-member run's files.
"""
from __future__ import annotations

import re

import yaml

from transferscope.names import METHOD

VARIANT = re.compile(rf"^(?P<method>{METHOD})(?:\[(?P<overrides>[^\[\]]*)\])?$")
CYCLE_KEYS = ("cycle_lr", "cycle_epochs")
COUNT_KEYS = ("members",)  # how many members a run has: part of the variant's name, not of its members' directory


class VariantError(ValueError):
    """A malformed variant name or an override the method does not have (the message names the entry)."""


def _value(text: str):
    value = yaml.safe_load(text) if text.strip() else None
    if isinstance(value, (dict, list)):
        raise VariantError(f"override value {text!r} must be a number, boolean, string or null")
    if isinstance(value, float) and value.is_integer():
        return int(value)  # beta=5 and beta=5.0 are one variant, with one name and one params text
    return value


def _spell(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def parse_variant(entry: str) -> tuple[str, dict]:
    """'sse_mse[beta=20]' -> ('sse_mse', {'beta': 20}); 'sse' -> ('sse', {})."""
    match = VARIANT.match(entry.strip())
    if not match:
        raise VariantError(f"{entry!r} is not a method name or method[key=value,...]")
    overrides: dict = {}
    text = match.group("overrides")
    if text is not None:
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise VariantError(f"{entry!r}: {item!r} is not key=value")
            if key.strip() in overrides:
                raise VariantError(f"{entry!r}: {key.strip()!r} is set twice")
            overrides[key.strip()] = _value(value)
        if not overrides:
            raise VariantError(f"{entry!r}: empty brackets (write the method name alone)")
    return match.group("method"), overrides


def variant_name(method: str, overrides: dict) -> str:
    """The canonical name: the method, then its overrides sorted by key ('sse_mse[beta=20]')."""
    if not overrides:
        return method
    return f"{method}[{','.join(f'{key}={_spell(overrides[key])}' for key in sorted(overrides))}]"


def directory_name(method: str, overrides: dict) -> str:
    """Where a variant's members live: its name without the count keys (``starsse[members=15]`` -> ``starsse``)."""
    return variant_name(method, {k: v for k, v in overrides.items() if k not in COUNT_KEYS})


def allowed_keys(section: str | None, section_keys: list[str], cycles: bool) -> list[str]:
    """Keys a variant of a method may set: ``members``, its section's keys, and the cycle keys for cycle methods."""
    keys = list(section_keys) if section else []
    if section == "freeze":
        keys = ["level"] + [k for k in keys if k != "levels"]
    return [*COUNT_KEYS] + keys + [k for k in CYCLE_KEYS if cycles and k not in keys]


def apply_overrides(ens: dict, section: str | None, overrides: dict) -> dict:
    """A copy of the ``ensembles`` section with a variant's overrides in place (cycle keys at the top level, the
    others in the method's section; ``freeze.level`` becomes the one entry of ``freeze.levels``)."""
    out = {key: (dict(value) if isinstance(value, dict) else value) for key, value in ens.items()}
    for key, value in overrides.items():
        if section == "freeze" and key == "level":
            out["freeze"]["levels"] = [value]
        elif section and key in out.get(section, {}):  # freeze has its own cycle_lr
            out[section][key] = value
        else:
            out[key] = value
    return out
