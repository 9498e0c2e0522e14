"""Our ensembles next to a published table (thesis B's Table 4.1): means, paired differences, signs, times."""
import numpy as np
import pandas as pd
import pytest

from transferscope.ensembles.reference import markdown_table, reference_comparison

# per run (seed, replicate): (member_acc, diversity, ens_acc, train_seconds) at k = K
RUNS = {
    "starsse": {(1, 1): (0.80, 60.0, 0.85, 10.0), (1, 2): (0.82, 62.0, 0.86, 12.0), (2, 1): (0.81, 61.0, 0.87, 11.0)},
    "sse": {(1, 1): (0.78, 70.0, 0.84, 10.0), (1, 2): (0.80, 71.0, 0.855, 12.0), (2, 1): (0.79, 69.0, 0.86, 11.0)},
    "local_de": {(1, 1): (0.82, 50.0, 0.86, 20.0), (1, 2): (0.83, 52.0, 0.87, 24.0), (2, 1): (0.82, 51.0, 0.88, 22.0)},
}
REFERENCE = {"label": "text", "baseline": "starsse", "rows": {
    "local_de": {"text": "Local DE", "member_acc": [86.02, 0.09], "diversity": [66.25, 3.56], "ens_acc": [87.33, 0.21]},
    "starsse": {"text": "StarSSE", "member_acc": [85.88, 0.25], "diversity": [68.12, 1.15], "ens_acc": [87.41, 0.12],
                "time": 1.0},
    "sse": {"text": "SSE", "member_acc": [85.52, 0.34], "diversity": 71.57, "ens_acc": [87.11, 0.06], "time": 0.9},
    "global_de": {"text": "Global DE", "ens_acc": 88.1},  # not run: kept with n = 0
}}


def ensembles_csv() -> pd.DataFrame:
    rows = []
    for method, runs in RUNS.items():
        for (seed, rep), values in runs.items():
            keys = dict(target="t", source="s", arch="a", seed=seed, replicate=rep, method=method)
            for k in (1, 5):  # k < K rows must be ignored
                scale = 1.0 if k == 5 else 0.5
                for metric, value in zip(("mean_member_acc", "diversity", "ens_acc", "train_seconds"), values):
                    rows.append({**keys, "k": k, "metric": metric, "value": value * scale})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def comparison():
    return reference_comparison(ensembles_csv(), REFERENCE).set_index(["method", "metric"])


def test_ours_is_mean_sd_n_of_the_full_ensembles_in_the_text_units(comparison):
    row = comparison.loc[("sse", "ens_acc")]
    assert row["ours_mean"] == pytest.approx(100 * np.mean([0.84, 0.855, 0.86]))
    assert row["ours_sd"] == pytest.approx(100 * np.std([0.84, 0.855, 0.86], ddof=1))
    assert row["n"] == 3 and row["text_mean"] == 87.11 and row["text_sd"] == 0.06
    assert comparison.loc[("sse", "diversity"), "ours_mean"] == pytest.approx(70.0)  # already × 100
    assert np.isnan(comparison.loc[("sse", "diversity"), "text_sd"])  # a bare mean in the reference


def test_differences_are_paired_by_run_and_flagged_beyond_two_sd(comparison):
    acc = comparison.loc[("sse", "member_acc")]
    deltas = 100 * (np.array([0.78, 0.80, 0.79]) - np.array([0.80, 0.82, 0.81]))  # -2 in every run: sd 0
    assert acc["delta_mean"] == pytest.approx(deltas.mean()) and acc["delta_sd"] == pytest.approx(0.0, abs=1e-9)
    assert acc["text_delta"] == pytest.approx(85.52 - 85.88)
    assert acc["same_sign"] is True or acc["same_sign"] == True  # noqa: E712 - both lower than StarSSE
    assert acc["delta_n"] == 3 and acc["baseline"] == "starsse"
    assert acc["text_beyond_2sd"] == False  # noqa: E712 - |85.52 − 85.88| < 2 √(0.34² + 0.25²)
    assert comparison.loc[("local_de", "diversity"), "text_beyond_2sd"] == False  # noqa: E712 - 1.87 < 2 √(3.56² + 1.15²)
    ens = comparison.loc[("sse", "ens_acc")]
    paired = 100 * (np.array([0.84, 0.855, 0.86]) - np.array([0.85, 0.86, 0.87]))
    assert ens["delta_sd"] == pytest.approx(paired.std(ddof=1))
    assert ens["beyond_2sd"] == (abs(paired.mean()) > 2 * paired.std(ddof=1))
    assert ens["text_beyond_2sd"] == True  # noqa: E712 - |87.11 − 87.41| = 0.30 > 2 √(0.06² + 0.12²) = 0.27
    div = comparison.loc[("local_de", "diversity")]  # ours lower than StarSSE, the text's lower too
    assert div["delta_mean"] == pytest.approx(-10.0) and div["same_sign"] == True  # noqa: E712
    assert comparison.loc[("local_de", "ens_acc"), "same_sign"] == False  # noqa: E712 - ours +1, the text's -0.08
    assert np.isnan(comparison.loc[("starsse", "ens_acc"), "delta_mean"])  # the baseline has no difference


def test_time_ratios_are_paired_by_run(comparison):
    assert comparison.loc[("sse", "time_vs_starsse"), "ours_mean"] == pytest.approx(1.0)
    assert comparison.loc[("sse", "time_vs_starsse"), "text_mean"] == 0.9
    assert comparison.loc[("starsse", "time_vs_local_de"), "ours_mean"] == pytest.approx(0.5)
    assert comparison.loc[("local_de", "time_vs_local_de"), "ours_mean"] == pytest.approx(1.0)


def test_a_method_not_run_keeps_its_row_and_rows_follow_the_table_order(comparison):
    assert comparison.loc[("global_de", "ens_acc"), "n"] == 0
    assert np.isnan(comparison.loc[("global_de", "ens_acc"), "ours_mean"])
    methods = list(dict.fromkeys(comparison.index.get_level_values("method")))
    assert methods == ["starsse", "sse", "local_de", "global_de"]  # ensembles.csv's order, then the rest


def test_markdown_table_reads_back_from_csv(comparison, tmp_path):
    path = tmp_path / "c.csv"
    comparison.reset_index().to_csv(path, index=False)
    text = markdown_table(pd.read_csv(path))
    assert "| sse (SSE) | 79.00 ± 1.00 | 85.52 ± 0.34 | -2.00 / -0.36 ✓ * |" in text  # 0.36 < 2 √(.34² + .25²)
    assert "+1.00 / -0.08 ✗ * |" in text  # Local DE ensemble accuracy: ours up, the text's down
    assert "| local_de (Local DE) |" in text and "✗" in text
    assert "Δ with the text's sign: avg. acc. 2 of 2, div. 2 of 2, ens. acc. 1 of 2;" in text
    assert "Δ = method − starsse paired by run" in text
