"""Our correlations next to a thesis' published ones: the table the README's reproduction section is copied from.

The config's ``analysis.reference`` holds published Spearman ρ values per (target, metric, layer) for one outcome
and level (thesis A: ρ against the fine-tuning AUC across all models); each becomes one row with our value at the
same place of ``transferability.csv``, its n, band and significance, and whether the two signs agree.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["target", "arch", "metric", "layer", "outcome", "level", "mode", "ours", "n", "band", "significant", "reference",
           "same_sign", "reference_label"]


def reference_comparison(transferability: pd.DataFrame, reference: dict) -> pd.DataFrame:
    """One row per reference value (``reference["values"][target][metric][layer]``), in that order.

    ``same_sign`` is NaN where ours is undefined (e.g. a constant metric). ``mode`` / ``arch`` None: the first in
    sorted order, as the figures do."""
    spearman = transferability[(transferability["statistic"] == "spearman")
                               & (transferability["level"] == reference.get("level", "all"))
                               & (transferability["outcome"] == reference.get("outcome", "auc"))]
    mode = reference.get("mode") or (sorted(spearman["mode"].unique())[0] if len(spearman) else None)
    arch = reference.get("arch") or (sorted(spearman["arch"].unique())[0] if len(spearman) else None)
    spearman = spearman[(spearman["mode"] == mode) & (spearman["arch"] == arch)]
    spearman = spearman[spearman["group"].fillna("").astype(str) == ""].set_index(["target", "metric", "layer"])
    rows = []
    for target, by_metric in reference.get("values", {}).items():
        for metric, by_layer in by_metric.items():
            for layer, value in by_layer.items():
                ours = spearman.loc[(target, metric, layer)] if (target, metric, layer) in spearman.index else None
                rho = float(ours["value"]) if ours is not None else np.nan
                rows.append({
                    "target": target, "arch": arch, "metric": metric, "layer": layer,
                    "outcome": reference.get("outcome", "auc"),
                    "level": reference.get("level", "all"), "mode": mode, "ours": rho,
                    "n": ours["n"] if ours is not None else np.nan,
                    "band": ours["band"] if ours is not None else np.nan,
                    "significant": ours["significant"] if ours is not None else np.nan,
                    "reference": float(value),
                    "same_sign": bool(np.sign(rho) == np.sign(value)) if np.isfinite(rho) else np.nan,
                    "reference_label": reference.get("label", ""),
                })
    return pd.DataFrame(rows, columns=COLUMNS)
