"""Adding to and reading from the package's name registries (dicts name -> entry): one duplicate check and one
"unknown name" message for every registry (sources, layer metrics, ...)."""
from __future__ import annotations

from typing import TypeVar

Entry = TypeVar("Entry")


def add(registry: dict[str, Entry], name: str, entry: Entry, kind: str) -> Entry:
    """Register ``entry`` under ``name``; a second, different entry under the same name is an error."""
    if name in registry and registry[name] is not entry:
        raise ValueError(f"a {kind} named {name!r} is already registered")
    registry[name] = entry
    return entry


def lookup(registry: dict[str, Entry], name: str, kind: str) -> Entry:
    """The entry ``name``; an unknown name is an error that lists the known ones."""
    if name not in registry:
        raise ValueError(f"unknown {kind} {name!r} (known: {sorted(registry)})")
    return registry[name]
