"""Thesis B's variance study (Table 6.1, Figure 6.1): how much does *which* members form an ensemble matter, and
do the best subsets differ from the worst in member accuracy and diversity?

From a run of K members (saved test probabilities only, no retraining) every size-k subset is evaluated (member 1
in each for the SSE / StarSSE families: C(K−1, k−1) subsets, e.g. C(14, 4) = 1,001; any k of K for Deep Ensembles:
C(K, k), e.g. C(15, 5) = 3,003; a seeded sample of ``max_subsets`` when there are more). Per subset S:

- ``ens_acc`` = mean_n 1[argmax_c (1/|S|) Σ_{m∈S} p_m(c | x_n) = y_n]: accuracy of the mean of the members'
  softmax probabilities (fraction 0..1);
- ``mean_member_acc`` = (1/|S|) Σ_{m∈S} acc_m (fraction 0..1);
- ``diversity`` = 100 · mean over pairs a < b in S of P[pred_a ≠ pred_b] / max(err_a, err_b) (Fort et al.'s
  normalised disagreement × 100; a pair of two perfect members counts 0; NaN for a one-member subset).

Member accuracies and the K×K matrix of pairwise disagreements are computed once per run
(:func:`member_statistics`), so a subset's diversity is a mean of matrix entries. The best and worst
``fraction`` (5 %) of a run's subsets by ``ens_acc`` (:func:`mark_extremes`) are compared on the three metrics
(:func:`compare_extremes`), and a linear classifier — logistic regression on standardised (mean_member_acc,
diversity), where the text used an SVM — tells how well those two numbers separate best from worst
(:func:`separability`: cross-validated accuracy, 0.5 = no better than chance for balanced groups).

:func:`build_variance` makes the two tidy tables of all runs, ``subsets`` (:data:`SUBSET_COLUMNS`) and ``summary``
(:data:`SUMMARY_COLUMNS`); see its docstring for the layout.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from transferscope.ensembles.evaluate import accuracy, normalised_disagreement, read_member_probs
from transferscope.ensembles.trajectory import KEYS, keeps_member1, subset_accuracies, subsets
from transferscope.runtime import derive_seed

METRICS = ("mean_member_acc", "diversity", "ens_acc")
EXTREMES = ("best", "worst")
MIDDLE = "middle"
SUBSET_COLUMNS = KEYS + ["subset_size", "members", "exhaustive", "subset", "ens_acc", "mean_member_acc", "diversity",
                         "group"]
SUMMARY_COLUMNS = ["target", "source", "arch", "method", "scope", "seed", "replicate", "group", "metric", "statistic",
                   "value"]
ALL = "all"  # summary group of every subset (ens_acc range)
BOTH = "best_vs_worst"  # summary group of the separability rows
# the boundary P(best) = 1/2 of the classifier in the original units: w_acc · mean_member_acc + w_div · diversity
# + intercept = 0 (mean_member_acc a fraction, diversity ×100)
BOUNDARY = ("w_mean_member_acc", "w_diversity", "intercept")


# --- per run ---------------------------------------------------------------------------------------------------

def member_statistics(member_probs: list, labels) -> tuple[np.ndarray, np.ndarray]:
    """(accuracies, disagreement) of K members: accuracies K (fractions 0..1) and the symmetric K×K matrix of
    100 · P[pred_a ≠ pred_b] / max(err_a, err_b) (0 on the diagonal). ``member_probs``: K arrays N×C."""
    labels = np.asarray(labels)
    accs = np.array([accuracy(p, labels) for p in member_probs])
    preds = [np.asarray(p).argmax(1) for p in member_probs]
    matrix = np.zeros((len(preds), len(preds)))
    for a, b in itertools.combinations(range(len(preds)), 2):
        matrix[a, b] = matrix[b, a] = 100.0 * normalised_disagreement(preds[a], preds[b], labels)
    return accs, matrix


def subset_label(subset) -> str:
    """1-based member numbers joined by "-": (0, 3, 6) -> "1-4-7"."""
    return "-".join(str(int(i) + 1) for i in subset)


def subset_table(member_probs: list, labels, chosen: list[tuple]) -> pd.DataFrame:
    """One row per subset of ``chosen`` (tuples of 0-based member indices): ``subset`` (1-based, "1-4-7-9-12"),
    ``ens_acc`` and ``mean_member_acc`` (fractions 0..1), ``diversity`` (×100; NaN for one member)."""
    # float64 once here rather than once per subset inside ensemble_probs (3,003 subsets share 15 members)
    member_probs = [np.asarray(p, dtype=np.float64) for p in member_probs]
    accs, matrix = member_statistics(member_probs, labels)
    rows = []
    for subset in chosen:
        pairs = [matrix[a, b] for a, b in itertools.combinations(subset, 2)]
        rows.append({"subset": subset_label(subset), "mean_member_acc": float(accs[list(subset)].mean()),
                     "diversity": float(np.mean(pairs)) if pairs else float("nan")})
    frame = pd.DataFrame.from_records(rows, columns=["subset", "mean_member_acc", "diversity"])
    frame.insert(1, "ens_acc", subset_accuracies(member_probs, labels, chosen) if chosen else np.array([]))
    return frame


def extreme_count(n: int, fraction: float) -> int:
    """Subsets in each of the best and worst groups: ceil(fraction · n), at most n // 2 so that the two never
    share a subset (0 for a single subset)."""
    return min(math.ceil(fraction * n - 1e-9), n // 2)  # 1e-9: e.g. 0.07 · 100 is 7.000000000000001 in floating point


def mark_extremes(frame: pd.DataFrame, fraction: float = 0.05) -> pd.DataFrame:
    """A copy of ``frame`` with column ``group``: "best" for the ceil(fraction · n) subsets of highest ``ens_acc``,
    "worst" for as many of lowest, "middle" for the rest (see :func:`extreme_count`).

    Ties (accuracies on a finite test set often are equal) are broken by row order, one ranking for both groups:
    among equal ``ens_acc`` the row listed first ranks higher (it enters "best" first, "worst" last), so the result
    is deterministic for a given row order (``trajectory.subsets`` lists subsets in lexicographic order when
    exhaustive) and the two groups never overlap, even when all subsets tie."""
    out = frame.copy()
    n = len(out)
    m = extreme_count(n, fraction)
    acc = out["ens_acc"].to_numpy(dtype=np.float64)
    # np.lexsort sorts by its last key first: ens_acc descending, then row order
    ranking = np.lexsort((np.arange(n), -acc))
    group = np.full(n, MIDDLE, dtype=object)
    group[ranking[:m]] = "best"
    group[ranking[n - m:]] = "worst"
    out["group"] = group
    return out


def compare_extremes(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows (group, metric, n, mean, sd) for group best / worst and each of :data:`METRICS`: number of subsets,
    mean and sd (ddof 1; NaN for fewer than two) of that metric over the group's subsets (accuracies as fractions,
    diversity ×100). ``frame`` needs column ``group`` (:func:`mark_extremes`)."""
    rows = []
    for group in EXTREMES:
        sub = frame[frame["group"] == group]
        for metric in METRICS:
            values = sub[metric].to_numpy(dtype=np.float64)
            rows.append({"group": group, "metric": metric, "n": len(values),
                         "mean": float(values.mean()) if len(values) else float("nan"),
                         "sd": float(values.std(ddof=1)) if len(values) > 1 else float("nan")})
    return pd.DataFrame.from_records(rows, columns=["group", "metric", "n", "mean", "sd"])


def separability(frame: pd.DataFrame, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """How well (mean_member_acc, diversity) separate the best from the worst subsets of ``frame`` (column
    ``group``): logistic regression on the two standardised features, best = 1, worst = 0.

    Returns ``cv_acc_mean`` and ``cv_acc_sd`` (accuracy 0..1 over the held-out folds, sd ddof 1) of a
    StratifiedKFold shuffled with ``seed`` (``folds`` reduced to the smaller group's size), ``folds``, ``n`` (best
    plus worst subsets), and the classifier fitted on all of them as the boundary of :data:`BOUNDARY` in the
    original units (w_mean_member_acc per unit of accuracy fraction, w_diversity per diversity point). Everything
    but ``n`` is NaN when a group has fewer than two subsets.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sub = frame[frame["group"].isin(EXTREMES)]
    x = sub[["mean_member_acc", "diversity"]].to_numpy(dtype=np.float64)
    y = (sub["group"] == "best").to_numpy().astype(int)
    out = {"cv_acc_mean": float("nan"), "cv_acc_sd": float("nan"), "folds": float("nan"), "n": float(len(y)),
           **{name: float("nan") for name in BOUNDARY}}
    smaller = int(min(y.sum(), len(y) - y.sum()))
    if smaller < 2 or not np.isfinite(x).all():
        return out

    def model():
        return make_pipeline(StandardScaler(), LogisticRegression())

    n_folds = min(folds, smaller)
    scores = []
    for train, test in StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(x, y):
        fitted = model().fit(x[train], y[train])
        scores.append(float((fitted.predict(x[test]) == y[test]).mean()))
    fitted = model().fit(x, y)
    scaler, logistic = fitted[0], fitted[1]
    # w·(x − μ)/s + b = (w/s)·x + (b − Σ w μ / s): the same line in the features' own units
    w = logistic.coef_[0] / scaler.scale_
    out.update(cv_acc_mean=float(np.mean(scores)), cv_acc_sd=float(np.std(scores, ddof=1)) if n_folds > 1 else 0.0,
               folds=float(n_folds), w_mean_member_acc=float(w[0]), w_diversity=float(w[1]),
               intercept=float(logistic.intercept_[0] - w @ scaler.mean_))
    return out


# --- the tables ------------------------------------------------------------------------------------------------

def _summary_rows(frame: pd.DataFrame, folds: int, seed: int) -> list[tuple[str, str, str, float]]:
    """(group, metric, statistic, value) rows of one scope's marked subsets."""
    rows = []
    for r in compare_extremes(frame).itertuples(index=False):
        rows += [(r.group, r.metric, "n", float(r.n)), (r.group, r.metric, "mean", r.mean),
                 (r.group, r.metric, "sd", r.sd)]
    acc = frame["ens_acc"].to_numpy(dtype=np.float64)
    runs = len(frame[["seed", "replicate"]].drop_duplicates())
    rows += [(ALL, "ens_acc", "n", float(len(acc))), (ALL, "ens_acc", "runs", float(runs)),
             (ALL, "ens_acc", "mean", float(acc.mean())),
             (ALL, "ens_acc", "sd", float(acc.std(ddof=1)) if len(acc) > 1 else float("nan")),
             (ALL, "ens_acc", "min", float(acc.min())), (ALL, "ens_acc", "max", float(acc.max()))]
    sep = separability(frame, folds=folds, seed=seed)
    rows += [(BOTH, "separability", statistic, sep[statistic])
             for statistic in ("cv_acc_mean", "cv_acc_sd", "folds", "n")]
    rows += [(BOTH, "boundary", name, sep[name]) for name in BOUNDARY]
    return rows


def build_variance(runs: list[dict], subset_size: int, max_subsets: int = 5000, seed: int = 0,
                   fraction: float = 0.05, folds: int = 5) -> dict[str, pd.DataFrame]:
    """The variance study of every run with more than ``subset_size`` members (others are skipped: they have at
    most one subset). ``runs`` = [{target, source, arch, seed, replicate, method, probs: [npz…], …}] as for
    ``trajectory.build_tables``.

    ``subsets`` (:data:`SUBSET_COLUMNS`): one row per (run, subset): the run's KEYS, ``subset_size``, ``members``
    (K), ``exhaustive`` (all subsets or a seeded sample of ``max_subsets``), ``subset`` ("1-4-7-9-12"), ``ens_acc``,
    ``mean_member_acc`` (fractions), ``diversity`` (×100), ``group`` (best / worst / middle within the run,
    :func:`mark_extremes`). The subsets are those of ``ensemble_subsets.csv`` for k = ``subset_size`` (same
    sampling seed and ``max_subsets``): member 1 in each when ``trajectory.keeps_member1(method)``.

    ``summary`` (:data:`SUMMARY_COLUMNS`), tidy: one ``value`` per (target, source, arch, method, scope, seed,
    replicate, group, metric, statistic). ``scope`` "run" (seed and replicate given) or "method" (all runs of a
    (target, source, arch, method) pooled, as the text pooled 2 × 1,001 StarSSE subsets; seed and replicate
    empty; best and worst stay those of each run). Per scope:

    - group best / worst, metric ``mean_member_acc`` / ``diversity`` / ``ens_acc``, statistic ``n`` / ``mean`` /
      ``sd`` (ddof 1): Table 6.1;
    - group ``all``, metric ``ens_acc``, statistic ``n`` (subsets), ``runs``, ``mean``, ``sd``, ``min``, ``max``;
    - group ``best_vs_worst``, metric ``separability``, statistic ``cv_acc_mean``, ``cv_acc_sd``, ``folds``, ``n``
      (:func:`separability`), and metric ``boundary``, statistic of :data:`BOUNDARY` (the fitted line).
    """
    frames, summary = [], []
    cache: dict[str, dict] = {}
    for run in runs:
        if len(run["probs"]) <= subset_size:
            continue
        keys = {"target": run["target"], "source": run["source"], "arch": run["arch"], "seed": int(run["seed"]),
                "replicate": int(run.get("replicate", 1)), "method": run["method"]}
        # keep only this run's files (runs sharing member 1 come one after another) and of them only probs and
        # labels: a member's npz also holds pooled features and stage outputs (hundreds of MB for ResNet-50)
        cache = {path: cache.get(path) or _probs_and_labels(path) for path in run["probs"]}
        members = [cache[path] for path in run["probs"]]
        labels = members[0]["labels"]
        if any(not np.array_equal(m["labels"], labels) for m in members[1:]):
            raise ValueError(f"members of {keys} were evaluated on different test sets")
        # the purpose and parts of trajectory.build_tables: the same sample as ensemble_subsets.csv's k
        sample_seed = derive_seed("ensemble_subsets", seed, *keys.values(), subset_size)
        chosen, exhaustive = subsets(len(members), subset_size, keeps_member1(run["method"]), max_subsets,
                                     sample_seed)
        table = mark_extremes(subset_table([m["probs"] for m in members], labels, chosen), fraction)
        for i, (name, value) in enumerate({**keys, "subset_size": subset_size, "members": len(members),
                                           "exhaustive": exhaustive}.items()):
            table.insert(i, name, value)
        frames.append(table)
        summary += [{**keys, "scope": "run", "group": g, "metric": m, "statistic": s, "value": v}
                    for g, m, s, v in _summary_rows(table, folds, seed)]
    subset_frame = (pd.concat(frames, ignore_index=True)[SUBSET_COLUMNS] if frames
                    else pd.DataFrame(columns=SUBSET_COLUMNS))
    for (target, source, arch, method), pooled in subset_frame.groupby(["target", "source", "arch", "method"],
                                                                        sort=False):
        summary += [{"target": target, "source": source, "arch": arch, "method": method, "scope": "method",
                     "group": g, "metric": m, "statistic": s, "value": v}
                    for g, m, s, v in _summary_rows(pooled, folds, seed)]
    summary_frame = pd.DataFrame.from_records(summary, columns=SUMMARY_COLUMNS)
    summary_frame = summary_frame.astype({"seed": "Int64", "replicate": "Int64"})  # empty for scope "method"
    return {"subsets": subset_frame, "summary": summary_frame}


def _probs_and_labels(path: str) -> dict:
    full = read_member_probs(path, ("probs", "labels"))
    return {"probs": full["probs"], "labels": full["labels"]}
