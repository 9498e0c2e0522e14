"""Our ρ next to a publication's (transferscope.analysis.reference): the Fisher-z test of the difference, the
distance flags, per-checkpoint rows, the README's markdown and counts, and the config keys of analysis.reference."""
import copy
import math
import os

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from transferscope.analysis.correlate import transferability_table
from transferscope.analysis.reference import (COLUMNS, agreement_counts, fisher_z_difference, group_counts,
                                              group_counts_markdown, markdown_table, reference_comparison)
from transferscope.config import ConfigError, load_config, validate_config

from conftest import REPO


def _yes(value) -> bool:
    """A flag cell that is true (a bool column holds numpy bools; one with NaN, Python bools)."""
    return not pd.isna(value) and bool(value)


def _no(value) -> bool:
    return not pd.isna(value) and not bool(value)


def _spearman(rows):
    """A transferability.csv slice by hand: (level, group, layer, ρ, n) per row, target t, metric rsa."""
    return pd.DataFrame([{"target": "t", "arch": "a", "mode": "full", "outcome": "auc", "metric": "rsa",
                          "layer": layer, "level": level, "group": group, "statistic": "spearman", "value": rho,
                          "p_value": np.nan, "n": n, "band": 0.232 if n == 72 else 0.886, "significant": True}
                         for level, group, layer, rho, n in rows])


# --- Fisher z ------------------------------------------------------------------------------------------------------

def test_fisher_z_of_identical_values_is_zero():
    z, p = fisher_z_difference(0.42, 0.42, 72, 72)
    assert float(z) == 0.0 and float(p) == 1.0
    z, p = fisher_z_difference(1.0, 1.0, 6, 6)  # equal, even where atanh is infinite
    assert float(z) == 0.0 and float(p) == 1.0


def test_fisher_z_by_hand():
    # atanh 0.5 = 0.549306, atanh 0.3 = 0.309520; se = √(2 · 1.06 / 69) = 0.175284 → z = 1.367985, p = 0.17132
    z, p = fisher_z_difference(0.5, 0.3, 72, 72)
    assert float(z) == pytest.approx(1.367985, abs=1e-6) and float(p) == pytest.approx(0.171317, abs=1e-6)
    assert float(p) == pytest.approx(2 * stats.norm.sf(float(z)))
    z_back, p_back = fisher_z_difference(0.3, 0.5, 72, 72)
    assert float(z_back) == pytest.approx(-float(z)) and float(p_back) == pytest.approx(float(p))
    # unequal n: thesis A's SS at conv1 against a stronger ρ of ours at n = 72 and a per-checkpoint n of 6
    z, _ = fisher_z_difference(-0.66, -0.36, 72, 6)
    se = math.sqrt(1.06 / 69 + 1.06 / 3)
    assert float(z) == pytest.approx((math.atanh(-0.66) - math.atanh(-0.36)) / se)


def test_fisher_z_is_undefined_without_enough_models_or_at_one():
    z, p = fisher_z_difference([0.5, 0.5, 1.0, -1.0], [0.3, 0.3, 0.9, 0.2], [3, 72, 6, 6], [72, np.nan, 6, 6])
    assert np.isnan(z).all() and np.isnan(p).all()


def test_fisher_z_holds_its_level_between_two_independent_experiments():
    """Same true ρ = 0.5 in two independent experiments (n = 72 and 30): the test rejects about 5 % of the time,
    which checks the Fieller–Hartley–Pearson variance 1.06/(n − 3) of atanh of Spearman's ρ."""
    rng = np.random.default_rng(0)

    def rhos(n, reps=4000):
        x = rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], size=(reps, n))
        return np.array([stats.spearmanr(a[:, 0], a[:, 1]).statistic for a in x])

    _, p = fisher_z_difference(rhos(72), rhos(30), 72, 30)
    assert 0.03 < np.mean(p < 0.05) < 0.075


# --- the comparison table ------------------------------------------------------------------------------------------

def test_abs_diff_flags_and_test_per_value():
    table = _spearman([("all", "", "conv1", 0.70, 72), ("all", "", "pool1", 0.61, 72), ("all", "", "fc1", -0.50, 72),
                       ("all", "", "out", np.nan, 72)])
    reference = {"label": "toy thesis, read off its figures", "n": {"all": 72},
                 "values": {"t": {"rsa": {"conv1": 0.60, "pool1": 0.60, "fc1": 0.30, "out": 0.5}}}}
    rows = reference_comparison(table, reference).set_index("layer")
    assert list(reference_comparison(table, reference).columns) == COLUMNS
    assert list(rows.index) == ["conv1", "pool1", "fc1", "out"]  # forward order of transferability.csv
    assert rows.loc["conv1", "abs_diff"] == pytest.approx(0.1)
    assert _yes(rows.loc["conv1", "within_tenth"]) and _no(rows.loc["conv1", "within_reading"])  # a tie is in
    assert _yes(rows.loc["pool1", "within_reading"]) and _yes(rows.loc["pool1", "within_tenth"])
    assert rows.loc["fc1", "abs_diff"] == pytest.approx(0.8) and _no(rows.loc["fc1", "same_sign"])
    assert _yes(rows.loc["fc1", "differs"]) and _no(rows.loc["conv1", "differs"])
    z, p = fisher_z_difference(0.70, 0.60, 72, 72)
    assert rows.loc["conv1", "z"] == pytest.approx(float(z))
    assert rows.loc["conv1", "p_diff"] == pytest.approx(float(p))
    for column in ("abs_diff", "within_reading", "within_tenth", "z", "p_diff", "differs", "same_sign"):
        assert pd.isna(rows.loc["out", column]), column  # ours undefined: nothing to compare
    assert (rows["n_reference"] == 72).all() and (rows["reading_error"] == 0.02).all()
    assert (rows["reference_label"] == "toy thesis, read off its figures").all()


def test_reading_error_is_configurable():
    table = _spearman([("all", "", "conv1", 0.65, 72)])
    reference = {"reading_error": 0.05, "values": {"t": {"rsa": {"conv1": 0.60}}}}
    row = reference_comparison(table, reference).iloc[0]
    assert _yes(row["within_reading"]) and row["reading_error"] == 0.05


def test_per_checkpoint_rows_match_their_checkpoint():
    from test_analysis import _toy_tables

    table = transferability_table(*_toy_tables())
    reference = {"n": {"all": 72, "per_checkpoint": 6}, "values": {"t": {"rsa": {"fc1": 0.8}}},
                 "per_checkpoint": {"t": {"rsa": {"fc1": {"final": 0.9, "step0": -0.2, "epoch9": 0.5}}}}}
    comparison = reference_comparison(table, reference)
    assert list(zip(comparison["level"], comparison["group"])) == [
        ("all", ""), ("per_checkpoint", "step0"), ("per_checkpoint", "final"), ("per_checkpoint", "epoch9")]
    rows = comparison[comparison["level"] == "per_checkpoint"].set_index("group")
    spearman = table[(table["statistic"] == "spearman") & (table["level"] == "per_checkpoint")].set_index("group")
    for checkpoint in ("step0", "final"):
        assert rows.loc[checkpoint, "ours"] == pytest.approx(spearman.loc[checkpoint, "value"])
        assert rows.loc[checkpoint, "n"] == 4 and rows.loc[checkpoint, "n_reference"] == 6
    assert _no(rows.loc["step0", "same_sign"]) and _yes(rows.loc["final", "same_sign"])
    assert _yes(rows.loc["final", "within_tenth"])  # ours 1.0 against 0.9
    assert np.isnan(rows.loc["final", "z"])  # ours is 1: atanh infinite, no test
    assert np.isnan(rows.loc["epoch9", "ours"]) and pd.isna(rows.loc["epoch9", "same_sign"])  # not in the table


def test_old_style_reference_with_values_only_still_works(tmp_path):
    from test_analysis import _toy_tables

    table = transferability_table(*_toy_tables())
    comparison = reference_comparison(table, {"outcome": "auc", "values": {"t": {"rsa": {"fc1": 0.8}}}})
    assert len(comparison) == 1 and comparison["level"].tolist() == ["all"] and comparison["group"].tolist() == [""]
    row = comparison.iloc[0]
    assert row["ours"] == pytest.approx(1.0) and _yes(row["same_sign"]) and row["reading_error"] == 0.02
    assert np.isnan(row["n_reference"]) and np.isnan(row["z"]) and pd.isna(row["differs"])
    comparison.to_csv(tmp_path / "c.csv", index=False)
    text = markdown_table(pd.read_csv(tmp_path / "c.csv"))
    assert "| rsa | +1.00 / +0.80 ✓ * |" in text and "not tested (no n of the reference)" in text


def test_markdown_counts_and_per_checkpoint_table_read_back_from_csv(tmp_path):
    table = _spearman([("all", "", "conv1", 0.70, 72), ("all", "", "pool1", 0.61, 72), ("all", "", "fc1", -0.50, 72),
                       ("per_checkpoint", "step0", "fc1", 0.2, 6), ("per_checkpoint", "final", "fc1", 0.9, 6)])
    reference = {"label": "toy thesis, read off its figures", "reading_error": 0.02,
                 "n": {"all": 72, "per_checkpoint": 6},
                 "values": {"t": {"rsa": {"conv1": 0.60, "pool1": 0.60, "fc1": 0.30}}},
                 "per_checkpoint": {"t": {"rsa": {"fc1": {"final": 0.88, "step0": -0.3}}}}}
    reference_comparison(table, reference).to_csv(tmp_path / "c.csv", index=False)
    comparison = pd.read_csv(tmp_path / "c.csv")
    assert agreement_counts(comparison[comparison["level"] == "all"]) == {
        "values": 3, "defined": 3, "same_sign": 2, "within_reading": 1, "within_tenth": 2, "tested": 3, "different": 1}
    text = markdown_table(comparison)
    assert text.startswith("Reference: toy thesis, read off its figures (values transcribed to ±0.02).")
    assert "| metric | conv1 | pool1 | fc1 |" in text and "| rsa | +0.70 / +0.60 ✓ * |" in text
    assert "-0.50 / +0.30 * ≠" in text
    assert ("Of 3 values: same sign 2, within the reading error (±0.02) 1, within 0.1 2, significantly different 1 "
            "of 3 (Fisher z of ours − reference, n = 72 and the reference's n = 72, p < 0.05).") in text
    assert "**t**, across sources, per checkpoint (n = 6, band ±0.886;" in text
    assert "| metric layer | step0 | final |" in text and "| rsa fc1 | +0.20 / -0.30 * | +0.90 / +0.88 ✓ * |" in text
    assert "Of 2 values: same sign 1, within the reading error (±0.02) 1, within 0.1 1," in text



def test_report_page_renders_the_new_columns_and_the_counts(tmp_path):
    from transferscope.report_tables import table_html

    table = _spearman([("all", "", "conv1", 0.70, 72), ("per_checkpoint", "final", "fc1", 0.9, 6)])
    reference = {"label": "toy", "n": {"all": 72, "per_checkpoint": 6}, "values": {"t": {"rsa": {"conv1": 0.60}}},
                 "per_checkpoint": {"t": {"rsa": {"fc1": {"final": 0.88}}}}}
    reference_comparison(table, reference).to_csv(tmp_path / "reference_comparison.csv", index=False)
    page = table_html(tmp_path / "reference_comparison.csv")
    for column in ("abs_diff", "within_reading", "within_tenth", "z", "p_diff", "differs", "n_reference"):
        assert f"<th>{column}</th>" in page or f"{column} = " in page, column  # a constant column: in the notes
    assert "t, level all: of 1 value: same sign 1, within the reading error (±0.02) 0, within 0.1 1," in page
    assert "t, level per_checkpoint: of 1 value: same sign 1, within the reading error (±0.02) 1," in page

def test_group_counts_leave_out_the_input_layer():
    from test_analysis import _toy_tables

    metrics, outcomes = _toy_tables()
    inputs = metrics[metrics["metric"] == "rsa"].assign(layer="in", value=5.0)  # the same input for every model
    table = transferability_table(pd.concat([inputs, metrics], ignore_index=True), outcomes)
    assert table.query("layer == 'in' and statistic == 'spearman'")["value"].isna().all()  # ρ undefined at `in`
    counts = group_counts(table).set_index("level")
    assert counts.loc["per_checkpoint", "values"] == 2  # 2 checkpoints × fc1; `in` left out
    assert counts.loc["per_checkpoint", "defined"] == 2 and counts.loc["per_checkpoint", "positive"] == 2
    assert counts.loc["per_source", "values"] == 4 and counts.loc["per_source", "n"] == 2
    assert "| t | per_checkpoint | rsa | 4 |  | 2 | 2 | 0 | 2 | 0 |" in group_counts_markdown(group_counts(table))


# --- config keys ---------------------------------------------------------------------------------------------------

def _base():
    with open(os.path.join(REPO, "config.yaml")) as fh:
        config = yaml.safe_load(fh)
    config.setdefault("analysis", {})["metrics"] = ["rsa", "twonn"]
    return config


def _with_reference(reference: dict) -> dict:
    config = _base()
    config["analysis"]["reference"] = copy.deepcopy(reference)
    return config


OLD_STYLE = {"label": "x", "values": {"digits59_fewshot": {"rsa": {"fc1": 0.8}}}}


def test_old_style_reference_config_validates_with_defaults():
    reference = validate_config(_with_reference(OLD_STYLE))["analysis"]["reference"]
    assert reference["n"] == {} and reference["per_checkpoint"] == {} and reference["reading_error"] == 0.02
    assert reference["level"] == "all" and reference["values"] == OLD_STYLE["values"]


def test_new_reference_keys_validate():
    reference = {**OLD_STYLE, "n": {"all": 72, "per_checkpoint": 6}, "reading_error": 0.01,
                 "per_checkpoint": {"digits59_fewshot": {"rsa": {"fc1": {"final": 0.9, "epoch1": -0.5}}}}}
    assert validate_config(_with_reference(reference))["analysis"]["reference"]["n"] == {"all": 72, "per_checkpoint": 6}


@pytest.mark.parametrize("edit, named", [
    ({"n": {"per_souce": 12}}, "per_souce"),  # not a level
    ({"n": {"all": 3}}, "analysis.reference.n.all"),  # the test needs n > 3
    ({"n": {"per_seed_pooled": 72}}, "analysis.reference.n.per_seed_pooled"),  # values are at level all
    ({"reading_error": -0.02}, "analysis.reference.reading_error"),
    ({"per_chekpoint": {}}, "per_chekpoint"),
    ({"per_checkpoint": {"digits59_fewshot": {"rsa": {"fc1": {"epoch9": 0.5}}}}},
     "analysis.reference.per_checkpoint.digits59_fewshot.rsa.fc1.epoch9"),
    ({"per_checkpoint": {"digits59_fewshot": {"rsa": {"fc1": {"final": 1.5}}}}},
     "analysis.reference.per_checkpoint.digits59_fewshot.rsa.fc1.final"),
    ({"per_checkpoint": {"mnist": {"rsa": {"fc1": {"final": 0.5}}}}}, "analysis.reference.per_checkpoint.mnist"),
    ({"per_checkpoint": {"digits59_fewshot": {"leep": {"out": {"final": 0.5}}}}},
     "analysis.reference.per_checkpoint.digits59_fewshot.leep"),
    ({"values": {"digits59_fewshot": {"rsa": {"pool9": 0.5}}}}, "analysis.reference.values.digits59_fewshot.rsa.pool9"),
])
def test_bad_reference_names_the_key(edit, named):
    with pytest.raises(ConfigError) as info:
        validate_config(_with_reference({**OLD_STYLE, **edit}))
    assert named in str(info.value)


def test_thesis_a_configs_carry_the_thesis_values_and_n():
    cnn = load_config(os.path.join(REPO, "configs", "thesis_a_cnn.yaml"))["analysis"]["reference"]
    assert set(cnn["values"]) == {"mnist", "fashionmnist"} and cnn["n"] == {"all": 72, "per_checkpoint": 6}
    fashion = cnn["values"]["fashionmnist"]  # §8.3's FashionMNIST row, spot checks
    assert fashion["twonn"]["conv2"] == -0.73 and fashion["rsa"]["pool2"] == 0.79
    assert fashion["sum_of_squares"]["out"] == -0.24
    for values in cnn["values"].values():
        assert {metric: len(layers) for metric, layers in values.items()} == {"twonn": 6, "sum_of_squares": 6, "rsa": 6}
    mini = load_config(os.path.join(REPO, "configs", "thesis_a_mini.yaml"))["analysis"]["reference"]
    assert mini["values"]["mnist_target"] == cnn["values"]["mnist"] and mini["n"]["all"] == 72
    for reference in (cnn, mini):
        assert "read off its figures" in reference["label"] and reference["reading_error"] == 0.02
