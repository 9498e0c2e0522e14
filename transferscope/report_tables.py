"""The headline tables as HTML pages for the Snakemake report.

Snakemake 9's report shows an output marked ``report(...)`` by its MIME type: images inline, HTML and PDF in a
frame, anything else (a ``.csv``) only as a download link. So each headline table of :data:`REPORT_TABLES` is also
rendered as a small standalone HTML page (rule ``report_table_<name>``, ``rules/report_tables.smk``): a title, one
line saying what the numbers are, the columns that are the same in every row, and the table (every cell escaped).

A row of :data:`REPORT_TABLES` names the CSV (``results/tables/<name>.csv``), the report category and the shaping
applied before rendering; its caption is ``report/table_<name>.rst``. Which pages a run makes follows from which of
the CSVs it makes (:func:`tables_in`), so the conditions (analysis enabled, a reference configured, ensembles
enabled) live in one place, the rule files that list those CSVs.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass
from typing import Callable, Iterable

import pandas as pd

Notes = dict  # column -> the value it has in every row, shown once above the table


def hoist_constants(frame: pd.DataFrame, keep: Iterable[str] = ()) -> tuple[pd.DataFrame, Notes]:
    """Columns with one value in every row (of a table with more than one row), but ``keep``, moved into notes."""
    if len(frame) < 2:
        return frame, {}
    constant = [c for c in frame.columns if c not in set(keep) and frame[c].nunique(dropna=False) == 1]
    if len(constant) == len(frame.columns):  # identical rows: keep the table as it is
        return frame, {}
    return frame.drop(columns=constant), {c: frame[c].iloc[0] for c in constant}


def _as_is(frame: pd.DataFrame) -> tuple[pd.DataFrame, Notes]:
    return hoist_constants(frame)


def _flag(values: pd.Series) -> pd.Series:
    """True where a CSV's boolean column (True / False / empty) is true."""
    return values.astype(str).str.strip().str.lower() == "true"


def spearman_wide(frame: pd.DataFrame) -> tuple[pd.DataFrame, Notes]:
    """transferability.csv -> Spearman ρ at level ``all``, one row per (target, arch, mode, outcome, metric) and one
    column per layer (forward order); a cell is ρ with a ``*`` where |ρ| reaches the 95 % null band (``significant``).
    Index levels and n / band with one value in every row become notes."""
    keys = ["target", "arch", "mode", "outcome", "metric"]
    rows = frame[(frame["level"] == "all") & (frame["statistic"] == "spearman")]
    rows = rows[rows["group"].isna() | (rows["group"].astype(str) == "")] if "group" in rows else rows
    if rows.empty:
        return pd.DataFrame(columns=keys), {}
    value = pd.to_numeric(rows["value"], errors="coerce")
    stars = _flag(rows["significant"]) if "significant" in rows else pd.Series(False, index=rows.index)
    cells = ["" if pd.isna(v) else f"{v:+.2f}" + ("*" if star else "") for v, star in zip(value, stars)]
    wide = pd.Series(cells, index=pd.MultiIndex.from_frame(rows[keys + ["layer"]]))
    wide = wide[~wide.index.duplicated()].unstack("layer")
    order = rows[keys].drop_duplicates()
    wide = wide.reindex(pd.MultiIndex.from_frame(order)).reindex(columns=list(dict.fromkeys(rows["layer"])))
    notes: Notes = {"statistic": "Spearman ρ", "level": "all"}
    if len(order) > 1:
        constant = [k for k in keys[:-1] if order[k].nunique(dropna=False) == 1]
        notes.update({k: order[k].iloc[0] for k in constant})
        wide = wide.droplevel(constant) if constant else wide
    for column in ("n", "band"):
        if column in rows and rows[column].nunique(dropna=False) == 1:
            notes[column] = rows[column].iloc[0]
    return wide, notes


def mean_sd_pairs(frame: pd.DataFrame) -> tuple[pd.DataFrame, Notes]:
    """Every ``<x>_mean`` / ``<x>_sd`` column pair merged into one column ``<x>`` = "mean ± sd", then constant
    columns hoisted."""
    out = frame.copy()
    for column in list(frame.columns):
        if column.endswith("_mean") and f"{column[:-5]}_sd" in frame.columns:
            base, mean, sd = column[:-5], frame[column], frame[f"{column[:-5]}_sd"]
            merged = [("" if pd.isna(m) else f"{m:.4g}" if pd.isna(s) else f"{m:.4g} ± {s:.2g}")
                      for m, s in zip(pd.to_numeric(mean, errors="coerce"), pd.to_numeric(sd, errors="coerce"))]
            at = list(out.columns).index(column)
            out = out.drop(columns=[column, f"{base}_sd"])
            out.insert(at, base, merged)
    return hoist_constants(out)


def leaderboard_wide(frame: pd.DataFrame) -> tuple[pd.DataFrame, Notes]:
    """leaderboard.csv -> its headline slice (mode full, outcome test_acc): estimators × targets and the mean,
    cells "τ_w [2.5 %, 97.5 %]", ★ before the best estimator of each column, baselines last."""
    from transferscope.benchmark.zoo import leaderboard_layout  # scipy: only in the job that renders the page

    layout = leaderboard_layout(frame)
    marked = layout.cells.where(~layout.best, "★ " + layout.cells)
    return marked, {"mode": layout.pair[0], "outcome": layout.pair[1], "statistic": "weighted Kendall τ"}


def leaderboard_verdict(frame: pd.DataFrame) -> str:
    from transferscope.benchmark.zoo import leaderboard_layout

    return leaderboard_layout(frame).verdict


def reference_summary(frame: pd.DataFrame) -> str:
    from transferscope.analysis.reference import summary_line

    return summary_line(frame)


@dataclass(frozen=True)
class ReportTable:
    """One headline table: ``name`` (its CSV ``<name>.csv``, page ``<name>.html``, rule ``report_table_<name>``,
    caption ``report/table_<name>.rst``), the page title, one line saying what the numbers are, the report
    category, the shaping ``frame -> (frame, notes)`` applied before rendering and an optional ``summary``
    ``frame -> sentence`` shown above the table (a finding computed from the rows)."""

    name: str
    title: str
    line: str
    category: str
    shape: Callable[[pd.DataFrame], tuple[pd.DataFrame, Notes]] = _as_is
    summary: Callable[[pd.DataFrame], str] | None = None

    @property
    def caption(self) -> str:
        """Caption file, relative to the repository root."""
        return f"report/table_{self.name}.rst"


REPORT_TABLES: dict[str, ReportTable] = {t.name: t for t in (
    ReportTable("transferability", "Transferability: Spearman ρ of every metric and layer with each outcome",
                "Seed means correlated across every (source, checkpoint) model (level all), one row per target, "
                "fine-tuning mode, outcome and metric; * marks |ρ| at or beyond the 95 % band of ρ under the null; "
                "an empty cell is undefined (e.g. a constant metric).", "Analysis", spearman_wide),
    ReportTable("reference_comparison", "Our Spearman ρ next to the published values",
                "One row per value of config analysis.reference (at its level and per checkpoint): ours (ρ, n, band, "
                "significance), the published value and its n, |ours − published| and whether it is within the "
                "reading error and within 0.1, a Fisher-z test of the difference (z, p, significant at 0.05) and "
                "whether the two signs agree.", "Analysis", summary=reference_summary),
    ReportTable("ensembles_final", "Ensembles at their full size K",
                "Every method at k = K: mean ± sd over runs (pre-training seeds × fine-tuning replicates, n per row) "
                "of ensemble and member accuracy, diversity, NLL, ECE, Brier score and training time.", "Ensembles"),
    ReportTable("ensembles_reference_comparison", "Our ensembles next to the published table",
                "One row per method and metric of config ensembles.reference: ours and the text's mean ± sd, the "
                "difference to the baseline method paired by run (delta) and whether its sign agrees with the "
                "text's.", "Ensembles", mean_sd_pairs),
    ReportTable("leaderboard", "Benchmark leaderboard: how well each estimator ranks the model zoo",
                "Weighted Kendall τ between each estimator's scores of the pre-trained models and their fine-tuned "
                "test accuracy (all weights trained), per target and averaged over targets, with 95 % bootstrap "
                "intervals (over models; over targets for the mean); ★ marks the best estimator of a column; the "
                "baseline rows rank by source accuracy, parameter count and at random.", "Benchmark",
                leaderboard_wide, leaderboard_verdict),
)}

STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.3em; margin: 0 0 0.4em 0; }
p { max-width: 60em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; }
tbody tr:nth-child(even) td { background: #fafafa; }
.notes, .source { color: #555; }
""".strip()


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.4g}"
    return str(value)


def _text(value) -> str:
    return html.escape(str(value), quote=False)


def render(frame: pd.DataFrame, table: ReportTable, source: str = "") -> str:
    """A standalone HTML page of ``frame`` shaped by ``table`` (every text escaped)."""
    shaped, notes = table.shape(frame)
    parts = [f"<h1>{_text(table.title)}</h1>"]
    if table.line:
        parts.append(f"<p>{_text(table.line)}</p>")
    if table.summary is not None and not frame.empty:
        parts.append(f'<p class="summary">{_text(table.summary(frame))}</p>')
    if notes:
        same = "; ".join(f"{_text(k)} = {_text(_cell(v))}" for k, v in notes.items())
        parts.append(f'<p class="notes">The same in every row: {same}.</p>')
    if shaped.empty:
        parts.append("<p>No rows.</p>")
    else:
        index = not isinstance(shaped.index, pd.RangeIndex)
        parts.append(shaped.to_html(index=index, escape=True, na_rep="", float_format=lambda v: f"{v:.4g}",
                                    border=0, justify="center"))
    if source:
        parts.append(f'<p class="source">From {_text(source)} ({len(frame)} rows).</p>')
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_text(table.title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n{body}\n"
            "</body>\n</html>\n")


def table_html(csv_path: str | os.PathLike, name: str | None = None) -> str:
    """The report page of the table at ``csv_path``; ``name`` (default: the file's stem) picks its row of
    :data:`REPORT_TABLES` (a name not there is rendered as is, under its own name)."""
    name = name or os.path.splitext(os.path.basename(csv_path))[0]
    table = REPORT_TABLES.get(name) or ReportTable(name, name, "", "")
    return render(pd.read_csv(csv_path), table, source=os.path.basename(csv_path))


def tables_in(paths: Iterable[str]) -> list[str]:
    """Names of the report tables whose CSV (``<name>.csv``) is among ``paths`` (the run's targets), in
    :data:`REPORT_TABLES` order."""
    present = {os.path.basename(str(p)) for p in paths}
    return [name for name in REPORT_TABLES if f"{name}.csv" in present]
