"""ensembles.csv streams the members (issue 21): the same table as the implementation that cached every member,
a peak RSS on 360 synthetic members below the rule's memory request, and a request that follows the largest member,
not the sum of all inputs."""
import itertools
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO
from transferscope.ensembles import evaluate as ev
from transferscope.io import torch_load, write_npz
from transferscope.resources import ENSEMBLE_TABLE, ensemble_table_memory, member_sizes_mb


# --- the implementation before streaming (commit 26a1ec7), frozen as the oracle -----------------------------------

def _old_weight_vector(state_dict):
    skip = ("running_mean", "running_var", "num_batches_tracked")
    return np.concatenate([v.detach().cpu().double().reshape(-1).numpy() for k, v in state_dict.items()
                           if not k.endswith(skip) and v.is_floating_point()])


def _old_ensemble_metrics(member_probs, labels):
    mean = np.mean(np.stack([np.asarray(p, dtype=np.float64) for p in member_probs]), axis=0)
    out = {"ens_acc": ev.accuracy(mean, labels), "ens_nll": ev.nll(mean, labels), "ens_ece": ev.ece(mean, labels),
           "ens_brier": ev.brier(mean, labels),
           "mean_member_acc": float(np.mean([ev.accuracy(p, labels) for p in member_probs]))}
    if len(member_probs) >= 2:
        preds = [np.asarray(p).argmax(1) for p in member_probs]
        out["diversity"] = 100.0 * float(np.mean([ev.normalised_disagreement(a, b, labels)
                                                  for a, b in itertools.combinations(preds, 2)]))
    return out


def _old_run_rows(members, weights):
    labels, probs, first_features = members[0]["labels"], [m["probs"] for m in members], members[0].get("features")
    rows, cumulative = [], 0.0
    for k, member in enumerate(members, start=1):
        seconds = float(member["info"].get("seconds", float("nan")))
        cumulative += seconds
        rows += [(k, "member_acc", ev.accuracy(member["probs"], labels)),
                 (k, "member_nll", ev.nll(member["probs"], labels)), (k, "member_seconds", seconds)]
        if weights is not None:
            rows.append((k, "dist_weights", float(np.linalg.norm(weights[k - 1] - weights[0]))))
        if first_features is not None and member.get("features") is not None:
            rows.append((k, "dist_features", float(np.mean((member["features"] - first_features) ** 2))))
        rows += [(k, metric, value) for metric, value in _old_ensemble_metrics(probs[:k], labels).items()]
        rows.append((k, "train_seconds", cumulative))
    return rows


def _old_build_table(runs):
    records = []
    for run in runs:
        members = [ev.read_member_probs(p, ev.TABLE_ARRAYS) for p in run["probs"]]
        weights = ([_old_weight_vector(torch_load(p)["state_dict"]) for p in run["weights"]]
                   if run.get("weights") else None)
        for k, metric, value in _old_run_rows(members, weights):
            records.append({"target": run["target"], "source": run["source"], "arch": run["arch"],
                            "seed": int(run["seed"]), "replicate": int(run.get("replicate", 1)),
                            "method": run["method"], "k": k, "metric": metric, "value": value})
    return pd.DataFrame.from_records(records, columns=ev.TABLE_COLUMNS)


# --- synthetic members in the format of transferscope/ensembles/members.py --------------------------------------

def write_member(directory, name, rng, n=40, classes=5, width=8, params=(16, 8), seconds=1.0, labels=None,
                 stage_width=0):
    """member ``name``.npz (probs N×C float32, labels, features N×D float32, a stage output, val_probs, info) and
    ``name``.pt (a checkpoint blob with a float32 state dict incl. BatchNorm buffers); returns (npz, pt) paths."""
    labels = rng.integers(0, classes, n) if labels is None else labels
    logits = rng.normal(size=(n, classes)) + 2.0 * np.eye(classes)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    npz, pt = directory / f"{name}.npz", directory / f"{name}.pt"
    write_npz(npz, probs=probs.astype(np.float32), labels=labels,
              features=rng.random((n, width), dtype=np.float32),
              stage_layer1=rng.normal(size=(n, max(stage_width, 1))).astype(np.float32),
              val_probs=probs[: n // 2].astype(np.float32), info=np.array(json.dumps({"seconds": seconds})))
    state = {"conv.weight": torch.from_numpy(rng.random(params, dtype=np.float32)),
             "bn.weight": torch.ones(params[0]), "bn.running_mean": torch.zeros(params[0]),
             "bn.num_batches_tracked": torch.tensor(3), "fc.bias": torch.from_numpy(rng.normal(size=3))}  # float64 too
    torch.save({"state_dict": state, "arch": "synthetic", "n_classes": classes}, pt)
    return str(npz), str(pt)


def plan_runs(directory, rng, seeds=2, reps=1, methods=("local_de", "sse", "starsse"), k=4, **member):
    """Runs as ``EnsemblePlan.runs()`` lists them: per (seed, replicate) one shared member 1, then each method's."""
    runs = []
    for seed in range(1, seeds + 1):
        for rep in range(1, reps + 1):
            labels = rng.integers(0, member.get("classes", 5), member.get("n", 40))
            first = write_member(directory, f"s{seed}r{rep}_m1", rng, labels=labels, **member)
            for method in methods:
                files = [first] + [write_member(directory, f"s{seed}r{rep}_{method}{i}", rng, labels=labels,
                                                seconds=1.0 + i, **member) for i in range(2, k + 1)]
                runs.append({"target": "t", "source": "s", "arch": "a", "seed": seed, "replicate": rep,
                             "method": method, "probs": [f[0] for f in files], "weights": [f[1] for f in files]})
    return runs


def test_streamed_table_equals_the_cached_one_exactly(tmp_path):
    runs = plan_runs(tmp_path, np.random.default_rng(0))
    runs.append(dict(runs[0], method="no_weights", weights=[]))  # a run without weights: no dist_weights rows
    new, old = ev.build_table(runs), _old_build_table(runs)
    assert len(new) == len(old) > 0
    pd.testing.assert_frame_equal(new, old, check_exact=True)


class Inputs(list):
    """A rule's ``input`` as the resource callable sees it: the paths, and their total size in MB."""

    @property
    def size_mb(self):
        return sum(os.path.getsize(p) for p in self) / 2**20


def test_request_follows_the_largest_member_not_the_sum(tmp_path):
    rng = np.random.default_rng(1)
    one = Inputs(dict.fromkeys(p for run in plan_runs(tmp_path, rng, seeds=1, methods=("sse",), k=3)
                               for p in run["probs"] + run["weights"]))
    sizes = member_sizes_mb(one)
    assert len(sizes) == 3 and all(stem.endswith(("_m1", "_sse2", "_sse3")) for stem in sizes)
    request = ensemble_table_memory(1.0)
    assert request(None, one, 1) == ENSEMBLE_TABLE.mem_mb(max(sizes.values()))
    (tmp_path / "more").mkdir()
    more = Inputs(one + [p for run in plan_runs(tmp_path / "more", rng, seeds=3)
                         for p in run["probs"] + run["weights"]])
    assert more.size_mb > 10 * one.size_mb and request(None, more, 1) == request(None, one, 1)  # not the sum
    assert request(None, one, 2) == ENSEMBLE_TABLE.mem_mb(max(sizes.values()), attempt=2)
    assert ensemble_table_memory(1.5)(None, Inputs(), 1) == ENSEMBLE_TABLE.mem_mb(0, scale=1.5)  # no ensembles


CHILD = textwrap.dedent("""
    import json, re, sys
    from transferscope.ensembles.evaluate import build_table
    from transferscope.io import torch_load  # what the rule's script imports (torch, pandas)
    import torch
    rows = len(build_table(json.load(open(sys.argv[1])))) if len(sys.argv) > 1 else 0
    # VmHWM: this process's own peak; ru_maxrss keeps the forking parent's peak across exec (a big pytest worker)
    hwm_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
    print(rows, hwm_kb / 1024)
""")


def peak_rss_mb(*args):
    """(rows, peak RSS in MB) of a fresh process that builds the table of the runs in the JSON file ``args[0]`` (or
    only imports, without arguments). The child reports its own peak (VmHWM of its address space): RUSAGE_CHILDREN
    would also count earlier children of this pytest process, and the child's ru_maxrss starts at the peak of the
    worker it was forked from."""
    out = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], capture_output=True, text=True, check=True,
                         cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    rows, rss = out.stdout.split()
    return int(rows), float(rss)


@pytest.mark.slow
def test_360_members_stream_below_the_request(tmp_path):
    """72 runs × 5 members (24 seeds × replicates, 3 methods sharing member 1: 312 member files of ~8 MB, 2.5 GB):
    the cached implementation held them all (weights as float64, ~3.7 GB); the streamed one peaks at the process
    plus a few members, below the request, which is far below the inputs."""
    rng = np.random.default_rng(2)
    runs = plan_runs(tmp_path, rng, seeds=12, reps=2, k=5, n=1000, classes=10, width=1000, params=(1000, 1000))
    assert len(runs) == 72 and sum(len(run["probs"]) for run in runs) == 360
    inputs = Inputs(dict.fromkeys(p for run in runs for p in run["probs"] + run["weights"]))
    request = ensemble_table_memory(1.0)(None, inputs, 1)
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    rows, peak = peak_rss_mb(tmp_path / "runs.json")
    _, imports = peak_rss_mb()
    print(f"inputs {inputs.size_mb:.0f} MB, largest member {max(member_sizes_mb(inputs).values()):.1f} MB, "
          f"request {request} MB, peak RSS {peak:.0f} MB (imports alone {imports:.0f} MB)")
    assert rows == 72 * (5 * 12 - 1)  # per k: 3 member + 2 distance + 5 ensemble metrics + time, diversity from k = 2
    assert peak < request
    assert request < inputs.size_mb / 2
    assert peak - imports < inputs.size_mb / 20  # the data part: a few members, not all 312
