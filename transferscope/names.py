"""Patterns of the names that become path wildcards, in one place: the schema's patterns, the Snakefile's
wildcard constraints and the parsers of the package (training points, fine-tuning modes) read them from here.

Each pattern is an unanchored regular expression; ``anchored(p)`` is the full-match form used by the schema.
"""
from __future__ import annotations

import re

NAME = r"[A-Za-z0-9_]+"
"""A dataset, source, target or layer name (letters, digits, underscore: safe in paths and wildcards)."""

POINT = r"step[0-9]+|epoch[0-9]+|final"
"""A point in training: stepN (after N optimizer steps; step0 = untrained), epochN, final."""

MODE = rf"full|linear|freeze:{NAME}"
"""A fine-tuning mode as written in the config and the tables."""

MODE_TOKEN = rf"full|linear|freeze-{NAME}"
"""The same mode as written in paths (``freeze:conv2`` -> ``freeze-conv2``)."""

SEED = r"[0-9]+"

METHOD = r"[a-z][a-z0-9_]*"
"""An ensemble method's name, the head of every variant label (``sse_mse[beta=5]``, ``starsse_freeze-stage1``)."""


def anchored(pattern: str) -> str:
    return f"^({pattern})$"


def mode_token(mode: str) -> str:
    """Path-safe token of a fine-tuning mode: 'freeze:conv2' -> 'freeze-conv2'."""
    return mode.replace(":", "-")


def variant_head(label: str) -> str | None:
    """The method name a variant label starts with (``starsse[members=15]`` / ``starsse_freeze-stage1`` ->
    ``starsse`` / ``starsse_freeze``), None when it starts with none."""
    match = re.match(METHOD, label)
    return match[0] if match else None


def mode_from_token(token: str) -> str:
    return token.replace("-", ":", 1) if token.startswith("freeze-") else token
