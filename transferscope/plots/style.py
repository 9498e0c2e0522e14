"""Shared figure styling and saving (styling options come from the config's ``figures:`` section)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from transferscope.io import atomic_path  # noqa: E402


def apply_style(style: dict | None) -> dict:
    style = {"format": "png", "dpi": 120, "style": "whitegrid", "palette": "colorblind", **(style or {})}
    sns.set_theme(style=style["style"], palette=style["palette"])
    return style


def save(fig, path: str | Path, style: dict) -> None:
    """Save atomically in the format given by the file name."""
    fmt = Path(path).suffix.lstrip(".") or style["format"]
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=style["dpi"], format=fmt, bbox_inches="tight")
    plt.close(fig)
