"""Thesis A's figures (issue 12, part 4) drawn from small synthetic tables with the columns the workflow writes:
each test draws to a temporary PNG and checks the file and the panels, lines and marks that carry the content."""
import importlib
import itertools

import numpy as np
import pandas as pd
import pytest

from conftest import saved_figures
from transferscope.plots._common import checkpoint_order, is_significant

SOURCES, TARGETS, SEEDS = ["a", "b"], ["t1", "t2"], [1, 2]
# pre-training checkpoints: names whose step order is not their name order (step100 comes after epoch1 here)
CKPT_STEPS = {"step0": 0, "epoch1": 20, "step100": 100, "final": 200}
POINT_STEPS = {"step0": 0, "step4": 4, "epoch4": 40, "final": 80}
LAYERS = ["in", "conv1", "pool1", "out"]


def write(tmp_path, name, rows):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


@pytest.fixture
def pretrain_points(tmp_path):
    rows = [dict(source=s, arch=arch, seed=seed, checkpoint=c, step=step, epoch=step / 20,
                 test_acc=0.1 + 0.8 * step / 200 + 0.01 * seed, test_loss=1.0, val_acc=np.nan, val_loss=np.nan)
            for s, arch, seed, (c, step) in itertools.product(SOURCES, ["cnn", "vgg"], SEEDS, CKPT_STEPS.items())]
    return write(tmp_path, "pretrain_points.csv", rows)


def scratch_acc(step):
    return 0.1 + 0.8 * min(step, 40) / 40


def tuned_acc(source, ckpt, step):
    """Source a helps most at step4 (+40 points from 'final'), b less; the help fades by the end."""
    boost = {"a": 0.4, "b": 0.2}[source] * CKPT_STEPS[ckpt] / 200
    return min(1.0, scratch_acc(step) + (boost if 0 < step < 80 else 0.0))


@pytest.fixture
def curves(tmp_path):
    rows = []
    for target, seed, (point, step) in itertools.product(TARGETS, SEEDS, POINT_STEPS.items()):
        base = dict(target=target, arch="cnn", seed=seed, point=point, step=step, epoch=step / 10, test_loss=1.0)
        rows.append(dict(base, source="scratch", checkpoint="none", mode="full", test_acc=scratch_acc(step)))
        for source, ckpt, mode in itertools.product(SOURCES, CKPT_STEPS, ["full", "linear"]):
            rows.append(dict(base, source=source, checkpoint=ckpt, mode=mode, test_acc=tuned_acc(source, ckpt, step)))
    return write(tmp_path, "finetune_curves.csv", rows)


@pytest.fixture
def metrics(tmp_path):
    rows = []
    for target, source, seed, ckpt, layer in itertools.product(TARGETS, SOURCES, SEEDS, CKPT_STEPS, LAYERS):
        key = dict(target=target, source=source, arch="cnn", seed=seed, checkpoint=ckpt, layer=layer, sd=0.0,
                   ci_low=np.nan, ci_high=np.nan)
        depth = LAYERS.index(layer)
        for metric, value in [("sum_of_squares", 1 - 0.1 * depth), ("rsa", 0.1 * depth), ("twonn", 10 - depth),
                              ("constant_rows", 0)]:
            rows.append(dict(key, metric=metric, value=value + CKPT_STEPS[ckpt] / 1000 + 0.001 * seed))
        if layer == "out":
            rows.append(dict(key, metric="logme", value=CKPT_STEPS[ckpt] / 100))
    return write(tmp_path, "metrics.csv", rows)


@pytest.fixture
def outcomes(tmp_path):
    rows = [dict(target=t, source=s, arch="cnn", seed=seed, checkpoint=c, mode=m, outcome=o, value=0.5 + 0.01 * seed)
            for t, s, seed, c, m, o in itertools.product(TARGETS, SOURCES, SEEDS, CKPT_STEPS, ["full", "linear"],
                                                         ["test_acc", "auc", "gain"])]
    return write(tmp_path, "outcomes.csv", rows)


@pytest.fixture
def transferability(tmp_path):
    """Level all: rsa@pool1 is the best predictor (ρ = 0.9), sum_of_squares@conv1 has p < 0.05 but is not
    significant; the within-group levels reach larger |ρ| (which level-all figures must ignore)."""
    rows = []
    groups = {"all": [np.nan], "per_source": SOURCES, "per_checkpoint": list(CKPT_STEPS), "per_seed": SEEDS,
              "per_seed_pooled": [np.nan]}
    n = {"all": 8, "per_source": 4, "per_checkpoint": 2, "per_seed": 8, "per_seed_pooled": 16}
    for target, level, mode, outcome, metric, layer, stat in itertools.product(
            TARGETS, groups, ["full", "linear"], ["auc", "test_acc"], ["sum_of_squares", "rsa", "twonn", "logme"],
            LAYERS, ["spearman", "pearson"]):
        if metric == "logme" and layer != "out":
            continue
        for k, group in enumerate(groups[level]):
            value = -0.3 if metric == "sum_of_squares" else 0.5
            value = 0.9 if (metric, layer, level) == ("rsa", "pool1", "all") else value
            value = -0.99 if level != "all" and k == 0 else value
            band = {"all": 0.7, "per_source": 0.8 + 0.05 * k, "per_checkpoint": np.nan}.get(level, 0.7)
            spearman = stat == "spearman"
            rows.append(dict(target=target, arch="cnn", mode=mode, outcome=outcome, metric=metric, layer=layer,
                             level=level, group=group, statistic=stat, value=value,
                             p_value=0.01 if metric == "sum_of_squares" else 0.2, n=n[level],
                             band=band if spearman else np.nan,
                             significant=(abs(value) > band) if spearman else np.nan,
                             ci_low=np.nan, ci_high=np.nan, seed_sd=0.1, seed_min=0.0, seed_max=1.0))
    return write(tmp_path, "transferability.csv", rows)


def draw(monkeypatch, tmp_path, module_name, **kwargs):
    """Draw with ``transferscope.plots.<module_name>`` to a PNG; return the figure (kept for inspection)."""
    module = importlib.import_module(f"transferscope.plots.{module_name}")
    drawn = saved_figures(monkeypatch, module)
    out = tmp_path / f"{module_name}.png"
    module.draw(**kwargs, out=str(out), style={"dpi": 40})
    assert out.is_file() and out.stat().st_size > 0
    return drawn[0]


def visible(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def test_checkpoint_order_follows_recorded_steps(pretrain_points):
    names = ["final", "step100", "epoch1", "step0"]
    assert checkpoint_order(names, pretrain_points) == ["step0", "epoch1", "step100", "final"]
    assert checkpoint_order(names) == ["step0", "step100", "epoch1", "final"]  # by name alone


def test_significant_column_read_from_csv():
    assert is_significant(pd.Series([True, "False", np.nan, "True"])).tolist() == [True, False, False, True]


def test_pretrain_points(monkeypatch, tmp_path, pretrain_points):
    fig = draw(monkeypatch, tmp_path, "pretrain_points", table=pretrain_points)
    axes = visible(fig)
    assert len(axes) == 2  # one panel per architecture
    for ax in axes:
        assert len(ax.get_lines()) == len(SOURCES)  # a mean line per source
        assert ax.get_xscale() == "symlog" and ax.get_xlim()[0] == 0  # step 0 shown
        assert sum(len(c.get_offsets()) for c in ax.collections) == len(SOURCES) * len(SEEDS) * len(CKPT_STEPS)
        assert max(ax.get_lines()[0].get_ydata()) > 80  # percent


def test_finetune_curves(monkeypatch, tmp_path, curves, pretrain_points):
    fig = draw(monkeypatch, tmp_path, "finetune_curves", table=curves, pretrain_points=pretrain_points)
    axes = visible(fig)
    assert len(axes) == len(SOURCES) * len(TARGETS)
    for ax in axes:
        lines = ax.get_lines()
        assert [line.get_label() for line in lines] == ["step0", "epoch1", "step100", "final", "scratch"]
        assert lines[-1].get_linestyle() == "--"
        assert ax.get_xscale() == "symlog"
    assert "mode full" in fig._suptitle.get_text()


def test_gain_curves_peak_from_last_checkpoint(monkeypatch, tmp_path, curves, pretrain_points):
    fig = draw(monkeypatch, tmp_path, "gain_curves", table=curves, pretrain_points=pretrain_points)
    axes = visible(fig)
    assert len(axes) == len(TARGETS)
    labels = axes[0].get_legend_handles_labels()[1]
    assert labels == ["a (peak +40.0 at step 4)", "b (peak +20.0 at step 4)"]
    assert "'final'" in fig._suptitle.get_text()
    fig = draw(monkeypatch, tmp_path, "gain_curves", table=curves, checkpoint="epoch1")
    assert visible(fig)[0].get_legend_handles_labels()[1][0].startswith("a (peak +4.0 at step")


def test_transfer_gain_defaults_to_peak_and_final(monkeypatch, tmp_path, curves):
    fig = draw(monkeypatch, tmp_path, "transfer_gain", table=curves, checkpoint="final")
    titles = [ax.get_title() for ax in visible(fig)]
    assert len(titles) == 2 * 2  # modes × (peak, final)
    assert "point step4 (peak of the mean gain)" in titles[0] and titles[1].endswith("point final")
    fig = draw(monkeypatch, tmp_path, "transfer_gain", table=curves, checkpoint="final", points=["epoch4"])
    assert len(visible(fig)) == 2


def test_metrics_by_checkpoint(monkeypatch, tmp_path, metrics, pretrain_points):
    fig = draw(monkeypatch, tmp_path, "metrics_by_checkpoint", table=metrics, pretrain_points=pretrain_points)
    axes = visible(fig)
    assert len(axes) == 3 * len(SOURCES)  # metrics with > 1 layer (not logme, not constant_rows) × sources
    for ax in axes:
        assert [line.get_label() for line in ax.get_lines()] == list(CKPT_STEPS)
    assert [t.get_text() for t in axes[-1].get_xticklabels()] == LAYERS[1:]  # the input layer left out
    assert "target t1" in fig._suptitle.get_text()
    fig = draw(monkeypatch, tmp_path, "metrics_by_checkpoint", table=metrics, target="t2")
    assert "target t2" in fig._suptitle.get_text()


def test_correlation_levels(monkeypatch, tmp_path, transferability, pretrain_points):
    fig = draw(monkeypatch, tmp_path, "correlation_levels", table=transferability, pretrain_points=pretrain_points)
    axes = visible(fig)
    assert len(axes) == 4 * len(TARGETS) * 2  # metrics × (targets × levels)
    per_source, per_checkpoint = axes[0], axes[1]
    assert len(per_source.get_lines()) == 1 + len(SOURCES)  # zero line + a line per source
    assert len(per_checkpoint.get_lines()) == 1 + len(CKPT_STEPS)
    assert len(per_source.patches) == 1 and "widest" in per_source.get_title()  # bands 0.8 and 0.85 differ
    assert len(per_checkpoint.patches) == 0 and "no band" in per_checkpoint.get_title()
    # source a has ρ = -0.99 beyond the band: filled markers; source b inside: hollow markers
    filled = [c for c in per_source.collections if len(c.get_offsets()) and c.get_facecolors()[0][:3].tolist()
              != [1.0, 1.0, 1.0]]
    assert sum(len(c.get_offsets()) for c in filled) == len(LAYERS) - 1
    assert "AUC" in fig._suptitle.get_text()


def test_correlation_heatmap_level_all_and_band(monkeypatch, tmp_path, transferability):
    fig = draw(monkeypatch, tmp_path, "correlation_heatmap", table=transferability)
    axes = visible(fig)
    assert len(axes) == len(TARGETS)
    texts = [t.get_text() for t in axes[0].texts]
    assert len(texts) == 3 * 3 + 1  # three metrics on three layers, logme at out only
    assert texts.count("+0.90*") == 1  # only the cell beyond the band, not the p < 0.05 cells
    assert "-0.30" in texts and not any(t.startswith("-0.99") for t in texts)  # level all only
    assert "n = 8, band ±0.700" in axes[0].get_title()


def test_best_predictor_on_seed_means(monkeypatch, tmp_path, transferability, metrics, outcomes):
    fig = draw(monkeypatch, tmp_path, "best_predictor", transferability=transferability, metrics=metrics,
               outcomes=outcomes, outcome="test_acc")
    axes = visible(fig)
    assert len(axes) == len(TARGETS)
    assert "rsa @ pool1" in axes[0].get_title() and "n = 8" in axes[0].get_title()
    points = axes[0].collections[0].get_offsets()
    assert len(points) == len(SOURCES) * len(CKPT_STEPS)  # one point per (source, checkpoint): seed means
    assert np.allclose(np.asarray(points)[:, 1], 51.5)  # mean of 0.51 and 0.52, in percent


@pytest.mark.parametrize("module_name", ["gain_curves", "transfer_gain"])
def test_gain_figures_say_so_without_a_scratch_baseline(tmp_path, curves, pretrain_points, module_name):
    """A config without finetune.scratch (thesis_b_mini) has no gain: the figure says why instead of failing."""
    no_scratch = tmp_path / "no_scratch.csv"
    frame = pd.read_csv(curves)
    frame[frame["source"] != "scratch"].to_csv(no_scratch, index=False)
    module = importlib.import_module(f"transferscope.plots.{module_name}")
    out = tmp_path / f"{module_name}.png"
    module.draw(table=str(no_scratch), out=str(out), style={"dpi": 40})
    assert out.stat().st_size > 0
