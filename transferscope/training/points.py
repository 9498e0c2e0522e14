"""Points in training: ``step0`` (untrained), ``stepN`` (after N optimizer steps), ``epochN``, ``final``."""
from __future__ import annotations

import re

from transferscope.names import POINT, anchored

_POINT = re.compile(anchored(POINT))
_KIND = re.compile(r"(step|epoch)([0-9]+)")


def parse_point(point: str) -> tuple[str, int | None]:
    """'step10' -> ('step', 10); 'epoch3' -> ('epoch', 3); 'final' -> ('final', None)."""
    if not _POINT.match(point):
        raise ValueError(f"bad training point {point!r}: use stepN, epochN or final")
    if point == "final":
        return "final", None
    kind, n = _KIND.fullmatch(point).groups()
    return kind, int(n)


def point_step(point: str, steps_per_epoch: int, epochs: int) -> int:
    """Global optimizer step at which ``point`` is reached."""
    kind, n = parse_point(point)
    if kind == "final":
        return steps_per_epoch * epochs
    if kind == "epoch":
        if n > epochs:
            raise ValueError(f"point {point} lies beyond the {epochs} epochs of training")
        return steps_per_epoch * n
    if n > steps_per_epoch * epochs:
        raise ValueError(f"point {point} lies beyond the {steps_per_epoch * epochs} optimizer steps of training")
    return n


def sort_points(points: list[str], steps_per_epoch: int, epochs: int) -> list[str]:
    """Points ordered by the step at which they occur (ties keep config order)."""
    return sorted(points, key=lambda p: point_step(p, steps_per_epoch, epochs))
