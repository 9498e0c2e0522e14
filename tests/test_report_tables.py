"""The headline tables as HTML pages for the report (transferscope.report_tables): header cells and values, escaping,
the compact Spearman table of transferability.csv, and which pages a run makes."""
import itertools
import os
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from transferscope.analysis.correlate import COLUMNS
from transferscope.report_tables import REPORT_TABLES, hoist_constants, mean_sd_pairs, table_html, tables_in


class Cells(HTMLParser):
    """The text of every <th> and <td>, in document order, and the tags seen."""

    def __init__(self):
        super().__init__()
        self.cells, self.tags, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("th", "td"):
            self._in = tag
            self.cells.append((tag, ""))

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in:
            tag, text = self.cells[-1]
            self.cells[-1] = (tag, text + data)


def parse(page):
    parser = Cells()
    parser.feed(page)
    return parser


def test_page_has_the_header_cells_and_values_and_escapes_markup(tmp_path):
    csv = tmp_path / "some_table.csv"
    pd.DataFrame({"method": ["a<b", "plain"], "x <y>": [1.234567, np.nan], "note": ["<script>x</script>", "&"]}).to_csv(
        csv, index=False)
    page = table_html(csv)
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<script>" not in page and "a<b" not in page and "<y>" not in page
    assert "a&lt;b" in page and "x &lt;y&gt;" in page and "&lt;script&gt;x&lt;/script&gt;" in page
    parsed = parse(page)
    assert parsed.tags.count("table") == 1
    headers = [text for tag, text in parsed.cells if tag == "th"]
    values = [text for tag, text in parsed.cells if tag == "td"]
    assert headers == ["method", "x <y>", "note"]  # the parser unescapes: the page showed them escaped
    assert values == ["a<b", "1.235", "<script>x</script>", "plain", "", "&"]  # NaN: an empty cell
    assert "some_table.csv (2 rows)" in page


def _transferability(tmp_path):
    """A transferability.csv: 2 targets × 1 arch × 1 mode × 2 outcomes × 2 metrics × 3 layers, levels all and
    per_source, four statistics; Spearman at level all = a known value per cell."""
    rows = []
    layers = ["conv1", "pool1", "fc1"]  # forward order, not sorted
    for target, outcome, metric, layer, level, statistic in itertools.product(
            ["mnist", "fashionmnist"], ["auc", "test_acc"], ["rsa", "twonn"], layers, ["all", "per_source"],
            ["spearman", "kendall", "weighted_tau", "pearson"]):
        value = 0.5 if statistic == "spearman" and level == "all" else 0.99  # 0.99 must never show
        if metric == "twonn" and layer == "fc1":
            value = np.nan
        if target == "fashionmnist" and metric == "rsa" and layer == "conv1":
            value = -0.125
        rows.append(dict(target=target, arch="mnist_cnn", mode="full", outcome=outcome, metric=metric, layer=layer,
                         level=level, group=np.nan if level == "all" else "mnist", statistic=statistic, value=value,
                         p_value=0.01, n=12, band=0.574, significant=bool(abs(value) >= 0.574)
                         if statistic == "spearman" and not np.isnan(value) else np.nan))
    path = tmp_path / "transferability.csv"
    pd.DataFrame(rows, columns=COLUMNS).to_csv(path, index=False)
    return path


def test_transferability_page_is_spearman_at_level_all_metric_by_layer(tmp_path):
    page = table_html(_transferability(tmp_path))
    parsed = parse(page)
    headers = [text for tag, text in parsed.cells if tag == "th"]
    values = [text for tag, text in parsed.cells if tag == "td"]
    assert "0.99" not in page  # other levels and statistics are left out
    assert headers.index("conv1") < headers.index("pool1") < headers.index("fc1")  # forward order kept
    assert {"target", "outcome", "metric"} <= set(headers)
    # 2 targets × 2 outcomes × 2 metrics rows × 3 layers; the rows in the CSV's order
    assert len(values) == 24
    assert values[:6] == ["+0.50", "+0.50", "+0.50", "+0.50", "+0.50", ""]  # mnist/auc: rsa, then twonn (fc1 NaN)
    assert "-0.12" in values and "+0.50" in values and not any(v.endswith("*") for v in values)
    # arch, mode, n and the band are the same in every row: stated once above the table
    assert "arch = mnist_cnn" in page and "mode = full" in page and "n = 12" in page and "band = 0.574" in page
    assert "mnist_cnn" not in headers


def test_transferability_page_marks_significant_values(tmp_path):
    path = _transferability(tmp_path)
    table = pd.read_csv(path)
    hit = (table["level"] == "all") & (table["statistic"] == "spearman") & (table["layer"] == "pool1")
    table.loc[hit, ["value", "significant"]] = [0.875, True]
    table.to_csv(path, index=False)
    values = [text for tag, text in parse(table_html(path)).cells if tag == "td"]
    assert values.count("+0.88*") == 8 and "+0.50" in values


def test_mean_and_sd_columns_become_one_and_constants_are_stated_once():
    frame = pd.DataFrame({"target": ["t", "t"], "method": ["a", "b"], "ours_mean": [94.031, 1.5],
                          "ours_sd": [0.4357, np.nan], "text_mean": [np.nan, 2.0], "text_sd": [np.nan, 0.5]})
    shaped, notes = mean_sd_pairs(frame)
    assert list(shaped.columns) == ["method", "ours", "text"]
    assert shaped["ours"].tolist() == ["94.03 ± 0.44", "1.5"] and shaped["text"].tolist() == ["", "2 ± 0.5"]
    assert notes == {"target": "t"}


def test_identical_rows_and_one_row_tables_keep_their_columns():
    one = pd.DataFrame({"a": [1], "b": ["x"]})
    assert hoist_constants(one)[0].equals(one) and hoist_constants(one)[1] == {}
    same = pd.DataFrame({"a": [1, 1], "b": ["x", "x"]})
    assert hoist_constants(same)[0].equals(same)


def test_an_empty_table_gives_a_page_without_a_table(tmp_path):
    path = tmp_path / "transferability.csv"
    pd.DataFrame(columns=COLUMNS).to_csv(path, index=False)
    page = table_html(path)
    assert "No rows." in page and "<table" not in page


def test_pages_follow_the_csvs_of_the_run():
    run = ["results/tables/finetune.csv", "results/tables/ensembles_final.csv", "results/tables/transferability.csv",
           "results/figures/x.png"]
    assert tables_in(run) == ["transferability", "ensembles_final"]
    assert tables_in([]) == []
    assert tables_in([f"results/tables/{name}.csv" for name in REPORT_TABLES]) == list(REPORT_TABLES)


@pytest.mark.parametrize("name", list(REPORT_TABLES))
def test_every_page_has_a_caption_file_and_a_category_of_the_report(name):
    table = REPORT_TABLES[name]
    assert table.name == name and table.category in {"Analysis", "Ensembles", "Benchmark"}
    assert os.path.isfile(os.path.join(REPO, table.caption)), table.caption
    assert table.title and table.line


def test_leaderboard_page_stars_the_best_estimator_and_states_which_beat_the_best_static_baseline(tmp_path):
    from transferscope.benchmark.rank import evaluate

    rng = np.random.default_rng(0)
    rows = []
    for target in ("a", "b"):
        params, source_acc = rng.permutation(8), rng.uniform(size=8)
        for i in range(8):
            accuracy = 0.5 + 0.05 * i
            rows += [{"target": target, "model": f"m{i}", "accuracy": accuracy, "params": params[i],
                      "source_acc": source_acc[i], "estimator": name, "score": score}
                     for name, score in (("oracle", accuracy), ("<noisy>", -accuracy + 0.01 * rng.normal()))]
    board = evaluate(pd.DataFrame(rows), bootstrap=100, random_draws=50).assign(mode="full", outcome="test_acc")
    board.to_csv(tmp_path / "leaderboard.csv", index=False)
    page = table_html(tmp_path / "leaderboard.csv")
    cells = [text for tag, text in parse(page).cells if tag == "td"]
    assert sum(text.startswith("★ +1.00") for text in cells) == 3  # targets a, b and the mean
    assert "&lt;noisy&gt;" in page and "<noisy>" not in page
    assert "interval entirely above it: oracle." in page and "weighted Kendall τ" in page
