"""Our correlations next to a thesis' published ones: the table the README's reproduction section is copied from.

The config's ``analysis.reference`` holds published Spearman ρ values for one outcome: ``values`` per (target,
metric, layer) at one level (thesis A: across all 72 models) and, where the publication reports them,
``per_checkpoint`` per (target, metric, layer, checkpoint) at level ``per_checkpoint`` (across the sources at one
pre-training checkpoint: the comparison that does not follow training progress). Each value becomes one row with
our ρ at the same place of ``transferability.csv`` (its n, band and significance) and how far apart the two are:

- ``abs_diff`` = |ours − reference|; ``within_reading``: at most the precision of the transcribed value
  (``reading_error``: ±0.02 for values read off a figure); ``within_tenth``: at most 0.1;
- ``z``, ``p_diff``, ``differs``: a Fisher-z test of ours − reference with our n and the
  publication's (``n_reference``, config ``analysis.reference.n``), :func:`fisher_z_difference`;
- ``same_sign``: the two signs agree.

Every comparison is NaN where ours is undefined (e.g. a constant metric); the test is NaN without both n.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from transferscope.tables import is_true as _flag

COLUMNS = ["target", "arch", "metric", "layer", "outcome", "level", "group", "mode", "ours", "n", "band", "significant",
           "reference", "n_reference", "abs_diff", "within_reading", "within_tenth", "z", "p_diff",
           "differs", "same_sign", "reading_error", "reference_label"]
GROUPED_LEVEL = "per_checkpoint"  # the one level with published values per group (config analysis.reference key)
READING_ERROR = 0.02  # precision of a ρ read off a plot (thesis A's figures: about ±0.02)
TENTH = 0.1
ALPHA = 0.05
# Fieller, Hartley & Pearson (1957): atanh of Spearman's ρ has variance ≈ 1.06/(n − 3) (Pearson's r: 1/(n − 3)).
SPEARMAN_Z_VARIANCE = 1.06
ROUND_OFF = 1e-9  # |0.70 − 0.60| is 0.0999…9 or 0.100…01 in floating point: a tie counts as within
# The input tap is the same image for every model: its metric is constant across models, so ρ is undefined there
# (thesis A dropped it too); counts over layers leave it out.
INPUT_LAYER = "in"
LEVEL_WORDS = {"all": "across all models", "per_seed_pooled": "across every per-seed model",
               "per_source": "across checkpoints, per source", "per_checkpoint": "across sources, per checkpoint"}


def fisher_z_difference(ours, theirs, n_ours, n_theirs) -> tuple[np.ndarray, np.ndarray]:
    """Fisher-z test of the difference of two Spearman correlations: z and its two-sided normal p (element-wise).

    z = (atanh ρ_ours − atanh ρ_theirs) / √(1.06/(n_ours − 3) + 1.06/(n_theirs − 3)), p = 2·(1 − Φ(|z|)).
    An approximation: it treats the two ρ as independent estimates (true of two separate experiments, not of two ρ
    on the same models) and the Fieller–Hartley–Pearson variance 1.06/(n − 3) is a large-sample result, rough at
    n = 6. Equal values give z = 0, p = 1. NaN where n ≤ 3 (or NaN) and where one |ρ| is 1 and the other differs:
    atanh(±1) is infinite, yet at n = 6 a ρ of ±1 is no rarity (1 in 360 under independence, far more often under
    a strong true correlation), so an infinite z would call every such pair different. Inputs: scalars or arrays of
    one shape; outputs: float arrays of that shape."""
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    n_ours, n_theirs = np.asarray(n_ours, float), np.asarray(n_theirs, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(SPEARMAN_Z_VARIANCE / (n_ours - 3) + SPEARMAN_Z_VARIANCE / (n_theirs - 3))
        se = np.where((n_ours > 3) & (n_theirs > 3), se, np.nan)
        z = np.where(ours == theirs, 0.0, np.arctanh(ours) - np.arctanh(theirs)) / se
    z = np.where(np.isfinite(z), z, np.nan)
    p = np.vectorize(math.erfc, otypes=[float])(np.abs(z) / math.sqrt(2)) if z.size else z.copy()
    return z, np.asarray(p, float).reshape(z.shape)


def _as_text(group: pd.Series) -> pd.Series:
    """A ``group`` column as text, "" where empty (read back from CSV, an all-empty column is float NaN)."""
    return group.astype(object).where(group.notna(), "").astype(str)


def _spearman_slice(transferability: pd.DataFrame, outcome: str, levels, mode: str | None, arch: str | None
                    ) -> tuple[pd.DataFrame, str | None, str | None]:
    """Spearman rows of ``outcome`` at ``levels`` for one mode and arch (None: the first in sorted order, as the
    figures do), ``group`` as text ("" on ungrouped levels)."""
    rows = transferability[(transferability["statistic"] == "spearman") & transferability["level"].isin(levels)
                           & (transferability["outcome"] == outcome)]
    mode = mode or (sorted(rows["mode"].unique())[0] if len(rows) else None)
    arch = arch or (sorted(rows["arch"].unique())[0] if len(rows) else None)
    rows = rows[(rows["mode"] == mode) & (rows["arch"] == arch)]
    return rows.assign(group=_as_text(rows["group"])), mode, arch


def _wanted(reference: dict) -> list[tuple[str, str, str, str, str, float]]:
    """(level, target, metric, layer, group, ρ) of every configured value: ``values`` at the reference's level
    (group ""), then ``per_checkpoint`` (group = the checkpoint)."""
    level = reference.get("level", "all")
    wanted = [(level, target, metric, layer, "", value)
              for target, by_metric in (reference.get("values") or {}).items()
              for metric, by_layer in by_metric.items() for layer, value in by_layer.items()]
    wanted += [(GROUPED_LEVEL, target, metric, layer, str(checkpoint), value)
               for target, by_metric in (reference.get(GROUPED_LEVEL) or {}).items()
               for metric, by_layer in by_metric.items() for layer, by_checkpoint in by_layer.items()
               for checkpoint, value in by_checkpoint.items()]
    return wanted


def reference_comparison(transferability: pd.DataFrame, reference: dict) -> pd.DataFrame:
    """One row per reference value (columns ``COLUMNS``): the ``values`` rows, then the ``per_checkpoint`` ones,
    each in the config's target and metric order, layers in forward order and checkpoints in the order of
    ``transferability.csv`` (the config's mappings arrive with sorted keys)."""
    level, outcome = reference.get("level", "all"), reference.get("outcome", "auc")
    spearman, mode, arch = _spearman_slice(transferability, outcome, {level, GROUPED_LEVEL}, reference.get("mode"),
                                           reference.get("arch"))
    forward = {layer: i for i, layer in enumerate(dict.fromkeys(spearman["layer"]))}
    groups = {group: i for i, group in enumerate(dict.fromkeys(spearman.loc[spearman["level"] == GROUPED_LEVEL,
                                                                            "group"]))}
    ours = spearman.drop_duplicates(["level", "target", "metric", "layer", "group"]).set_index(
        ["level", "target", "metric", "layer", "group"])
    wanted = _wanted(reference)
    position = {key: i for i, key in enumerate(dict.fromkeys((w[0], w[1], w[2]) for w in wanted))}
    wanted.sort(key=lambda w: (position[w[:3]], forward.get(w[3], len(forward)), groups.get(w[4], len(groups))))
    n_reference = reference.get("n") or {}
    rows = []
    for at_level, target, metric, layer, group, value in wanted:
        key = (at_level, target, metric, layer, group)
        row = ours.loc[key] if key in ours.index else None
        rows.append({
            "target": target, "arch": arch, "metric": metric, "layer": layer, "outcome": outcome,
            "level": at_level, "group": group, "mode": mode,
            "ours": float(row["value"]) if row is not None else np.nan,
            **{c: row[c] if row is not None else np.nan for c in ("n", "band", "significant")},
            "reference": float(value), "n_reference": n_reference.get(at_level, np.nan),
        })
    table = pd.DataFrame(rows, columns=COLUMNS[: COLUMNS.index("n_reference") + 1])
    return _with_differences(table, float(reference.get("reading_error", READING_ERROR)),
                             reference.get("label", "")).reindex(columns=COLUMNS)


def _with_differences(table: pd.DataFrame, reading_error: float, label: str) -> pd.DataFrame:
    """``table`` (ours, reference, n, n_reference) plus the comparison columns of the module docstring."""
    ours, theirs = table["ours"].to_numpy(float), table["reference"].to_numpy(float)
    defined = np.isfinite(ours)
    diff = np.abs(ours - theirs)
    z, p = fisher_z_difference(ours, theirs, table["n"].to_numpy(float), table["n_reference"].to_numpy(float))

    def flag(values: np.ndarray, where: np.ndarray) -> list:
        return [bool(v) if ok else np.nan for v, ok in zip(values, where)]

    return table.assign(
        abs_diff=diff, within_reading=flag(diff <= reading_error + ROUND_OFF, defined),
        within_tenth=flag(diff <= TENTH + ROUND_OFF, defined), z=z, p_diff=p,
        differs=flag(p < ALPHA, np.isfinite(p)),
        same_sign=flag(np.sign(ours) == np.sign(theirs), defined), reading_error=reading_error,
        reference_label=label)


def agreement_counts(comparison: pd.DataFrame) -> dict[str, int]:
    """Counts over the rows of ``comparison`` (a reference_comparison table, or its CSV read back): ``values``,
    ``defined`` (ours defined), ``same_sign``, ``within_reading``, ``within_tenth``, ``tested`` (rows with a
    Fisher-z p) and ``different`` (significantly, p < 0.05)."""
    def count(column: str) -> int:
        return int(sum(_flag(v) for v in comparison[column]))

    return {"values": len(comparison), "defined": int(comparison["ours"].notna().sum()),
            "same_sign": count("same_sign"), "within_reading": count("within_reading"),
            "within_tenth": count("within_tenth"), "tested": int(comparison["p_diff"].notna().sum()),
            "different": count("differs")}


def _first(values: pd.Series):
    values = values.dropna()
    return values.iloc[0] if len(values) else None


def counts_line(part: pd.DataFrame) -> str:
    """One sentence of :func:`agreement_counts` for one (target, level) part, the way the README reports it."""
    c = agreement_counts(part)
    reading, n_ref, n = _first(part["reading_error"]), _first(part["n_reference"]), _first(part["n"])
    reading = READING_ERROR if reading is None else reading
    values = f"Of {c['values']} value{'s' if c['values'] != 1 else ''}"
    if c["defined"] < c["values"]:
        values += f" ({c['values'] - c['defined']} without a value of ours)"
    if c["tested"]:
        test = (f"significantly different {c['different']} of {c['tested']} (Fisher z of ours − reference, "
                f"n = {int(n)} and the reference's n = {int(n_ref)}, p < {ALPHA})")
    else:
        why = "no n of the reference" if n_ref is None else "no value of ours that the test can take"
        test = f"significantly different: not tested ({why})"
    return (f"{values}: same sign {c['same_sign']}, within the reading error (±{reading:.2f}) "
            f"{c['within_reading']}, within {TENTH} {c['within_tenth']}, {test}.")


def _header(target: str, level: str, part: pd.DataFrame) -> str:
    n, band = _first(part["n"]), _first(part["band"])
    stats = (f"n = {int(n)}" if n is not None else "n = ?") + (f", band ±{band:.3f}" if band is not None else "")
    what = "" if level == "all" else f", {LEVEL_WORDS.get(level, level)}"
    return (f"**{target}**{what} ({stats}; cell: ours / reference, ✓ same sign, * |ours| beyond the band, "
            "≠ significantly different)")


def _cell(row: pd.Series) -> str:
    if pd.isna(row["reference"]):
        return ""
    ours = "n/a" if pd.isna(row["ours"]) else f"{row['ours']:+.2f}"
    mark = "".join(sign for sign, column in ((" ✓", "same_sign"), (" *", "significant"), (" ≠", "differs"))
                   if _flag(row[column]))
    return f"{ours} / {row['reference']:+.2f}{mark}"


def markdown_table(comparison: pd.DataFrame) -> str:
    """The comparison as the README shows it, per target and level: at an ungrouped level one row per metric and
    one column per layer, at ``per_checkpoint`` one row per metric and layer and one column per checkpoint; cells
    "ours / reference" with ✓ (signs agree), * (ours beyond its null band), ≠ (significantly different, Fisher z);
    under each table the counts of :func:`counts_line`."""
    comparison = comparison.assign(group=_as_text(comparison["group"]))
    label, reading = _first(comparison["reference_label"]), _first(comparison["reading_error"])
    lines = [f"Reference: {label} (values transcribed to ±{reading:.2f}).", ""] if label else []
    for (target, level), part in comparison.groupby(["target", "level"], sort=False):
        lines += [_header(target, level, part), ""]
        if (part["group"] == "").all():
            columns, rows = list(dict.fromkeys(part["layer"])), part.assign(row=part["metric"], column=part["layer"])
        else:
            columns = list(dict.fromkeys(part["group"]))
            rows = part.assign(row=part["metric"] + " " + part["layer"], column=part["group"])
        lines += [f"| {'metric' if (part['group'] == '').all() else 'metric layer'} | " + " | ".join(columns) + " |",
                  "|---" * (len(columns) + 1) + "|"]
        for name, row_part in rows.groupby("row", sort=False):
            cells = [_cell(row) for _, row in row_part.set_index("column").reindex(columns).iterrows()]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", counts_line(part), ""]
    return "\n".join(lines).rstrip() + "\n"


def summary_line(comparison: pd.DataFrame) -> str:
    """The counts of every (target, level) part in one paragraph (the report page's summary line)."""
    lines = {key: counts_line(part) for key, part in comparison.groupby(["target", "level"], sort=False)}
    return " ".join(f"{target}, level {level}: {line[0].lower()}{line[1:]}" for (target, level), line in lines.items())


def group_counts(transferability: pd.DataFrame, outcome: str = "auc", mode: str | None = None,
                 arch: str | None = None, levels=("per_source", "per_checkpoint")) -> pd.DataFrame:
    """How the within-group Spearman ρ fall, per target, level and metric (the README's per-source and
    per-checkpoint counts): ``values`` (groups × layers, the input layer left out: ρ is undefined there),
    ``defined``, ``negative``, ``positive`` and ``beyond_band`` (|ρ| at or beyond its null band), ``n`` the
    smallest group size and ``band`` the widest band."""
    rows, _, _ = _spearman_slice(transferability, outcome, set(levels), mode, arch)
    rows = rows[rows["layer"] != INPUT_LAYER]
    value = rows["value"].astype(float)
    rows = rows.assign(defined=value.notna(), negative=value < 0, positive=value > 0,
                       beyond_band=[_flag(v) for v in rows["significant"]])
    counts = rows.groupby(["target", "level", "metric"], sort=False).agg(
        values=("value", "size"), defined=("defined", "sum"), negative=("negative", "sum"),
        positive=("positive", "sum"), beyond_band=("beyond_band", "sum"), n=("n", "min"), band=("band", "max"))
    return counts.reset_index()


def group_counts_markdown(counts: pd.DataFrame) -> str:
    """:func:`group_counts` as a markdown table."""
    lines = ["| target | level | metric | n | band | values (no `in`) | defined | negative | positive | beyond band |",
             "|---" * 10 + "|"]
    for _, r in counts.iterrows():
        band = "" if pd.isna(r["band"]) else f"±{r['band']:.3f}"
        lines.append(f"| {r['target']} | {r['level']} | {r['metric']} | {int(r['n'])} | {band} | {r['values']} | "
                     f"{r['defined']} | {r['negative']} | {r['positive']} | {r['beyond_band']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    # python -m transferscope.analysis.reference results/tables/reference_comparison.csv
    #     [results/tables/transferability.csv  (adds the per-source / per-checkpoint counts)]
    import sys

    print(markdown_table(pd.read_csv(sys.argv[1])), end="")
    if len(sys.argv) > 2:
        print("\n" + group_counts_markdown(group_counts(pd.read_csv(sys.argv[2]))), end="")
