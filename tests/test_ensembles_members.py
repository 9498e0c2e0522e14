"""Member jobs: StarSSE reloads member 1, SSE continues from member k−1, freezing, WO / CE members, outputs."""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from transferscope.checkpoints import checkpoint_blob, load_checkpoint
from transferscope.data.prepare import build_bundle
from transferscope.ensembles.evaluate import read_member_probs
from transferscope.ensembles.members import apply_freeze, load_member, run_member, start_model
from transferscope.ensembles.plan import EnsemblePlan
from transferscope.ensembles.schedule import member_lrs
from transferscope.inference import Preprocess, predict_pooled, predict_probs
from transferscope.models import ARCHS, build_model, stage_taps

RECIPE = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "cosine",
          "batch_size": 8, "epochs": 2, "augment": {"translate": 1}}
ENS = {"enabled": True, "targets": ["tgt"], "source": "src", "arch": "small_resnet", "checkpoint": "final",
       "seeds": [1], "global_seeds": [1, 2, 3], "members": 3,
       "methods": ["local_de", "global_de", "sse", "starsse", "sse_mse", "sse_rtd", "starsse_freeze", "starsse_wo",
                   "starsse_ce"],
       "recipe": RECIPE, "cycle_lr": None, "cycle_epochs": None, "reinit": ["head"], "mse": {"beta": 1.0},
       "rtd": {"beta": 0.1, "card": 10, "p": 1.0, "points": 8, "backend": "gudhi"},
       "freeze": {"levels": ["stage1", "stage3"], "bn_frozen": True, "cycle_lr": None},
       "wo": {"beta": 10.0, "detached": False}, "ce": {"beta": -0.1, "version": 2}, "weights": []}
KEYS = {"target": "tgt", "source": "src", "arch": "small_resnet", "seed": 1}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny target bundle, a 'pre-trained' small_resnet checkpoint, and a plan writing into a temp dir."""
    root = tmp_path_factory.mktemp("ens")
    spec = {"source": "sklearn_digits", "derive": [{"op": "class_subset", "classes": [0, 1, 2]}],
            "split": {"test": 0.3, "val": 0.1, "seed": 0}, "few_shot": 12}
    bundle = build_bundle("tgt", spec)
    bundle.save(root / "data/tgt.pt")
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        model = build_model("small_resnet", 4, 1, 8)
        blob = checkpoint_blob(model, arch="small_resnet", bundle=bundle, role="pretrain", seed=seed, point="final",
                               info={})
        blob["n_classes"] = 4  # the source task had another number of classes; the head is replaced
        torch.save(blob, root / f"ckpt{seed}.pt")
    plan = EnsemblePlan({"ensembles": copy.deepcopy(ENS)},
                        member_pattern=str(root / "ens/{target}/{source}/{arch}/seed{seed}/{method}/member{k}.pt"),
                        data_pattern=str(root / "data/{dataset}.pt"),
                        checkpoint_pattern=str(root / "ckpt{seed}.pt"), tables=[str(root / "table.csv")])
    return root, bundle, plan


def train_member(plan, method, k, spec=None, out=None):
    spec = spec or plan.spec("tgt", 1, method, k)
    inputs = plan.inputs("tgt", 1, method, k)
    for dep in [inputs.get("member1"), *inputs.get("earlier", [])]:  # any test may run alone (pytest -k)
        if dep and not Path(dep).exists():
            train_member(plan, Path(dep).parent.name, int(Path(dep).stem.removeprefix("member")))
    out = out or plan.member_file("tgt", 1, method, k)
    info = run_member(spec, target_path=inputs["target"], init_path=inputs["init"], out_weights=out,
                      out_probs=out[:-3] + ".npz", keys=KEYS, member1_path=inputs.get("member1"),
                      earlier_paths=inputs.get("earlier", []), device="cpu")
    return info, out


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_member1_then_star_and_chain(world):
    root, bundle, plan = world
    info1, m1 = train_member(plan, "first", 1)
    assert info1["lrs"] == pytest.approx(member_lrs(RECIPE))
    saved = read_member_probs(m1[:-3] + ".npz")
    n_test = int((bundle.split == 2).sum())
    assert saved["probs"].shape == (n_test, 3) and np.allclose(saved["probs"].sum(1), 1, atol=1e-5)
    assert saved["features"].shape == (n_test, 64) and saved["info"]["k"] == 1
    # every stage's test output, averaged over space, beside the pooled features
    widths = {"stem": 16, "stage1": 16, "stage2": 32, "stage3": 64}
    assert [key for key in saved if key.startswith("stage_")] == [f"stage_{tap}" for tap in widths]
    assert all(saved[f"stage_{tap}"].shape == (n_test, w) and saved[f"stage_{tap}"].dtype == np.float32
               for tap, w in widths.items())
    assert np.allclose(saved["stage_stage3"], saved["features"], atol=1e-5)  # pool is the last stage averaged
    first_state = load_checkpoint(m1)["state_dict"]

    info2, m2 = train_member(plan, "starsse", 2)
    assert info2["lrs"] == pytest.approx([0.1])  # one cycle: F = ⌊E/2⌋ = 1 epoch at 2·lr (momentum fresh)
    # StarSSE member 3 starts from member 1 (weights and BatchNorm buffers), not from member 2
    spec3 = plan.spec("tgt", 1, "starsse", 3)
    start = start_model(spec3, bundle, plan.inputs("tgt", 1, "starsse", 3)["init"], "small_resnet")
    assert states_equal(start.state_dict(), first_state)
    assert not states_equal(load_checkpoint(m2)["state_dict"], first_state)
    # SSE member 3 starts from member 2 (shared with StarSSE)
    sse3 = plan.inputs("tgt", 1, "sse", 3)
    assert sse3["init"] == m2
    start_sse = start_model(plan.spec("tgt", 1, "sse", 3), bundle, sse3["init"], "small_resnet")
    assert states_equal(start_sse.state_dict(), load_checkpoint(m2)["state_dict"])
    info3, m3 = train_member(plan, "starsse", 3)
    assert load_member(m3).fc.out_features == 3


def test_freezing_keeps_frozen_layers_and_optionally_bn_statistics(world):
    root, bundle, plan = world
    m1 = plan.member_file("tgt", 1, "first", 1)
    first = load_checkpoint(m1)["state_dict"]
    info, out = train_member(plan, "starsse_freeze-stage1", 2)
    after = load_checkpoint(out)["state_dict"]
    frozen = [k for k in first if k.startswith(("stem.", "stage1."))]
    assert frozen and all(torch.equal(first[k], after[k]) for k in frozen)  # weights and BN statistics
    assert not torch.equal(first["stage2.conv1.weight"], after["stage2.conv1.weight"])
    total = sum(v.numel() for k, v in first.items() if not k.endswith(("running_mean", "running_var", "tracked")))
    assert info["trainable_params"] < total
    # bn_frozen: false -> the frozen layers' weights stay, their BatchNorm statistics keep updating
    spec = {**plan.spec("tgt", 1, "starsse_freeze-stage1", 2), "freeze": {"level": "stage1", "bn_frozen": False}}
    _, out2 = train_member(plan, "starsse_freeze-stage1", 2, spec=spec, out=str(root / "bn_live.pt"))
    live = load_checkpoint(out2)["state_dict"]
    assert torch.equal(first["stem.0.weight"], live["stem.0.weight"])
    assert not torch.equal(first["stem.1.running_mean"], live["stem.1.running_mean"])
    # the head level would freeze everything
    with pytest.raises(ValueError):
        apply_freeze(load_member(m1), "fc")


def test_detached_wo_reproduces_plain_starsse_and_live_wo_differs(world):
    root, bundle, plan = world
    plain_spec = plan.spec("tgt", 1, "starsse", 3)
    wo_spec = plan.spec("tgt", 1, "starsse_wo", 3)
    assert wo_spec["start"] == "member1" and plan.inputs("tgt", 1, "starsse_wo", 3)["earlier"] == [
        plan.member_file("tgt", 1, "starsse", 2)]
    same_seed = {**wo_spec, "member_seed": plain_spec["member_seed"]}
    _, plain = train_member(plan, "starsse", 3, spec=plain_spec, out=str(root / "plain.pt"))
    _, detached = train_member(plan, "starsse_wo", 3, spec={**same_seed, "wo": {"beta": 10.0, "detached": True}},
                               out=str(root / "wo_detached.pt"))
    info, live = train_member(plan, "starsse_wo", 3, spec=same_seed, out=str(root / "wo_live.pt"))
    assert states_equal(load_checkpoint(plain)["state_dict"], load_checkpoint(detached)["state_dict"])
    assert not states_equal(load_checkpoint(plain)["state_dict"], load_checkpoint(live)["state_dict"])
    assert all("wo" in row for row in info["terms"])


def test_ce_mse_rtd_members_train(world):
    root, bundle, plan = world
    for method in ("starsse_ce", "sse_mse", "sse_rtd"):
        info, out = train_member(plan, method, 3 if method == "starsse_ce" else 2)
        assert np.isfinite(info["train_loss"]).all()
        term = {"starsse_ce": "prev_ce", "sse_mse": "mse", "sse_rtd": "rtd"}[method]
        assert all(term in row for row in info["terms"])


def test_local_and_global_de_members_start_from_the_checkpoints(world):
    root, bundle, plan = world
    assert plan.inputs("tgt", 1, "local_de", 2)["init"] == str(root / "ckpt1.pt")
    assert [plan.inputs("tgt", 1, "global_de", k)["init"] for k in (2, 3)] == [str(root / "ckpt2.pt"),
                                                                              str(root / "ckpt3.pt")]
    a = start_model(plan.spec("tgt", 1, "local_de", 2), bundle, root / "ckpt1.pt", "small_resnet")
    b = start_model(plan.spec("tgt", 1, "first", 1), bundle, root / "ckpt1.pt", "small_resnet")
    assert torch.equal(a.stem[0].weight, b.stem[0].weight)  # same pre-trained features
    assert not torch.equal(a.fc.weight, b.fc.weight)  # each member has its own head initialisation


def test_member1_from_a_weights_file_in_byol_format(world, tmp_path):
    """ensembles.weights: a local file holding the state dict under `model_state` with `module.` prefixes."""
    root, bundle, plan = world
    torch.manual_seed(5)
    source = build_model("small_resnet", 1000, 1, 8)
    path = tmp_path / "byol.pt"
    torch.save({"model_state": {f"module.{k}": v for k, v in source.state_dict().items()}, "epoch": 1000}, path)
    spec = {**plan.spec("tgt", 1, "first", 1), "weights": {"path": str(path)}}
    model = start_model(spec, bundle, None, "small_resnet")
    assert torch.equal(model.stem[0].weight, source.stem[0].weight) and model.fc.out_features == 3
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        start_model({**spec, "weights": {"path": str(tmp_path / "missing.pt")}}, bundle, None, "small_resnet")


@pytest.mark.parametrize("arch", sorted(a for a in ARCHS if a != "mlp"))  # the MLP has no stages
def test_stage_taps_are_conv_map_taps_in_forward_order(arch):
    taps = stage_taps(arch)
    names = ARCHS[arch].tap_names
    assert taps and set(taps) <= set(names) and list(taps) == [t for t in names if t in taps]
    assert not {"in", "pool", "out"} & set(taps)


@pytest.mark.parametrize("arch, channels, side", [("small_resnet", 1, 8), ("mnist_cnn", 1, 28)])
def test_predict_pooled_averages_each_stage_over_space(arch, channels, side):
    torch.manual_seed(0)
    model = build_model(arch, 3, channels, side)
    images = torch.randint(0, 256, (10, channels, side, side), dtype=torch.uint8)
    prep = Preprocess([0.5] * channels, [0.25] * channels)
    taps = ("pool", *stage_taps(arch))
    probs, pooled = predict_pooled(model, images, prep, taps, batch_size=4)  # batches of 4, 4 and 2
    assert list(pooled) == [t for t in taps if t in ARCHS[arch].tap_names]  # mnist_cnn has no pool tap
    model.eval()
    with torch.no_grad():
        direct = model(prep(images), taps=True)
    for tap in stage_taps(arch):
        assert direct[tap].ndim == 4 and pooled[tap].dtype == np.float32
        assert np.allclose(pooled[tap], direct[tap].mean(dim=(2, 3)).numpy(), atol=1e-5)
    assert np.allclose(probs, direct["out"].exp().numpy(), atol=1e-6)
    same_probs, features = predict_probs(model, images, prep, batch_size=4)
    assert np.array_equal(same_probs, probs) and (features is None) == ("pool" not in pooled)


class Killed(Exception):
    """Stands in for the end of a SLURM job at its time limit (raised at the end of an epoch)."""


def interrupted(monkeypatch, after_epoch=2):
    """Make members' training stop at the end of epoch ``after_epoch`` as a job killed during it would: before that
    epoch's resume state and the member's outputs are written, after the previous epoch's state (runtime.span_jobs
    relies on the next try resuming from it)."""
    import transferscope.ensembles.members as members

    real = members.train

    def train_until_killed(*args, **kwargs):
        hook = kwargs.get("on_epoch_end")

        def end(epoch, row):
            if hook:
                hook(epoch, row)
            if epoch == after_epoch:
                raise Killed

        return real(*args, **{**kwargs, "on_epoch_end": end})

    monkeypatch.setattr(members, "train", train_until_killed)


def test_a_killed_member_resumes_in_the_next_job(world, monkeypatch):
    """Member 1 killed in epoch 2 of 2 leaves no output but epoch 1's resume state; the next try finishes it with
    the weights of an uninterrupted run. An SSE-RTD member (its RTD points redrawn after resuming) finishes too."""
    root, _, plan = world
    fresh, fresh_out = train_member(plan, "first", 1, out=str(root / "fresh/first/member1.pt"))
    out = str(root / "killed/first/member1.pt")
    with monkeypatch.context() as patch:
        interrupted(patch)
        with pytest.raises(Killed):
            train_member(plan, "first", 1, out=out)
    assert not Path(out).exists() and (Path(out).parent / ".resume_member1" / "state.pt").exists()
    resumed, _ = train_member(plan, "first", 1, out=out)
    assert not (Path(out).parent / ".resume_member1").exists()
    assert resumed["lrs"] == fresh["lrs"] and len(resumed["lrs"]) == 2
    assert states_equal(load_checkpoint(out)["state_dict"], load_checkpoint(fresh_out)["state_dict"])

    spec = plan.spec("tgt", 1, "sse_rtd", 2)
    spec["recipe"] = {**spec["recipe"], "epochs": 2}
    out = str(root / "killed/sse_rtd/member2.pt")
    with monkeypatch.context() as patch:
        interrupted(patch)
        with pytest.raises(Killed):
            train_member(plan, "sse_rtd", 2, spec=spec, out=out)
    info, _ = train_member(plan, "sse_rtd", 2, spec=spec, out=out)
    assert Path(out).exists() and len(info["lrs"]) == 2 and not (Path(out).parent / ".resume_member2").exists()
