"""Ensemble evaluation from saved test-set probabilities (new metrics never need retraining).

Pure functions on arrays: ``probs`` are N×C softmax probabilities, ``labels`` N integer classes. An ensemble
averages member **probabilities** (not logits); "the first k members" are taken in training order.

Metrics (accuracies are fractions 0..1):

- accuracy: mean of argmax(p) == y;
- NLL: −mean log p_y (probabilities clipped at 1e-12);
- ECE (15 equal-width confidence bins): Σ_b |B_b|/N · |acc(B_b) − conf(B_b)| with confidence = max_c p_c,
  a prediction falling in (lo, hi] (the first bin also takes 0);
- Brier: mean over samples of Σ_c (p_c − 1[c = y])²;
- diversity: the normalised pairwise disagreement of Fort et al. (2020) as used by thesis B,
  100 · mean over member pairs of P[pred_a ≠ pred_b] / max(err_a, err_b) (a pair of two perfect members counts 0).
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

TABLE_ARRAYS = ("probs", "labels", "features")  # what build_table reads of a member file
TABLE_COLUMNS = ["target", "source", "arch", "seed", "replicate", "method", "k", "metric", "value"]
MEMBER_METRICS = ("member_acc", "member_nll", "member_seconds", "dist_weights", "dist_features")
ENSEMBLE_METRICS = ("ens_acc", "ens_nll", "ens_ece", "ens_brier", "diversity", "mean_member_acc", "train_seconds")


def _check(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise ValueError(f"probs must be N×C and labels N, got {probs.shape} and {labels.shape}")
    return probs, labels


def accuracy(probs, labels) -> float:
    probs, labels = _check(probs, labels)
    return float((probs.argmax(1) == labels).mean())


def nll(probs, labels, eps: float = 1e-12) -> float:
    probs, labels = _check(probs, labels)
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], eps, None)).mean())


def ece(probs, labels, bins: int = 15) -> float:
    probs, labels = _check(probs, labels)
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)  # (lo, hi]
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(total)


def brier(probs, labels) -> float:
    probs, labels = _check(probs, labels)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(labels)), labels] = 1.0
    return float(((probs - onehot) ** 2).sum(1).mean())


def normalised_disagreement(preds_a, preds_b, labels) -> float:
    """P[pred_a ≠ pred_b] / max(err_a, err_b) for one pair of label predictions (0 when both are perfect)."""
    preds_a, preds_b, labels = (np.asarray(v) for v in (preds_a, preds_b, labels))
    disagree = float((preds_a != preds_b).mean())
    worst = max(float((preds_a != labels).mean()), float((preds_b != labels).mean()))
    return 0.0 if worst == 0.0 else disagree / worst


def diversity(member_probs: list, labels) -> float:
    """Fort et al.'s normalised disagreement, ×100, averaged over all pairs of members (needs ≥ 2 members)."""
    if len(member_probs) < 2:
        raise ValueError("diversity needs at least two members")
    return _pair_disagreement([np.asarray(p).argmax(1) for p in member_probs], labels, {})


def ensemble_probs(member_probs: list) -> np.ndarray:
    """Mean of the members' probabilities."""
    return np.mean(np.stack([np.asarray(p, dtype=np.float64) for p in member_probs]), axis=0)


def mean_probs_metrics(mean: np.ndarray, labels) -> dict[str, float]:
    """Accuracy, NLL, ECE and Brier score of an ensemble's mean probabilities (N×C)."""
    return {"ens_acc": accuracy(mean, labels), "ens_nll": nll(mean, labels), "ens_ece": ece(mean, labels),
            "ens_brier": brier(mean, labels)}


def ensemble_metrics(member_probs: list, labels) -> dict[str, float]:
    """Metrics of the ensemble of all given members (diversity only for two or more)."""
    out = mean_probs_metrics(ensemble_probs(member_probs), labels)
    out["mean_member_acc"] = float(np.mean([accuracy(p, labels) for p in member_probs]))
    if len(member_probs) >= 2:
        out["diversity"] = diversity(member_probs, labels)
    return out


# --- the tidy table -------------------------------------------------------------------------------------------

def read_member_probs(path: str | Path, keys: tuple[str, ...] | None = None) -> dict:
    """A member's ``.npz``: test probabilities, labels, pooled test features, stage outputs and the job's info (a
    dict); only ``keys`` (and ``info``) when given, so a table that needs the probabilities does not hold every
    member's layer outputs (an npz reads one array at a time)."""
    try:
        with np.load(path) as data:
            wanted = data.files if keys is None else [k for k in data.files if k in set(keys) | {"info"}]
            out = {k: data[k] for k in wanted}
    except FileNotFoundError:
        raise FileNotFoundError(f"member probabilities not found: {path}") from None
    except Exception as exc:  # truncated or corrupt file
        raise RuntimeError(f"could not read member probabilities {path}: {exc}; delete it and rerun") from exc
    out["info"] = json.loads(str(out.get("info", "{}")))
    return out


def weight_vector(state_dict: dict, double: bool = True) -> np.ndarray:
    """Parameters of a state dict as one vector (BatchNorm running statistics and counters left out): float64, or
    with ``double=False`` in the tensors' own precision (half and bfloat16 widened to float32, exactly), half the
    memory of float64 for float32 weights."""
    skip = ("running_mean", "running_var", "num_batches_tracked")
    parts = [(v.double() if double else v.float() if v.element_size() < 4 else v).detach().cpu().reshape(-1).numpy()
             for k, v in state_dict.items() if not k.endswith(skip) and v.is_floating_point()]
    return np.concatenate(parts)


def weight_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖a − b‖₂ of two weight vectors, subtracted in float64 (widening is exact: the same value as on float64 vectors)
    without float64 copies of the inputs."""
    return float(np.linalg.norm(np.subtract(a, b, dtype=np.float64)))


def _pair_disagreement(preds: list[np.ndarray], labels, cache: dict) -> float:
    """:func:`diversity` from members' predicted labels, pair values cached in ``cache`` ((i, j) -> value) so that
    growing ensembles compute each pair once; the pairs are averaged in ``itertools.combinations`` order as there."""
    values = []
    for i, j in itertools.combinations(range(len(preds)), 2):
        if (i, j) not in cache:
            cache[(i, j)] = normalised_disagreement(preds[i], preds[j], labels)
        values.append(cache[(i, j)])
    return 100.0 * float(np.mean(values))


def run_rows(members, weights=None) -> list[tuple[int, str, float]]:
    """(k, metric, value) rows of one run: per member k and per ensemble of the first k members.

    ``members``: member dicts (:func:`read_member_probs`) and ``weights``: their weight vectors, both in training
    order, consumed one at a time (lists or generators). Streams: besides the current member it keeps member 1's
    labels, features and weights, the running float64 sum of the probabilities (N×C) and each member's predicted
    labels (N integers), so a run never holds its K members' arrays. The same numbers as
    :func:`ensemble_metrics` on the first k members: a sum along the stacking axis adds members in order, as the
    running sum does."""
    weights = None if weights is None else iter(weights)
    rows: list[tuple[int, str, float]] = []
    labels = first_features = first_weights = total = None
    preds: list[np.ndarray] = []
    member_accs: list[float] = []
    pairs: dict = {}
    cumulative = 0.0
    for k, member in enumerate(members, start=1):
        probs = member["probs"]
        if k == 1:
            labels, first_features = member["labels"], member.get("features")
            total = np.array(probs, dtype=np.float64)
        else:
            if not np.array_equal(member["labels"], labels):
                raise ValueError("members were evaluated on different test sets")
            np.add(total, probs, out=total, dtype=np.float64)
        seconds = float(member["info"].get("seconds", float("nan")))
        cumulative += seconds
        member_accs.append(accuracy(probs, labels))
        preds.append(np.asarray(probs).argmax(1))
        rows += [(k, "member_acc", member_accs[-1]), (k, "member_nll", nll(probs, labels)),
                 (k, "member_seconds", seconds)]
        if weights is not None:
            current = next(weights)
            first_weights = current if k == 1 else first_weights
            rows.append((k, "dist_weights", weight_distance(current, first_weights)))
            del current  # before the next member's weights are read
        if first_features is not None and member.get("features") is not None:
            rows.append((k, "dist_features", float(np.mean((member["features"] - first_features) ** 2))))
        del member, probs  # before the next member is read
        rows += [(k, metric, value) for metric, value in mean_probs_metrics(total / k, labels).items()]
        rows.append((k, "mean_member_acc", float(np.mean(member_accs))))
        if k >= 2:
            rows.append((k, "diversity", _pair_disagreement(preds, labels, pairs)))
        rows.append((k, "train_seconds", cumulative))
    return rows


def _reader(read, first: dict):
    """``read`` (path -> data) that serves and keeps the data of ``first``'s paths (the current run's member 1)."""
    def get(path, index):
        if index > 0:
            return read(path)
        if path not in first:
            first[path] = read(path)
        return first[path]
    return get


def _stream(paths: list[str], get):
    """Each path's data, read when the consumer asks for it (a generator: the previous one can be released)."""
    for index, path in enumerate(paths):
        yield get(path, index)


def build_table(runs: list[dict]) -> pd.DataFrame:
    """Tidy table of every run: ``runs`` = [{target, source, arch, seed, replicate, method, probs: [npz…],
    weights: [pt…]}] (a run without ``replicate`` is replicate 1).

    Bounded memory: one run at a time, its members streamed (:func:`run_rows`), weights kept in their stored
    precision. Member 1 is shared by the consecutive runs of a seed and replicate (``EnsemblePlan.runs()`` order):
    it is read once and kept while the next run starts from the same files, dropped otherwise.
    """
    from transferscope.io import torch_load

    def read_npz(path):
        return read_member_probs(path, TABLE_ARRAYS)

    def read_weights(path):
        return weight_vector(torch_load(path, what="ensemble member")["state_dict"], double=False)

    records = []
    first: dict = {}  # path -> data of the previous run's member 1 (its npz and its weight vector)
    for run in runs:
        first = {path: first[path] for path in (run["probs"][:1] + (run.get("weights") or [])[:1]) if path in first}
        members = _stream(run["probs"], _reader(read_npz, first))
        weights = _stream(run["weights"], _reader(read_weights, first)) if run.get("weights") else None
        keys = (run["target"], run["source"], run["arch"], int(run["seed"]), int(run.get("replicate", 1)),
                run["method"])
        records += [keys + row for row in run_rows(members, weights)]
    return pd.DataFrame.from_records(records, columns=TABLE_COLUMNS)


SUMMARY_COLUMNS = ["target", "source", "arch", "method", "k", "metric", "mean", "sd", "n"]
REPORT_METRICS = ("ens_acc", "mean_member_acc", "diversity", "ens_nll", "ens_ece", "ens_brier", "train_seconds",
                  "time_fraction_of_de")
REFERENCE_METHOD = "local_de"  # the Deep Ensemble whose training time the others are measured against


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd (ddof 1; NaN for one run) and number of runs of every metric per (target, source, arch, method, k)
    over the runs (pre-training seeds × replicates) of ``ensembles.csv``, plus ``time_fraction_of_de``: a run's
    training time of k members divided by the Deep Ensemble's (``local_de``) of the same seed, replicate and k."""
    keys = ["target", "source", "arch", "seed", "replicate", "k"]
    time = table[table["metric"] == "train_seconds"]
    de = time[time["method"] == REFERENCE_METHOD][keys + ["value"]].rename(columns={"value": "de_seconds"})
    fraction = time.merge(de, on=keys, how="inner")
    fraction = fraction.assign(metric="time_fraction_of_de", value=fraction["value"] / fraction["de_seconds"])
    rows = pd.concat([table, fraction[table.columns]], ignore_index=True)
    summary = (rows.groupby(["target", "source", "arch", "method", "k", "metric"], sort=False)["value"]
               .agg(mean="mean", sd="std", n="count").reset_index())
    return summary[SUMMARY_COLUMNS]


def mean_sd_text(mean: float, sd: float, two_decimals: bool) -> str:
    """"mean ± sd" (or the mean alone when sd is undefined): two decimals, or three significant digits."""
    spell = (lambda v: f"{v:.2f}") if two_decimals else (lambda v: f"{v:.3g}")
    return spell(mean) if not np.isfinite(sd) else f"{spell(mean)} ± {spell(sd)}"


def final_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows of the largest k of each method as a report table: one row per (target, method), one column per
    metric of REPORT_METRICS as "mean ± sd" (accuracies and calibration in %, n runs in its own column)."""
    largest = summary.groupby(["target", "method"])["k"].transform("max")
    final = summary[(summary["k"] == largest) & summary["metric"].isin(REPORT_METRICS)].copy()
    percent = final["metric"].isin(["ens_acc", "mean_member_acc", "ens_ece"])
    final.loc[percent, ["mean", "sd"]] *= 100
    # percentages and diversity keep two decimals (87.41 vs 87.44 must stay apart); the rest three significant digits
    fixed = (percent | (final["metric"] == "diversity")).to_numpy()
    final["text"] = [mean_sd_text(m, s, two_decimals) for m, s, two_decimals in zip(final["mean"], final["sd"], fixed)]
    wide = final.pivot_table(index=["target", "method", "k"], columns="metric", values="text", aggfunc="first",
                             sort=False)
    wide = wide.reindex(columns=[m for m in REPORT_METRICS if m in wide.columns]).reset_index()
    runs = final[final["metric"] == "ens_acc"][["target", "method", "k", "n"]]  # a run without timing keeps its row
    wide = runs.merge(wide, on=["target", "method", "k"], how="right")
    return wide.rename(columns={"ens_acc": "ens_acc (%)", "mean_member_acc": "mean_member_acc (%)",
                                "ens_ece": "ens_ece (%)"})
