"""Our correlations next to a thesis' published ones: the table the README's reproduction section is copied from.

The config's ``analysis.reference`` holds published Spearman ρ values per (target, metric, layer) for one outcome
and level (thesis A: ρ against the fine-tuning AUC across all models); each becomes one row with our value at the
same place of ``transferability.csv``, its n, band and significance, and whether the two signs agree.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from transferscope.tables import is_true as _flag

COLUMNS = ["target", "arch", "metric", "layer", "outcome", "level", "mode", "ours", "n", "band", "significant", "reference",
           "same_sign", "reference_label"]


def reference_comparison(transferability: pd.DataFrame, reference: dict) -> pd.DataFrame:
    """One row per reference value (``reference["values"][target][metric][layer]``), layers in forward order.

    ``same_sign`` is NaN where ours is undefined (e.g. a constant metric). ``mode`` / ``arch`` None: the first in
    sorted order, as the figures do."""
    spearman = transferability[(transferability["statistic"] == "spearman")
                               & (transferability["level"] == reference.get("level", "all"))
                               & (transferability["outcome"] == reference.get("outcome", "auc"))]
    mode = reference.get("mode") or (sorted(spearman["mode"].unique())[0] if len(spearman) else None)
    arch = reference.get("arch") or (sorted(spearman["arch"].unique())[0] if len(spearman) else None)
    spearman = spearman[(spearman["mode"] == mode) & (spearman["arch"] == arch)]
    spearman = spearman[spearman["group"].fillna("").astype(str) == ""].set_index(["target", "metric", "layer"])
    # layers in the forward order of transferability.csv (the config's mappings arrive with sorted keys)
    forward = {layer: i for i, layer in enumerate(dict.fromkeys(spearman.index.get_level_values("layer")))}
    rows = []
    for target, by_metric in reference.get("values", {}).items():
        for metric, by_layer in by_metric.items():
            for layer, value in sorted(by_layer.items(), key=lambda item: forward.get(item[0], len(forward))):
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


def markdown_table(comparison: pd.DataFrame) -> str:
    """The comparison as the README shows it: per target, one row per metric and one column per layer (reference
    order), cells "ours / reference" with ✓ where the signs agree and * where ours is beyond its null band; a last
    line counts the sign agreements."""
    lines = []
    for target, part in comparison.groupby("target", sort=False):
        layers = list(dict.fromkeys(part["layer"]))
        n, band = part["n"].dropna(), part["band"].dropna()
        lines.append(f"**{target}** (n = {int(n.iloc[0]) if len(n) else '?'} models, band ±"
                     f"{band.iloc[0]:.3f}; cell: ours / reference, ✓ same sign, * |ours| beyond the band)" if len(band)
                     else f"**{target}**")
        lines += ["", "| metric | " + " | ".join(layers) + " |", "|---" * (len(layers) + 1) + "|"]
        for metric, rows in part.groupby("metric", sort=False):
            cells = []
            for _, row in rows.set_index("layer").reindex(layers).iterrows():
                if pd.isna(row["reference"]):
                    cells.append("")
                    continue
                ours = "n/a" if pd.isna(row["ours"]) else f"{row['ours']:+.2f}"
                mark = (" ✓" if _flag(row["same_sign"]) else "") + (" *" if _flag(row["significant"]) else "")
                cells.append(f"{ours} / {row['reference']:+.2f}{mark}")
            lines.append(f"| {metric} | " + " | ".join(cells) + " |")
        agree = sum(_flag(v) for v in part["same_sign"])
        lines += ["", f"Same sign: {agree} of {len(part)}.", ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # python -m transferscope.analysis.reference results/tables/reference_comparison.csv
    import sys

    print(markdown_table(pd.read_csv(sys.argv[1])), end="")
