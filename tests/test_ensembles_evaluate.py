"""Ensemble metrics from saved probabilities, checked on hand-made examples, and the tidy table."""
import json

import numpy as np
import pytest
import torch

from conftest import onehot
from transferscope.ensembles import evaluate as ev
from transferscope.io import write_npz

LABELS = np.array([0, 1, 2, 0, 1])


def test_fort_normalised_disagreement_by_hand():
    a = onehot([0, 1, 2, 0, 0])  # one error   (err 0.2)
    b = onehot([0, 1, 1, 1, 1])  # two errors  (err 0.4)
    c = onehot([0, 1, 2, 0, 1])  # perfect     (err 0.0)
    # pairs: (a,b) disagree on 3/5, max err 0.4 -> 1.5; (a,c) 1/5 / 0.2 -> 1.0; (b,c) 2/5 / 0.4 -> 1.0
    assert ev.normalised_disagreement([0, 1, 2, 0, 0], [0, 1, 1, 1, 1], LABELS) == pytest.approx(1.5)
    assert ev.diversity([a, b, c], LABELS) == pytest.approx(100 * (1.5 + 1.0 + 1.0) / 3)
    assert ev.diversity([c, c], LABELS) == 0.0  # two perfect members: no disagreement, counted as 0
    with pytest.raises(ValueError):
        ev.diversity([a], LABELS)


def test_accuracy_nll_brier_ece_by_hand():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.25, 0.25], [0.9, 0.05, 0.05]])
    labels = np.array([0, 1, 2, 0])
    assert ev.accuracy(probs, labels) == 0.75
    assert ev.nll(probs, labels) == pytest.approx(-np.mean(np.log([0.7, 0.8, 0.25, 0.9])))
    assert ev.brier(probs, labels) == pytest.approx(np.mean([0.09 + 0.04 + 0.01, 0.01 + 0.04 + 0.01,
                                                             0.25 + 0.0625 + 0.5625, 0.01 + 0.0025 + 0.0025]))
    # confidences 0.7, 0.8, 0.5, 0.9 fall in four different 1/15-wide bins; accuracies 1, 1, 0, 1
    assert ev.ece(probs, labels) == pytest.approx(np.mean([0.3, 0.2, 0.5, 0.1]))
    assert ev.ece(onehot([0, 1, 2]), np.array([0, 1, 2])) == 0.0


def test_ensemble_averages_probabilities_not_votes():
    a = np.array([[0.9, 0.1], [0.6, 0.4]])
    b = np.array([[0.4, 0.6], [0.45, 0.55]])
    assert np.allclose(ev.ensemble_probs([a, b]), [[0.65, 0.35], [0.525, 0.475]])
    m = ev.ensemble_metrics([a, b], np.array([0, 1]))
    assert m["ens_acc"] == 0.5 and m["mean_member_acc"] == 0.5 and "diversity" in m
    assert "diversity" not in ev.ensemble_metrics([a], np.array([0, 1]))


def test_build_table_is_tidy_and_reads_shared_files_once(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for k in range(3):
        probs = rng.dirichlet(np.ones(3), size=5).astype(np.float32)
        npz, pt = tmp_path / f"m{k}.npz", tmp_path / f"m{k}.pt"
        write_npz(npz, probs=probs, labels=LABELS, features=rng.normal(size=(5, 4)).astype(np.float32),
                  info=np.array(json.dumps({"seconds": 1.5 + k})))
        torch.save({"state_dict": {"w": torch.full((2,), float(k)), "bn.running_mean": torch.ones(2)}}, pt)
        files.append((str(npz), str(pt)))
    runs = [{"target": "t", "source": "s", "arch": "a", "seed": 1, "method": m,
             "probs": [f[0] for f in order], "weights": [f[1] for f in order]}
            for m, order in (("sse", files), ("starsse", [files[0], files[2], files[1]]))]
    table = ev.build_table(runs)
    assert list(table.columns) == ev.TABLE_COLUMNS
    assert set(table["metric"]) == set(ev.MEMBER_METRICS) | set(ev.ENSEMBLE_METRICS)
    sse = table[table["method"] == "sse"].set_index(["k", "metric"])["value"]
    assert sse[(1, "dist_weights")] == 0.0 and sse[(3, "dist_weights")] == pytest.approx(2 * np.sqrt(2))
    assert sse[(3, "train_seconds")] == pytest.approx(1.5 + 2.5 + 3.5)
    assert (2, "diversity") in sse and (1, "diversity") not in sse
    starsse = table[table["method"] == "starsse"].set_index(["k", "metric"])["value"]
    assert starsse[(3, "ens_acc")] == sse[(3, "ens_acc")]  # same members, another order
    assert starsse[(2, "member_acc")] == sse[(3, "member_acc")]


def test_summary_is_mean_and_sd_over_runs_with_time_as_a_fraction_of_the_deep_ensemble():
    import pandas as pd

    from transferscope.ensembles.evaluate import final_summary, summary_table

    rows = []
    # two runs: replicates 1 and 2 of pre-training seed 1 (each divided by its own replicate's Deep Ensemble)
    for rep, (de_time, sse_time, sse_acc) in {1: (10.0, 4.0, 0.90), 2: (20.0, 6.0, 0.94)}.items():
        for method, seconds, acc in (("local_de", de_time, 0.92), ("sse", sse_time, sse_acc)):
            keys = dict(target="t", source="s", arch="a", seed=1, replicate=rep, method=method, k=2)
            rows += [{**keys, "metric": "train_seconds", "value": seconds}, {**keys, "metric": "ens_acc", "value": acc}]
    summary = summary_table(pd.DataFrame(rows)).set_index(["method", "metric"])
    assert summary.loc[("sse", "ens_acc"), "mean"] == pytest.approx(0.92)
    assert summary.loc[("sse", "ens_acc"), "sd"] == pytest.approx(np.std([0.90, 0.94], ddof=1))
    assert summary.loc[("sse", "ens_acc"), "n"] == 2
    assert summary.loc[("sse", "time_fraction_of_de"), "mean"] == pytest.approx((0.4 + 0.3) / 2)
    assert summary.loc[("local_de", "time_fraction_of_de"), "mean"] == pytest.approx(1.0)
    final = final_summary(summary.reset_index()).set_index("method")
    assert final.loc["sse", "ens_acc (%)"] == "92.00 ± 2.83" and final.loc["sse", "n"] == 2
    assert final.loc["sse", "time_fraction_of_de"] == "0.35 ± 0.0707"  # not a percentage: significant digits


def test_final_table_keeps_two_decimals_of_percentages():
    import pandas as pd

    from transferscope.ensembles.evaluate import final_summary

    rows = [{"target": "t", "source": "s", "arch": "a", "method": m, "k": 5, "metric": metric, "mean": mean,
             "sd": 0.0012, "n": 6} for m, mean in (("starsse", 0.8741), ("starsse_ce", 0.8744))
            for metric in ("ens_acc", "diversity")]
    final = final_summary(pd.DataFrame(rows)).set_index("method")
    assert final.loc["starsse", "ens_acc (%)"] == "87.41 ± 0.12"
    assert final.loc["starsse_ce", "ens_acc (%)"] == "87.44 ± 0.12"  # the text's 87.41 vs 87.44 stay apart
    assert final.loc["starsse", "diversity"] == "0.87 ± 0.00"
