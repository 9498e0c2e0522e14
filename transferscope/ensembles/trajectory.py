"""Analyses along an ensemble's members from saved outputs only (thesis B's notebook analyses; no retraining).

Inputs are what every member job saves: ``member{k}.npz`` (``probs`` N×C test softmax probabilities, ``labels`` N,
``features`` N×D pooled test features) and ``member{k}.pt`` (``state_dict``). Member 1 is the reference; members
are numbered 1..K in training order.

- :func:`feature_distances`: member k's pooled test features against member 1's: MSE (mean squared difference,
  feature units²), RTD (symmetric Representation Topology Divergence, ``transferscope.metrics.rtd``, on a fixed
  subsample of test images, normalised distance units) and the 1-D Wasserstein distance between the two
  distributions of flattened feature values (``scipy.stats.wasserstein_distance``, feature units).
- :func:`stage_weight_distances`: L2 distance and MSE of the weights of each layer of the architecture
  (``layer_names``: a parameter belongs to the first layer whose name is a prefix of its own) and of all of them.
- :func:`pair_table`: every member pair (a < b): diversity (Fort et al.'s normalised disagreement × 100) and the
  cosine of the flattened weight vectors (thesis B's motivation of weight orthogonality).
- :func:`subset_accuracies`: the variance study: accuracies of the ensembles of every (or a seeded sample of the)
  size-k subset of the K members, member 1 in every subset for the cycle methods (SSE / StarSSE families).
- :func:`build_tables`: the tidy tables of all runs (the ``runs`` of ``EnsemblePlan.runs()``).

Accuracies are fractions 0..1, as in ``ensembles.csv``.
"""
from __future__ import annotations

import itertools
import math
import re
from collections import OrderedDict

import numpy as np
import pandas as pd

from transferscope.ensembles.evaluate import (accuracy, ensemble_probs, normalised_disagreement, read_member_probs,
                                              weight_vector)
from transferscope.ensembles.plan import METHODS
from transferscope.runtime import derive_seed

KEYS = ["target", "source", "arch", "seed", "replicate", "method"]
DISTANCE_COLUMNS = KEYS + ["k", "measure", "layer", "value"]
PAIR_COLUMNS = KEYS + ["a", "b", "diversity", "weight_cosine"]
CORRELATION_COLUMNS = ["target", "source", "arch", "method", "scope", "seed", "replicate", "pairs", "spearman"]
SUBSET_COLUMNS = KEYS + ["k", "subsets", "exhaustive", "keeps_member1", "mean_acc", "sd_acc", "min_acc", "q25_acc",
                         "median_acc", "q75_acc", "max_acc", "first_k_acc"]
FEATURE_MEASURES = ("feature_mse", "feature_rtd", "feature_wasserstein")
WEIGHT_MEASURES = ("weight_l2", "weight_mse")
FEATURE_LAYER = "pool"  # the tap the members save as their test features
ALL_LAYERS = "all"
OTHER_LAYER = "other"  # parameters outside every named layer (none for the ResNets; VGG's layers are not prefixes)
POOLED = "all"  # the method label of correlations pooled over every method


# --- features --------------------------------------------------------------------------------------------------

def subsample(n: int, points: int | None, seed: int) -> np.ndarray | None:
    """Sorted indices of ``points`` of ``n`` test samples drawn with ``seed`` (all of them when ``points`` ≥ n;
    None when ``points`` is None: no RTD). The same for every member and run of a test set of n samples."""
    if points is None:
        return None
    if points >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(derive_seed("ensemble_rtd_points", seed, n)).choice(n, points, replace=False))


def feature_distances(reference, member, rtd_index: np.ndarray | None = None) -> dict[str, float]:
    """Distances of ``member``'s N×D features to ``reference``'s (the same N samples in the same order).

    ``feature_mse``: mean over N·D entries of the squared difference; ``feature_wasserstein``: 1-D Wasserstein
    distance between the N·D values of each (ignores which sample a value belongs to); ``feature_rtd`` (only with
    ``rtd_index``): symmetric RTD of the rows ``rtd_index``. All are 0 for identical features.
    """
    from scipy.stats import wasserstein_distance

    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    member = np.asarray(member, dtype=np.float64).reshape(len(member), -1)
    if reference.shape != member.shape:
        raise ValueError(f"features must have equal shapes, got {reference.shape} and {member.shape}")
    out = {"feature_mse": float(np.mean((member - reference) ** 2)),
           "feature_wasserstein": float(wasserstein_distance(reference.ravel(), member.ravel()))}
    if rtd_index is not None:
        from transferscope.metrics import rtd

        out["feature_rtd"] = rtd(reference[rtd_index], member[rtd_index])
    return {m: out[m] for m in FEATURE_MEASURES if m in out}


# --- weights ---------------------------------------------------------------------------------------------------

def layer_of(parameter: str, layers) -> str:
    """The first of ``layers`` that is ``parameter``'s name or a dotted prefix of it (``stage1.0.conv1.weight`` ->
    ``stage1``), else ``other``."""
    for layer in layers:
        if parameter == layer or parameter.startswith(layer + "."):
            return layer
    return OTHER_LAYER


def stage_vectors(state_dict: dict, layers) -> dict[str, np.ndarray]:
    """Layer -> its parameters as one float64 vector (BatchNorm running statistics left out, as in
    ``evaluate.weight_vector``), layers in ``layers`` order, ``other`` last if any."""
    groups: dict[str, dict] = {}
    for name, value in state_dict.items():
        groups.setdefault(layer_of(name, layers), {})[name] = value
    out = {}
    for layer in [*layers, OTHER_LAYER]:
        if layer in groups:
            try:
                out[layer] = weight_vector(groups[layer])
            except ValueError:  # nothing but BatchNorm buffers: no parameters to compare
                continue
    return out


def stage_weight_distances(reference: dict[str, np.ndarray], member: dict[str, np.ndarray]
                           ) -> dict[str, dict[str, float]]:
    """Layer -> {``weight_l2``: ‖w − w₁‖₂, ``weight_mse``: mean (w − w₁)²} from two :func:`stage_vectors`, plus
    ``all`` (every parameter). The squared per-layer L2 distances sum to the squared total."""
    if set(reference) != set(member):
        raise ValueError(f"the state dicts hold different layers: {sorted(reference)} vs {sorted(member)}")
    out = {}
    for layer in reference:
        diff = member[layer] - reference[layer]
        out[layer] = {"weight_l2": float(np.sqrt(np.sum(diff ** 2))), "weight_mse": float(np.mean(diff ** 2))}
    diff = np.concatenate([member[layer] - reference[layer] for layer in reference])
    out[ALL_LAYERS] = {"weight_l2": float(np.sqrt(np.sum(diff ** 2))), "weight_mse": float(np.mean(diff ** 2))}
    return out


def cosine(a, b) -> float:
    """Cosine similarity of two flattened vectors (NaN when either is 0)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else float("nan")


# --- member pairs ----------------------------------------------------------------------------------------------

def pair_table(member_probs: list, labels, weights: list | None = None) -> list[tuple[int, int, float, float]]:
    """(a, b, diversity, weight_cosine) of every pair a < b of members (1-based): diversity = 100 · P[pred_a ≠
    pred_b] / max(err_a, err_b); weight_cosine = cosine of the flattened weight vectors (NaN without weights)."""
    preds = [np.asarray(p).argmax(1) for p in member_probs]
    rows = []
    for a, b in itertools.combinations(range(len(preds)), 2):
        div = 100.0 * normalised_disagreement(preds[a], preds[b], labels)
        cos = cosine(weights[a], weights[b]) if weights is not None else float("nan")
        rows.append((a + 1, b + 1, div, cos))
    return rows


def spearman(x, y) -> float:
    """Spearman's ρ of paired values (NaN for fewer than 3 pairs or a constant side)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


# --- variance study --------------------------------------------------------------------------------------------

def keeps_member1(method: str) -> bool:
    """Whether the variance study keeps member 1 in every subset: yes for the cycle methods (SSE / StarSSE
    families: their members exist only relative to member 1), no for Deep Ensembles (exchangeable members)."""
    base = re.match(r"[a-z0-9_]+", method)
    return base is None or base[0] not in METHODS or METHODS[base[0]].start != "checkpoint"


def subsets(n_members: int, k: int, keep_first: bool, max_subsets: int, seed: int) -> tuple[list[tuple], bool]:
    """Size-``k`` subsets (sorted 0-based member indices) of ``n_members``, member 0 in each when ``keep_first``:
    all C(K−1, k−1) (resp. C(K, k)) when that is ≤ ``max_subsets``, else ``max_subsets`` distinct ones drawn with
    ``seed``. Returns (subsets, exhaustive)."""
    if not 1 <= k <= n_members:
        raise ValueError(f"subset size {k} outside 1..{n_members}")
    pool = list(range(1, n_members)) if keep_first else list(range(n_members))
    draw = k - 1 if keep_first else k
    fixed = (0,) if keep_first else ()
    if math.comb(len(pool), draw) <= max_subsets:
        return [fixed + c for c in itertools.combinations(pool, draw)], True
    rng = np.random.default_rng(seed)
    chosen: dict[tuple, None] = {}
    while len(chosen) < max_subsets:
        chosen.setdefault(fixed + tuple(sorted(int(i) for i in rng.choice(pool, draw, replace=False))), None)
    return list(chosen), False


def subset_accuracies(member_probs: list, labels, chosen: list[tuple]) -> np.ndarray:
    """Accuracy (0..1) of the ensemble (mean probabilities) of each subset of member indices."""
    return np.array([accuracy(ensemble_probs([member_probs[i] for i in subset]), labels) for subset in chosen])


def summarise(accs: np.ndarray) -> dict[str, float]:
    """Mean, sd (over the subsets, ddof 0), min, quartiles and max of subset accuracies."""
    q25, median, q75 = np.quantile(accs, [0.25, 0.5, 0.75])
    return {"mean_acc": float(accs.mean()), "sd_acc": float(accs.std()), "min_acc": float(accs.min()),
            "q25_acc": float(q25), "median_acc": float(median), "q75_acc": float(q75), "max_acc": float(accs.max())}


# --- the tables ------------------------------------------------------------------------------------------------

def build_tables(runs: list[dict], rtd_points: int | None = 100, seed: int = 0, max_subsets: int = 5000
                 ) -> dict[str, pd.DataFrame]:
    """Tidy ``distances``, ``pairs``, ``correlations`` and ``subsets`` tables of every run.

    ``runs`` = [{target, source, arch, seed, replicate, method, probs: [npz…], weights: [pt…]}] as for
    ``evaluate.build_table``. A distance between two files is computed once, however many runs share them.
    ``correlations``: Spearman ρ between weight cosine and diversity over the pairs of each run (scope ``run``),
    of every run of a method (``method``) and of every distinct pair of a target (``all``, method ``all``: thesis
    B's pooled value over the runs of its grid).
    """
    from transferscope.io import torch_load
    from transferscope.models import layer_names

    # Loaded files: only the last run's (plus one), so memory stays at one run's members however many runs there
    # are (ResNet-50: 200 MB of float64 weights and 80 MB of CIFAR features per member); a number computed from two
    # files is kept for good, so files shared by several runs are read again at most, never compared again.
    capacity = 1 + max((len(run["probs"]) for run in runs), default=0)
    npz: OrderedDict[str, dict] = OrderedDict()
    stages: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
    feature_cache: dict[tuple, dict] = {}
    weight_cache: dict[tuple, dict] = {}
    pair_cache: dict[tuple, tuple[float, float]] = {}

    def cached(cache: OrderedDict, path: str, load):
        if path not in cache:
            cache[path] = load(path)
            while len(cache) > capacity:
                cache.popitem(last=False)
        cache.move_to_end(path)
        return cache[path]

    def member(path):
        return cached(npz, path, read_member_probs)

    def state(path, arch):
        return cached(stages, path, lambda p: stage_vectors(torch_load(p, what="ensemble member")["state_dict"],
                                                            layer_names(arch)))

    distances, pairs, subset_rows, unique_pairs = [], [], [], {}
    for run in runs:
        keys = {"target": run["target"], "source": run["source"], "arch": run["arch"], "seed": int(run["seed"]),
                "replicate": int(run.get("replicate", 1)), "method": run["method"]}
        members = [member(p) for p in run["probs"]]
        labels = members[0]["labels"]
        if any(not np.array_equal(m["labels"], labels) for m in members[1:]):
            raise ValueError(f"members of {keys} were evaluated on different test sets")
        weights = run.get("weights") or []
        first_probs, first_weights = run["probs"][0], weights[0] if weights else None
        for k, path in enumerate(run["probs"], start=1):
            if members[0].get("features") is not None and members[k - 1].get("features") is not None:
                if (first_probs, path) not in feature_cache:
                    index = subsample(len(labels), rtd_points, seed)
                    feature_cache[first_probs, path] = feature_distances(members[0]["features"],
                                                                         members[k - 1]["features"], index)
                distances += [{**keys, "k": k, "measure": m, "layer": FEATURE_LAYER, "value": v}
                              for m, v in feature_cache[first_probs, path].items()]
            if weights:
                wpath = weights[k - 1]
                if (first_weights, wpath) not in weight_cache:
                    weight_cache[first_weights, wpath] = stage_weight_distances(state(first_weights, run["arch"]),
                                                                                state(wpath, run["arch"]))
                distances += [{**keys, "k": k, "measure": m, "layer": layer, "value": v}
                              for layer, values in weight_cache[first_weights, wpath].items()
                              for m, v in values.items()]
        for a, b in itertools.combinations(range(len(members)), 2):
            pair_key = (run["probs"][a], run["probs"][b])
            if pair_key not in pair_cache:
                vectors = None
                if weights:
                    vectors = [np.concatenate(list(state(weights[i], run["arch"]).values())) for i in (a, b)]
                ((_, _, div, cos),) = pair_table([members[a]["probs"], members[b]["probs"]], labels, vectors)
                pair_cache[pair_key] = (div, cos)
            div, cos = pair_cache[pair_key]
            pairs.append({**keys, "a": a + 1, "b": b + 1, "diversity": div, "weight_cosine": cos})
            unique_pairs[(run["target"], run["source"], run["arch"], *pair_key)] = (div, cos)
        probs = [m["probs"] for m in members]
        with_first = keeps_member1(run["method"])
        for k in range(1, len(members) + 1):
            sample_seed = derive_seed("ensemble_subsets", seed, *keys.values(), k)
            chosen, exhaustive = subsets(len(members), k, with_first, max_subsets, sample_seed)
            subset_rows.append({**keys, "k": k, "subsets": len(chosen), "exhaustive": exhaustive,
                                "keeps_member1": with_first, **summarise(subset_accuracies(probs, labels, chosen)),
                                "first_k_acc": accuracy(ensemble_probs(probs[:k]), labels)})
    pair_frame = pd.DataFrame.from_records(pairs, columns=PAIR_COLUMNS)
    return {"distances": pd.DataFrame.from_records(distances, columns=DISTANCE_COLUMNS),
            "pairs": pair_frame,
            "correlations": correlations(pair_frame, unique_pairs),
            "subsets": pd.DataFrame.from_records(subset_rows, columns=SUBSET_COLUMNS)}


def correlations(pairs: pd.DataFrame, unique_pairs: dict[tuple, tuple[float, float]]) -> pd.DataFrame:
    """Spearman ρ of weight cosine vs diversity per run, per method over its runs, and per (target, source, arch)
    over every distinct member pair (``unique_pairs``: (target, source, arch, file a, file b) -> (div, cos); a
    pair shared by several methods, e.g. member 1 and StarSSE's member 2, counts once)."""
    rows = []
    group = ["target", "source", "arch", "method"]
    for (target, source, arch, method, seed, rep), sub in pairs.groupby(group + ["seed", "replicate"], sort=False):
        rows.append({"target": target, "source": source, "arch": arch, "method": method, "scope": "run",
                     "seed": seed, "replicate": rep, "pairs": len(sub),
                     "spearman": spearman(sub["weight_cosine"], sub["diversity"])})
    for (target, source, arch, method), sub in pairs.groupby(group, sort=False):
        rows.append({"target": target, "source": source, "arch": arch, "method": method, "scope": "method",
                     "seed": np.nan, "replicate": np.nan, "pairs": len(sub),
                     "spearman": spearman(sub["weight_cosine"], sub["diversity"])})
    pooled: dict[tuple, list] = {}
    for (target, source, arch, _, _), value in unique_pairs.items():
        pooled.setdefault((target, source, arch), []).append(value)
    for (target, source, arch), values in pooled.items():
        div, cos = np.array(values).T
        rows.append({"target": target, "source": source, "arch": arch, "method": POOLED, "scope": "all",
                     "seed": np.nan, "replicate": np.nan, "pairs": len(values), "spearman": spearman(cos, div)})
    out = pd.DataFrame.from_records(rows, columns=CORRELATION_COLUMNS)
    return out.astype({"seed": "Int64", "replicate": "Int64"})  # empty for the pooled scopes
