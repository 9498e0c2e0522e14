"""Our ensembles next to a thesis' published table: the rows the README's *Thesis B on a CPU* section prints.

The config's ``ensembles.reference`` holds a published table (thesis B's Table 4.1): per variant of ours, the text's
row name and its ``[mean, sd]`` of mean member accuracy (%), diversity (Fort et al.'s normalised disagreement × 100)
and ensemble accuracy (%), plus the text's training time relative to the baseline method (StarSSE, its reference
row). From ``ensembles.csv`` (one value per run = pre-training seed × replicate) at each variant's full size K:

- per (variant, metric): ours mean, sd (ddof 1) and n runs, and the text's mean and sd;
- the difference to the baseline, Δ = variant − baseline, *paired by run* (both share member 1 and every random
  stream of the run): its mean, sd and number of runs (``delta_n``); ``beyond_2sd`` where |mean Δ| > 2 sd (our
  difference stands out of the run-to-run spread); the text's Δ from its means, ``text_beyond_2sd`` where it exceeds
  twice its sd √(sd_method² + sd_baseline²) (the text gives unpaired sds only), and whether the two signs agree (NaN
  for the baseline or where either Δ is 0 or undefined);
- time rows (metric ``time_vs_<baseline>`` and ``time_vs_local_de``): training time of all K members (member 1
  included) over the other method's, paired by run, with the text's fraction where it gives one.

Absolute numbers are not comparable (another dataset, network and scale); signs of Δ are what a CPU replica can
test.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from transferscope.ensembles.evaluate import mean_sd_text
from transferscope.tables import is_true as _flag

COLUMNS = ["target", "method", "text_row", "baseline", "metric", "ours_mean", "ours_sd", "n", "text_mean", "text_sd",
           "delta_mean", "delta_sd", "delta_n", "beyond_2sd", "text_delta", "text_beyond_2sd", "same_sign",
           "reference_label"]
# our metric in ensembles.csv -> (reference key, factor to the text's unit)
METRICS = {"mean_member_acc": ("member_acc", 100.0), "diversity": ("diversity", 1.0), "ens_acc": ("ens_acc", 100.0)}
TIME_METRIC = "train_seconds"
DE = "local_de"


def _pair(value) -> tuple[float, float]:
    """A reference cell: ``[mean, sd]`` or a bare mean (sd NaN)."""
    if isinstance(value, (list, tuple)):
        return float(value[0]), float(value[1]) if len(value) > 1 and value[1] is not None else np.nan
    return float(value), np.nan


def full_size_values(table: pd.DataFrame) -> pd.DataFrame:
    """ensembles.csv at each (target, method)'s largest k: index (target, method, seed, replicate), one column per
    metric of METRICS and TIME_METRIC, in the text's units."""
    largest = table.groupby(["target", "method"])["k"].transform("max")
    sub = table[(table["k"] == largest) & table["metric"].isin([*METRICS, TIME_METRIC])]
    wide = sub.pivot_table(index=["target", "method", "seed", "replicate"], columns="metric", values="value")
    for metric, (_, factor) in METRICS.items():
        if metric in wide:
            wide[metric] = wide[metric] * factor
    return wide


def _paired(wide: pd.DataFrame, target: str, method: str, other: str, column: str) -> pd.Series:
    """Per-run values of ``method`` minus (or, for time, over) ``other``'s, matched on seed and replicate."""
    present = wide.index.droplevel([2, 3])
    if column not in wide or (target, method) not in present or (target, other) not in present:
        return pd.Series(dtype=float)
    mine, theirs = wide.loc[(target, method), column], wide.loc[(target, other), column]
    mine, theirs = mine.align(theirs, join="inner")
    return (mine / theirs if column == TIME_METRIC else mine - theirs).dropna()


def _sign_agrees(ours: float, text: float):
    if not (np.isfinite(ours) and np.isfinite(text)) or ours == 0 or text == 0:
        return np.nan
    return bool(np.sign(ours) == np.sign(text))


def reference_comparison(table: pd.DataFrame, reference: dict) -> pd.DataFrame:
    """One row per (target, configured reference row, metric), then its time rows (see the module docstring).

    ``reference``: ``{label, baseline (a variant name, default starsse), rows: {variant: {text, member_acc,
    diversity, ens_acc, time}}}`` with ``[mean, sd]`` cells and ``time`` the text's fraction of the baseline's
    training time. A configured variant that is not in ``table`` keeps its row with ours NaN and n 0."""
    wide = full_size_values(table)
    baseline = reference.get("baseline", "starsse")
    rows_cfg = reference.get("rows", {})
    base_text = rows_cfg.get(baseline, {})
    targets = list(dict.fromkeys(table["target"])) or [None]
    present = set(wide.index.droplevel([2, 3]))
    # the table's method order (the config's), not the reference mapping's (validated mappings may come sorted)
    order = {method: i for i, method in enumerate(dict.fromkeys(table["method"]))}
    out = []
    for target in targets:
        for method, row in sorted(rows_cfg.items(), key=lambda item: order.get(item[0], len(order))):
            values = wide.loc[(target, method)] if (target, method) in present else None
            common = {"target": target, "method": method, "text_row": row.get("text", method),
                      "baseline": baseline, "reference_label": reference.get("label", "")}
            for metric, (key, _) in METRICS.items():
                ours = values[metric].dropna() if values is not None and metric in values else pd.Series(dtype=float)
                text_mean, text_sd = _pair(row[key]) if key in row else (np.nan, np.nan)
                delta = _paired(wide, target, method, baseline, metric) if method != baseline else pd.Series(dtype=float)
                d_mean = float(delta.mean()) if len(delta) else np.nan
                d_sd = float(delta.std(ddof=1)) if len(delta) > 1 else np.nan
                base_mean, base_sd = _pair(base_text[key]) if key in base_text else (np.nan, np.nan)
                text_delta = text_mean - base_mean if method != baseline else np.nan
                text_spread = 2 * np.sqrt(text_sd ** 2 + base_sd ** 2)
                out.append({**common, "metric": key,
                            "ours_mean": float(ours.mean()) if len(ours) else np.nan,
                            "ours_sd": float(ours.std(ddof=1)) if len(ours) > 1 else np.nan, "n": len(ours),
                            "text_mean": text_mean, "text_sd": text_sd, "delta_mean": d_mean, "delta_sd": d_sd,
                            "delta_n": len(delta),
                            "beyond_2sd": bool(abs(d_mean) > 2 * d_sd) if np.isfinite(d_mean) and np.isfinite(d_sd)
                            else np.nan,
                            "text_delta": text_delta,
                            "text_beyond_2sd": bool(abs(text_delta) > text_spread)
                            if np.isfinite(text_delta) and np.isfinite(text_spread) else np.nan,
                            "same_sign": _sign_agrees(d_mean, text_delta)})
            for other in dict.fromkeys([baseline, DE]):
                ratio = _paired(wide, target, method, other, TIME_METRIC) if values is not None else pd.Series(dtype=float)
                ratio = ratio.dropna()
                text_ratio = float(row["time"]) if other == baseline and row.get("time") is not None else np.nan
                out.append({**common, "metric": f"time_vs_{other}",
                            "ours_mean": float(ratio.mean()) if len(ratio) else np.nan,
                            "ours_sd": float(ratio.std(ddof=1)) if len(ratio) > 1 else np.nan, "n": len(ratio),
                            "text_mean": text_ratio, "text_sd": np.nan, "delta_mean": np.nan, "delta_sd": np.nan,
                            "delta_n": 0, "beyond_2sd": np.nan, "text_delta": np.nan, "text_beyond_2sd": np.nan,
                            "same_sign": np.nan})
    return pd.DataFrame(out, columns=COLUMNS)


def _cell(mean, sd) -> str:
    return "n/a" if pd.isna(mean) else mean_sd_text(mean, sd, two_decimals=True)


def _delta(row) -> str:
    """"ours / text" Δ with ✓ (same sign), ✗ (opposite sign), * (ours beyond 2 sd) and † (the text's beyond 2 sd)."""
    if pd.isna(row["delta_mean"]):
        return ""
    same = row["same_sign"]
    mark = "" if pd.isna(same) else (" ✓" if bool(same) else " ✗")
    mark += " *" if _flag(row["beyond_2sd"]) else ""
    mark += " †" if _flag(row["text_beyond_2sd"]) else ""
    text = "" if pd.isna(row["text_delta"]) else f" / {row['text_delta']:+.2f}"
    return f"{row['delta_mean']:+.2f}{text}{mark}"


def markdown_table(comparison: pd.DataFrame) -> str:
    """Per target: one row per method; for each metric "ours (mean ± sd) | text" and Δ to the baseline "ours / text"
    (✓ same sign, ✗ opposite sign, * |our Δ| beyond 2 sd of its run-to-run spread, † the text's |Δ| beyond 2 of its
    sds); time relative to the baseline and to Local DE; a last line counts sign agreements per metric, all and
    where both differences stand out of their noise."""
    lines = []
    for target, part in comparison.groupby("target", sort=False, dropna=False):
        n = part.loc[(part["metric"] == "ens_acc") & (part["n"] > 0), "n"]
        base = part["baseline"].iloc[0]
        lines.append(f"**{target}** (runs per method: {int(n.min()) if len(n) else 0}–{int(n.max()) if len(n) else 0};"
                     f" cells ours / text; Δ = method − {base} paired by run, ✓ same sign as the text's Δ, ✗ opposite,"
                     " * our |Δ| > 2 sd of the per-run Δ, † the text's |Δ| > 2 √(sd² + sd_base²))")
        head = ["method (text row)"]
        for key, label in (("member_acc", "avg. acc."), ("diversity", "div."), ("ens_acc", "ens. acc.")):
            head += [f"{label} ours", f"{label} text", f"Δ {label}"]
        head += [f"time / {base} ours / text", "time / Local DE"]
        lines += ["", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        for method, rows in part.groupby("method", sort=False):
            by = rows.set_index("metric")
            cells = [f"{method} ({by.iloc[0]['text_row']})"]
            for key in ("member_acc", "diversity", "ens_acc"):
                r = by.loc[key]
                cells += [_cell(r["ours_mean"], r["ours_sd"]), _cell(r["text_mean"], r["text_sd"]), _delta(r)]
            time_cols = [c for c in by.index if c.startswith("time_vs_") and c != f"time_vs_{DE}"]
            t = by.loc[time_cols[0]] if time_cols else None
            cells.append("" if t is None else _cell(t["ours_mean"], np.nan)
                         + ("" if pd.isna(t["text_mean"]) else f" / {t['text_mean']:.2f}"))
            de = by.loc[f"time_vs_{DE}"] if f"time_vs_{DE}" in by.index else None
            cells.append("" if de is None else _cell(de["ours_mean"], np.nan))
            lines.append("| " + " | ".join(cells) + " |")
        counts, clear = [], []
        for key, label in (("member_acc", "avg. acc."), ("diversity", "div."), ("ens_acc", "ens. acc.")):
            rows = part[(part["metric"] == key) & part["same_sign"].notna()]
            counts.append(f"{label} {int(sum(_flag(v) for v in rows['same_sign']))} of {len(rows)}")
            both = rows[rows["beyond_2sd"].map(_flag) & rows["text_beyond_2sd"].map(_flag)]
            clear.append(f"{label} {int(sum(_flag(v) for v in both['same_sign']))} of {len(both)}")
        lines += ["", "Δ with the text's sign: " + ", ".join(counts) + "; where both Δ stand out of their noise (* †): "
                  + ", ".join(clear) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # python -m transferscope.ensembles.reference results/tables/ensembles_reference_comparison.csv
    import sys

    print(markdown_table(pd.read_csv(sys.argv[1])), end="")
