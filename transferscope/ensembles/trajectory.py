"""Analyses along an ensemble's members from saved outputs only (thesis B's notebook analyses; no retraining).

Inputs are what every member job saves: ``member{k}.npz`` (``probs`` N×C test softmax probabilities, ``labels`` N,
``features`` N×D pooled test features, ``stage_<tap>`` N×C_tap each stage's output averaged over space, for the
architecture's ``stage_taps``) and ``member{k}.pt`` (``state_dict``). Member 1 is the reference; members are
numbered 1..K in training order.

- :func:`feature_distances`: member k's pooled test features against member 1's: MSE (mean squared difference,
  feature units²), RTD (symmetric Representation Topology Divergence, ``transferscope.metrics.rtd``, on a fixed
  subsample of test images, normalised distance units) and the Wasserstein distance W1 between the two point
  clouds (one D-dimensional point per test image, Euclidean ground cost, on another fixed subsample; feature
  units).
- :func:`output_mse`: the same MSE for the output of every stage (``stage_<tap>``) and for ``pool``: thesis B's
  per-stage output MSE of ResNet-50's stages 2–5.
- :func:`stage_weight_distances`: L2 distance and MSE of the weights of each layer of the architecture
  (``layer_names``: a parameter belongs to the first layer whose name is a prefix of its own) and of all of them.
- :func:`pair_table`: every member pair (a < b): diversity (Fort et al.'s normalised disagreement × 100) and the
  cosine of the flattened weight vectors (thesis B's motivation of weight orthogonality); :func:`correlations`:
  Spearman and Pearson correlations of the two over several scopes (:data:`SCOPES`).
- :func:`subset_accuracies`: the variance study: accuracies of the ensembles of every (or a seeded sample of the)
  size-k subset of the K members, member 1 in every subset for the cycle methods (SSE / StarSSE families).
- :func:`build_tables`: the tidy tables of all runs (the ``runs`` of ``EnsemblePlan.runs()``).

Accuracies are fractions 0..1, as in ``ensembles.csv``.
"""
from __future__ import annotations

import itertools
import math
from collections import OrderedDict

import numpy as np
import pandas as pd

from transferscope.ensembles.evaluate import (accuracy, ensemble_probs, normalised_disagreement, read_member_probs,
                                              weight_vector)
from transferscope.ensembles.plan import METHODS
from transferscope.names import variant_head
from transferscope.runtime import derive_seed

KEYS = ["target", "source", "arch", "seed", "replicate", "method"]
DISTANCE_COLUMNS = KEYS + ["k", "measure", "layer", "value"]
PAIR_COLUMNS = KEYS + ["a", "b", "with_member1", "diversity", "weight_cosine"]
CORRELATION_COLUMNS = ["target", "source", "arch", "method", "scope", "seed", "replicate", "pairs", "spearman",
                       "pearson"]
SUBSET_COLUMNS = KEYS + ["k", "subsets", "exhaustive", "keeps_member1", "mean_acc", "sd_acc", "min_acc", "q25_acc",
                         "median_acc", "q75_acc", "max_acc", "first_k_acc"]
FEATURE_MEASURES = ("feature_mse", "feature_rtd", "feature_wasserstein")
OUTPUT_MEASURE = "output_mse"  # per stage tap and pool
WEIGHT_MEASURES = ("weight_l2", "weight_mse")
FEATURE_LAYER = "pool"  # the tap the members save as their test features
STAGE_PREFIX = "stage_"  # member{k}.npz key of a stage tap's pooled test outputs: stage_<tap>
ALL_LAYERS = "all"
OTHER_LAYER = "other"  # parameters outside every named layer (none for the ResNets; VGG's layers are not prefixes)
POOLED = "all"  # the method label of correlations pooled over every method
CYCLE_POOLED = "cycle_methods"  # ... and of those pooled over the SSE / StarSSE families (not Deep Ensembles)
# Scopes of ensemble_pair_correlations.csv: every pair of one run; its pairs with member 1 (K − 1 of them); its
# other pairs (C(K − 1, 2)); every pair of every run of a method; every distinct pair of the cycle-method runs of a
# (target, source, arch); every distinct pair of all its runs.
SCOPES = ("run", "run_with_member1", "run_without_member1", "method", CYCLE_POOLED, POOLED)


# --- features --------------------------------------------------------------------------------------------------

def subsample(n: int, points: int | None, seed: int, purpose: str = "rtd") -> np.ndarray | None:
    """Sorted indices of ``points`` of ``n`` test samples drawn with ``seed`` (all of them when ``points`` ≥ n;
    None when ``points`` is None: no such measure). The same for every member and run of a test set of n samples;
    each ``purpose`` (``rtd``, ``ot``) draws its own."""
    if points is None:
        return None
    if points >= n:
        return np.arange(n)
    rng = np.random.default_rng(derive_seed(f"ensemble_{purpose}_points", seed, n))
    return np.sort(rng.choice(n, points, replace=False))


def point_cloud_w1(reference, member) -> float:
    """Exact Wasserstein-1 distance between two clouds of n points in R^D (n×D arrays, uniform weights 1/n each,
    Euclidean ground cost; in the points' units).

    For two clouds of equal size with uniform weights an optimal transport plan is a permutation (Birkhoff), so
    the optimal assignment (``scipy.optimize.linear_sum_assignment``) is exact: W1 = min_σ mean_i ‖x_i − y_σ(i)‖.
    Unlike the 1-D distance between the pooled values, it sees the geometry: a shift of every point by v gives
    ‖v‖. O(n³): meant for a few hundred points."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    member = np.asarray(member, dtype=np.float64).reshape(len(member), -1)
    if reference.shape != member.shape:
        raise ValueError(f"point clouds must have equal shapes, got {reference.shape} and {member.shape}")
    if len(reference) == 0:
        return 0.0
    cost = cdist(reference, member, metric="euclidean")
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def output_mse(reference, member) -> float:
    """Mean over the N·C entries of the squared difference of two N×C outputs (their units²; 0 when equal)."""
    reference, member = np.asarray(reference, dtype=np.float64), np.asarray(member, dtype=np.float64)
    if reference.shape != member.shape:
        raise ValueError(f"outputs must have equal shapes, got {reference.shape} and {member.shape}")
    return float(np.mean((member - reference) ** 2))


def feature_distances(reference, member, rtd_index: np.ndarray | None = None,
                      ot_index: np.ndarray | None = None) -> dict[str, float]:
    """Distances of ``member``'s N×D features to ``reference``'s (the same N samples in the same order).

    ``feature_mse``: mean over N·D entries of the squared difference; ``feature_wasserstein`` (only with
    ``ot_index``): :func:`point_cloud_w1` of the rows ``ot_index`` (one point per test image, the pairing of the
    images ignored); ``feature_rtd`` (only with ``rtd_index``): symmetric RTD of the rows ``rtd_index``. All are 0
    for identical features.
    """
    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    member = np.asarray(member, dtype=np.float64).reshape(len(member), -1)
    if reference.shape != member.shape:
        raise ValueError(f"features must have equal shapes, got {reference.shape} and {member.shape}")
    out = {"feature_mse": output_mse(reference, member)}
    if ot_index is not None:
        out["feature_wasserstein"] = point_cloud_w1(reference[ot_index], member[ot_index])
    if rtd_index is not None:
        from transferscope.metrics import rtd

        out["feature_rtd"] = rtd(reference[rtd_index], member[rtd_index])
    return {m: out[m] for m in FEATURE_MEASURES if m in out}


def layer_outputs(member: dict, taps) -> dict[str, np.ndarray]:
    """A member file's (:func:`read_member_probs`) pooled test outputs: stage tap -> N×C_tap for each of ``taps``
    it holds (``stage_<tap>``), then ``pool`` -> N×D (``features``) if it holds them."""
    out = {tap: member[STAGE_PREFIX + tap] for tap in taps if STAGE_PREFIX + tap in member}
    if member.get("features") is not None:
        out[FEATURE_LAYER] = member["features"]
    return out


def member_distances(reference: dict[str, np.ndarray], member: dict[str, np.ndarray],
                     rtd_index: np.ndarray | None, ot_index: np.ndarray | None) -> list[tuple[str, str, float]]:
    """(measure, layer, value) of a member's :func:`layer_outputs` against member 1's: the feature measures of
    ``pool``, then ``output_mse`` of every layer both hold (in ``reference``'s order)."""
    rows = []
    if FEATURE_LAYER in reference and FEATURE_LAYER in member:
        rows += [(m, FEATURE_LAYER, v) for m, v in feature_distances(reference[FEATURE_LAYER], member[FEATURE_LAYER],
                                                                     rtd_index, ot_index).items()]
    rows += [(OUTPUT_MEASURE, layer, output_mse(reference[layer], member[layer]))
             for layer in reference if layer in member]
    return rows


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


def _finite_pairs(x, y) -> tuple[np.ndarray, np.ndarray] | None:
    """The pairs of ``x`` and ``y`` with both values finite, as float64 arrays; None when fewer than 3 remain or
    one side is constant (no correlation to speak of)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return x, y


def spearman(x, y) -> float:
    """Spearman's ρ of paired values (NaN for fewer than 3 pairs or a constant side; non-finite pairs left out)."""
    pairs = _finite_pairs(x, y)
    if pairs is None:
        return float("nan")
    from scipy.stats import spearmanr

    return float(spearmanr(*pairs).statistic)


def pearson(x, y) -> float:
    """Pearson's r of paired values: Σ(x − x̄)(y − ȳ) / √(Σ(x − x̄)² Σ(y − ȳ)²) (NaN as for :func:`spearman`)."""
    pairs = _finite_pairs(x, y)
    if pairs is None:
        return float("nan")
    x, y = (v - v.mean() for v in pairs)
    return float(np.clip(x @ y / np.sqrt((x @ x) * (y @ y)), -1.0, 1.0))


# --- variance study --------------------------------------------------------------------------------------------

def base_method(method: str) -> str | None:
    """The registered method a variant label belongs to (``starsse[members=15]``, ``starsse_freeze-stage1``,
    ``sse_mse[beta=5]`` -> ``starsse``, ``starsse_freeze``, ``sse_mse``), None for a name outside ``METHODS``."""
    base = variant_head(method)
    return base if base in METHODS else None


def is_cycle_method(method: str) -> bool:
    """Whether ``method`` is of the SSE / StarSSE families (members ≥ 2 are cycles from an earlier member), not a
    Deep Ensemble (members fine-tuned from checkpoints); False for an unknown name."""
    base = base_method(method)
    return base is not None and METHODS[base].start != "checkpoint"


def keeps_member1(method: str) -> bool:
    """Whether the variance study keeps member 1 in every subset: yes for the cycle methods (SSE / StarSSE
    families: their members exist only relative to member 1), no for Deep Ensembles (exchangeable members); yes
    for a name outside ``METHODS``."""
    return base_method(method) is None or is_cycle_method(method)


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

def build_tables(runs: list[dict], rtd_points: int | None = 100, seed: int = 0, max_subsets: int = 5000,
                 ot_points: int | None = 200) -> dict[str, pd.DataFrame]:
    """Tidy ``distances``, ``pairs``, ``correlations`` and ``subsets`` tables of every run.

    ``runs`` = [{target, source, arch, seed, replicate, method, probs: [npz…], weights: [pt…]}] as for
    ``evaluate.build_table``. ``rtd_points`` / ``ot_points``: test images of the RTD / Wasserstein subsamples
    (None: no such measure). A distance between two files is computed once, however many runs share them, and
    every file is read once when runs sharing a member 1 come one after another (as ``EnsemblePlan.runs()`` lists
    them). ``correlations``: :func:`correlations`.
    """
    from transferscope.io import torch_load
    from transferscope.models import layer_names, stage_taps

    # Memory stays at one run's members however many runs there are: of each member only the probabilities are
    # kept for the pairs and subsets (the last run's files plus one); its layer outputs (ResNet-50 on CIFAR-100:
    # 80 MB of pooled features and 150 MB of stage outputs per member) only until its distances to member 1 are
    # taken, member 1's for as long as consecutive runs share it. Weights stay for the run: every pair needs them.
    # A number computed from two files is kept for good, so files shared by several runs are never compared again.
    capacity = 1 + max((len(run["probs"]) for run in runs), default=0)
    npz: OrderedDict[str, dict] = OrderedDict()
    stages: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
    reference: dict = {"path": None, "outputs": {}}
    output_cache: dict[tuple, list] = {}
    weight_cache: dict[tuple, dict] = {}
    pair_cache: dict[tuple, tuple[float, float]] = {}

    def cached(cache: OrderedDict, path: str, load):
        if path not in cache:
            cache[path] = load(path)
            while len(cache) > capacity:
                cache.popitem(last=False)
        cache.move_to_end(path)
        return cache[path]

    def read(path, taps) -> tuple[dict, dict]:
        """(probabilities and labels, kept; layer outputs, for the caller to use now)"""
        full = read_member_probs(path)
        cached(npz, path, lambda _: {"probs": full["probs"], "labels": full["labels"]})
        return npz[path], layer_outputs(full, taps)

    def state(path, arch):
        return cached(stages, path, lambda p: stage_vectors(torch_load(p, what="ensemble member")["state_dict"],
                                                            layer_names(arch)))

    distances, pairs, subset_rows, unique_pairs = [], [], [], {}
    for run in runs:
        keys = {"target": run["target"], "source": run["source"], "arch": run["arch"], "seed": int(run["seed"]),
                "replicate": int(run.get("replicate", 1)), "method": run["method"]}
        taps = stage_taps(run["arch"])
        first_probs = run["probs"][0]
        if reference["path"] != first_probs:
            _, outputs = read(first_probs, taps)
            reference.update(path=first_probs, outputs=outputs)
        members = []
        for path in run["probs"]:
            outputs = reference["outputs"] if path == first_probs else None
            if path not in npz:
                _, outputs = read(path, taps)
            members.append(cached(npz, path, None))
            if (first_probs, path) not in output_cache:
                if outputs is None:  # read for an earlier run whose member 1 was another file
                    _, outputs = read(path, taps)
                n = len(members[0]["labels"])
                output_cache[first_probs, path] = member_distances(
                    reference["outputs"], outputs, subsample(n, rtd_points, seed), subsample(n, ot_points, seed, "ot"))
        labels = members[0]["labels"]
        if any(not np.array_equal(m["labels"], labels) for m in members[1:]):
            raise ValueError(f"members of {keys} were evaluated on different test sets")
        weights = run.get("weights") or []
        first_weights = weights[0] if weights else None
        for k, path in enumerate(run["probs"], start=1):
            distances += [{**keys, "k": k, "measure": m, "layer": layer, "value": v}
                          for m, layer, v in output_cache[first_probs, path]]
            if weights:
                wpath = weights[k - 1]
                if (first_weights, wpath) not in weight_cache:
                    weight_cache[first_weights, wpath] = stage_weight_distances(state(first_weights, run["arch"]),
                                                                                state(wpath, run["arch"]))
                distances += [{**keys, "k": k, "measure": m, "layer": layer, "value": v}
                              for layer, values in weight_cache[first_weights, wpath].items()
                              for m, v in values.items()]
        cycle = is_cycle_method(run["method"])
        for a, b in itertools.combinations(range(len(members)), 2):
            pair_key = (run["probs"][a], run["probs"][b])
            if pair_key not in pair_cache:
                vectors = None
                if weights:
                    vectors = [np.concatenate(list(state(weights[i], run["arch"]).values())) for i in (a, b)]
                ((_, _, div, cos),) = pair_table([members[a]["probs"], members[b]["probs"]], labels, vectors)
                pair_cache[pair_key] = (div, cos)
            div, cos = pair_cache[pair_key]
            pairs.append({**keys, "a": a + 1, "b": b + 1, "with_member1": a == 0, "diversity": div,
                          "weight_cosine": cos})
            unique = (run["target"], run["source"], run["arch"], *pair_key)
            in_cycle_run = cycle or (unique in unique_pairs and unique_pairs[unique][2])
            unique_pairs[unique] = (div, cos, in_cycle_run)
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


def _correlation_row(scope: str, method: str, cos, div, target, source, arch, seed=np.nan, rep=np.nan) -> dict:
    """One row of the correlations table: Spearman's ρ and Pearson's r of weight cosine vs diversity."""
    return {"target": target, "source": source, "arch": arch, "method": method, "scope": scope, "seed": seed,
            "replicate": rep, "pairs": len(cos), "spearman": spearman(cos, div), "pearson": pearson(cos, div)}


def correlations(pairs: pd.DataFrame, unique_pairs: dict[tuple, tuple[float, float, bool]]) -> pd.DataFrame:
    """Spearman's ρ and Pearson's r of weight cosine vs diversity in each of :data:`SCOPES`.

    Per run: over all its pairs (``run``), over those with member 1 (``run_with_member1``: K − 1 pairs) and over
    the others (``run_without_member1``: C(K − 1, 2)); per method over its runs' pairs (``method``); per (target,
    source, arch) over every distinct member pair of the SSE / StarSSE families' runs (``cycle_methods``) and of
    all runs (``all``). ``unique_pairs``: (target, source, arch, file a, file b) -> (div, cos, from a cycle-method
    run); a pair shared by several runs, e.g. member 1 and StarSSE's member 2, counts once in the pooled scopes.
    """
    rows = []
    group = ["target", "source", "arch", "method"]
    for (target, source, arch, method, seed, rep), sub in pairs.groupby(group + ["seed", "replicate"], sort=False):
        place = (target, source, arch, seed, rep)
        rows.append(_correlation_row("run", method, sub["weight_cosine"], sub["diversity"], *place))
        for scope, part in (("run_with_member1", sub[sub["with_member1"]]),
                            ("run_without_member1", sub[~sub["with_member1"]])):
            rows.append(_correlation_row(scope, method, part["weight_cosine"], part["diversity"], *place))
    for (target, source, arch, method), sub in pairs.groupby(group, sort=False):
        rows.append(_correlation_row("method", method, sub["weight_cosine"], sub["diversity"], target, source, arch))
    pooled: dict[tuple, list] = {}
    for (target, source, arch, _, _), value in unique_pairs.items():
        pooled.setdefault((target, source, arch), []).append(value)
    for (target, source, arch), values in pooled.items():
        div, cos, cycle = (np.array(column) for column in zip(*values))
        cycle = cycle.astype(bool)
        if cycle.any():
            rows.append(_correlation_row(CYCLE_POOLED, CYCLE_POOLED, cos[cycle], div[cycle], target, source, arch))
        rows.append(_correlation_row(POOLED, POOLED, cos, div, target, source, arch))
    out = pd.DataFrame.from_records(rows, columns=CORRELATION_COLUMNS)
    return out.astype({"seed": "Int64", "replicate": "Int64"})  # empty for the pooled scopes
