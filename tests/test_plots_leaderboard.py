"""The benchmark leaderboard's figure (transferscope/plots/leaderboard.py) and report page (report_tables
``leaderboard``) on a hand-made zoo ranked by the real ranking code (transferscope.benchmark.rank.evaluate): the
figure draws (also with an undefined τ_w, one target, and an interval that excludes its point estimate), and the page
stars the best estimator of each column, lists the baselines last, escapes names and says which estimators clear the
best static baseline."""
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from conftest import saved_figures
from transferscope.benchmark.rank import MEAN_TARGET, evaluate
from transferscope.report_tables import table_html

TARGETS, MODELS, SEEDS = ("a", "b", "c"), 6, (0, 1)
# Params rank the zoo weakly: a fixed order that agrees with the accuracy order (model index) only in part.
PARAMS = np.array([3, 0, 5, 1, 4, 2]) * 1_000 + 50_000


def zoo_rows(targets=TARGETS, mode="full", outcome="test_acc", drop=None, flat=False, seed=0) -> pd.DataFrame:
    """benchmark_zoo.csv rows: ``targets`` × MODELS models (``<source>/<arch>``) × SEEDS, the accuracy rising with
    the model index; estimators ``oracle`` (the accuracy itself, but the two best models swapped on target b),
    ``specialist`` (the accuracy on b, its negative elsewhere: the best of column b only), ``noisy`` (the accuracy
    plus noise of its own spread), ``<reversed>`` (its negative; the name tests escaping) and, if asked, ``flat``
    (constant: τ_w undefined). ``drop``: {target: models left out there}."""
    rng = np.random.default_rng(seed)
    rows = []
    for target in targets:
        for model in range(MODELS):
            if drop and model in drop.get(target, ()):
                continue
            for seed_ in SEEDS:
                accuracy = 0.50 + 0.04 * model + 0.01 * seed_
                swapped = {4: 5, 5: 4}.get(model, model) if target == "b" else model
                scores = {"oracle": 0.50 + 0.04 * swapped + 0.01 * seed_, "noisy": accuracy + 0.1 * rng.normal(),
                          "specialist": accuracy if target == "b" else -accuracy, "<reversed>": -accuracy}
                if flat:
                    scores["flat"] = 1.0
                rows += [{"mode": mode, "outcome": outcome, "target": target, "model": f"src{model}/cnn",
                          "seed": seed_, "estimator": name, "layer": "fc1", "score": score, "accuracy": accuracy,
                          "params": PARAMS[model], "source_acc": 0.9 - 0.01 * ((model * 5) % MODELS)}
                         for name, score in scores.items()]
    return pd.DataFrame(rows)


def leaderboard(zoo: pd.DataFrame) -> pd.DataFrame:
    """leaderboard.csv of ``zoo``: rank.evaluate per (mode, outcome), those two columns first (the benchmark rule's
    layout), slices in the zoo's order."""
    parts = []
    for (mode, outcome), part in zoo.groupby(["mode", "outcome"], sort=False):
        ranked = evaluate(part.drop(columns=["mode", "outcome", "layer"]).astype({"seed": str}), bootstrap=200,
                          random_draws=100, seed=0)
        parts.append(ranked.assign(mode=mode, outcome=outcome))
    board = pd.concat(parts, ignore_index=True)
    return board[["mode", "outcome"] + [c for c in board.columns if c not in ("mode", "outcome")]]


def write(tmp_path, zoo: pd.DataFrame, board: pd.DataFrame | None = None) -> tuple[str, str]:
    board = leaderboard(zoo) if board is None else board
    paths = tmp_path / "leaderboard.csv", tmp_path / "benchmark_zoo.csv"
    board.to_csv(paths[0], index=False)
    zoo.to_csv(paths[1], index=False)
    return str(paths[0]), str(paths[1])


@pytest.fixture
def captured(monkeypatch):
    """The figures draw() saves (the figure object instead of a file is enough to read titles and labels)."""
    import transferscope.plots.leaderboard as module

    return saved_figures(monkeypatch, module)


def draw(tmp_path, zoo, board=None, name="leaderboard.png"):
    from transferscope.plots.leaderboard import draw as draw_leaderboard

    out = tmp_path / name
    draw_leaderboard(*write(tmp_path, zoo, board), out=str(out), style={"dpi": 50})
    assert out.stat().st_size > 0
    return out


def test_figure_ranks_estimators_marks_baselines_and_scatters_best_and_worst_on_the_largest_target(tmp_path,
                                                                                                     captured):
    # c keeps all six models, a and b lose one: the scatter panels must name c
    draw(tmp_path, zoo_rows(drop={"a": (5,), "b": (5,)}))
    (fig,) = captured
    left, best, worst = fig.axes
    labels = {t.get_text(): t for t in left.get_yticklabels()}
    assert set(labels) == {"oracle", "noisy", "specialist", "<reversed>", "baseline:source_acc", "baseline:params",
                           "baseline:random"}
    assert all(labels[n].get_style() == "italic" for n in labels if n.startswith("baseline:"))
    assert labels["oracle"].get_style() == "normal"
    # estimators by mean τ_w from the top, baselines below them
    top_down = [t.get_text() for t in sorted(labels.values(), key=lambda t: -t.get_position()[1])]
    assert top_down[:4] == ["oracle", "noisy", "specialist", "<reversed>"]
    assert all(n.startswith("baseline:") for n in top_down[4:])
    assert "best static baseline" in " ".join(t.get_text() for t in left.get_legend().get_texts())
    assert best.get_title().startswith("best: oracle on c (τ_w +1.00, mean τ_w ")
    assert worst.get_title().startswith("worst: <reversed> on c (τ_w -1.00")


def test_figure_skips_undefined_tau_w_and_draws_a_single_target(tmp_path):
    board = leaderboard(zoo_rows(flat=True))
    assert board.loc[board["estimator"] == "flat", "tau_w"].isna().all()
    draw(tmp_path, zoo_rows(flat=True), board, "flat.png")
    draw(tmp_path, zoo_rows(targets=("a",)), name="single.png")


def test_figure_draws_a_percentile_interval_that_excludes_its_point_estimate(tmp_path):
    # ties (e.g. a parameter count shared by an architecture's models) can put τ_w outside its percentile interval;
    # errorbar() refuses the negative half-width that gives
    zoo = zoo_rows()
    board = leaderboard(zoo)
    noisy = (board["estimator"] == "noisy") & (board["target"] == "a")
    board.loc[noisy, "tau_w_ci_low"] = board.loc[noisy, "tau_w"] + 0.05
    draw(tmp_path, zoo, board)


class Table(HTMLParser):
    """The leaderboard page's table as rows of cell texts (header row first) and the page's paragraphs."""

    def __init__(self):
        super().__init__()
        self.rows, self.paragraphs, self._cell, self._p = [], [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("th", "td"):
            self._cell = ""
        elif tag == "p":
            self._p = ""

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            self.rows[-1].append(self._cell.strip())
            self._cell = None
        elif tag == "p" and self._p is not None:
            self.paragraphs.append(self._p)
            self._p = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._p is not None:
            self._p += data


def page_of(tmp_path, zoo):
    path, _ = write(tmp_path, zoo)
    html = table_html(path)
    parsed = Table()
    parsed.feed(html)
    header = next(row for row in parsed.rows if "mean" in row)
    body = {row[0]: dict(zip(header[-len(row) + 1:], row[1:])) for row in parsed.rows
            if row and row[0] not in ("estimator", "") and len(row) == len(header)}
    return html, body, parsed.paragraphs


def test_page_stars_the_best_estimator_per_column_baselines_last_and_shows_the_headline_slice(tmp_path):
    # the linear slice comes first in the file and is ranked the other way round: the page must still show full
    linear = zoo_rows(mode="linear").assign(score=lambda z: -z["score"])
    zoo = pd.concat([linear, zoo_rows()], ignore_index=True)
    html, body, paragraphs = page_of(tmp_path, zoo)
    board = leaderboard(zoo)
    head = board[(board["mode"] == "full") & (board["outcome"] == "test_acc")]
    assert list(body)[:4] == ["oracle", "noisy", "specialist", "<reversed>"]  # by mean τ_w, best first
    assert set(list(body)[4:]) == {"baseline:source_acc", "baseline:params", "baseline:random"}  # then baselines
    for column in (*TARGETS, MEAN_TARGET):
        rows = head[(head["target"] == column) & ~head["baseline"].astype(bool)]
        best = rows.loc[rows["tau_w"].idxmax()]
        starred = [name for name, cells in body.items() if cells[column].startswith("★")]
        assert starred == [best["estimator"]] == (["specialist"] if column == "b" else ["oracle"]), column
        assert body[best["estimator"]][column] == (f"★ {best['tau_w']:+.2f} [{best['tau_w_ci_low']:+.2f}, "
                                                    f"{best['tau_w_ci_high']:+.2f}]")
    notes = " ".join(paragraphs)
    assert "mode = full" in notes and "outcome = test_acc" in notes


def test_page_names_the_estimators_whose_interval_clears_the_best_static_baseline(tmp_path):
    zoo = zoo_rows()
    html, body, paragraphs = page_of(tmp_path, zoo)
    mean = leaderboard(zoo).query("target == @MEAN_TARGET").set_index("estimator")
    static = mean.loc[["baseline:source_acc", "baseline:params"], "tau_w"]
    # the case is clear-cut: the near-perfect ranking's interval lies far above the weak static baselines, the
    # reversed ranking's interval is the point -1 and the specialist's reaches below them
    assert mean.loc["oracle", "tau_w_ci_low"] > 0.6 and static.max() < 0.3
    assert mean.loc["<reversed>", "tau_w_ci_high"] == -1.0 and mean.loc["specialist", "tau_w_ci_low"] < -0.5
    above = [e for e in ("oracle", "noisy", "specialist", "<reversed>") if mean.loc[e, "tau_w_ci_low"] > static.max()]
    assert above[0] == "oracle" and not {"specialist", "<reversed>"} & set(above)
    summary = next(p for p in paragraphs if "best static baseline" in p)
    assert f"the best static baseline is {static.idxmax()} (τ_w {static.max():+.2f})" in summary
    assert summary.endswith(f"interval entirely above it: {', '.join(above)}.")


def test_page_escapes_estimator_names(tmp_path):
    html, body, _ = page_of(tmp_path, zoo_rows())
    assert "<reversed>" in body  # the parser unescapes: the name survives as text
    assert "&lt;reversed&gt;" in html and "<reversed>" not in html
