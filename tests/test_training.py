import pytest
import torch

from transferscope.data.bundle import Bundle
from transferscope.data.prepare import build_bundle
from transferscope.models import build_model
from transferscope.training.augment import augment
from transferscope.training.loop import NonFiniteLossError, TensorData, train
from transferscope.training.optim import lr_factor
from transferscope.training.points import point_step, sort_points

RECIPE = {"optimizer": "adam", "lr": 1e-3, "batch_size": 32, "epochs": 3, "schedule": "constant", "augment": {}}


@pytest.fixture(scope="module")
def bundle():
    spec = {"source": "sklearn_digits", "derive": [{"op": "class_subset", "classes": [0, 1, 2]}, {"op": "pad", "size": 12}],
            "few_shot": 40}
    return build_bundle("digits012", spec)


def fresh(bundle, seed=0):
    torch.manual_seed(seed)
    c, h, _ = bundle.shape
    return build_model("mnist_cnn", bundle.n_classes, c, h)


def test_points():
    assert point_step("step0", 10, 3) == 0 and point_step("epoch2", 10, 3) == 20 and point_step("final", 10, 3) == 30
    assert sort_points(["final", "epoch1", "step5"], 10, 3) == ["step5", "epoch1", "final"]
    with pytest.raises(ValueError, match="beyond"):
        point_step("epoch4", 10, 3)


def test_training_learns_and_saves_points(bundle):
    model, data = fresh(bundle), TensorData.from_bundle(bundle)
    seen = {}
    result = train(model, data, RECIPE, seed=1, points=["step0", "step2", "epoch1", "final"],
                   on_point=lambda p, m, info: seen.setdefault(p, info))
    assert list(seen) == ["step0", "step2", "epoch1", "final"]
    assert seen["step2"]["step"] == 2 and seen["final"]["step"] == 3 * 4
    assert result.history[-1]["test_acc"] > 0.8 > seen["step0"]["test_acc"]
    assert len(result.history) == 3 and 1 <= result.best_epoch <= 3


def test_same_seed_same_weights(bundle):
    data = TensorData.from_bundle(bundle)
    a, b, c = fresh(bundle), fresh(bundle), fresh(bundle)
    for model, seed in ((a, 5), (b, 5), (c, 6)):
        train(model, data, RECIPE, seed=seed)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert not torch.equal(a.fc2.weight, c.fc2.weight)


def test_interrupted_run_resumes_to_identical_weights(bundle, tmp_path):
    data = TensorData.from_bundle(bundle)
    reference = fresh(bundle)
    train(reference, data, RECIPE, seed=3)

    class Killed(Exception):
        pass

    def kill_after_two(epoch, row):
        if epoch == 2:
            raise Killed

    model = fresh(bundle)
    with pytest.raises(Killed):
        train(model, data, RECIPE, seed=3, resume_dir=tmp_path, on_epoch_end=kill_after_two)
    assert (tmp_path / "state.pt").exists()
    resumed = fresh(bundle, seed=99)  # different init: everything must come from the resume state
    result = train(resumed, data, RECIPE, seed=3, resume_dir=tmp_path)
    assert len(result.history) == 3
    for (k, va), vb in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(va, vb), k


def test_nan_loss_stops_with_message(bundle):
    model, data = fresh(bundle), TensorData.from_bundle(bundle)
    with torch.no_grad():
        model.fc2.bias.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match="loss became nan at epoch 1, step 1"):
        train(model, data, RECIPE, seed=0)


@pytest.mark.parametrize("every", [1, 2, 10])
def test_nan_found_at_its_step_and_no_point_saved_after_it_with_lazy_checks(bundle, every):
    # accelerators check the losses every N steps (each check waits for the device); the message and the
    # guarantee "nothing is saved after a NaN" must not depend on N
    from transferscope.training.loop import default_loss

    calls = {"n": 0}

    def nan_at_step_3(model, x, y):
        calls["n"] += 1
        loss, logp = default_loss(model, x, y)
        return (loss * float("nan"), logp) if calls["n"] == 3 else (loss, logp)

    saved = []
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 1, step 3 \(lr 0.001\)"):
        train(fresh(bundle), TensorData.from_bundle(bundle), RECIPE, seed=0, points=["step2", "step4"],
              on_point=lambda name, model, info: saved.append(name), loss_fn=nan_at_step_3, nan_check_every=every)
    assert saved == ["step2"]


def test_epoch_draws_equal_per_step_draws():
    from transferscope.training.augment import apply_augment, draw_augment

    x = torch.rand(7, 2, 6, 6)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    per_step = [augment(x[:4], g1, translate=2, hflip=True), augment(x[4:], g1, translate=2, hflip=True)]
    draws = draw_augment(g2, [4, 3], translate=2, hflip=True)
    assert draws.offsets.shape == (2, 7) and draws.flips.shape == (7,) and draws.boxes is None
    at_once = [apply_augment(x[:4], 2, draws.part(slice(0, 4))), apply_augment(x[4:], 2, draws.part(slice(4, 7)))]
    assert all(torch.equal(a, b) for a, b in zip(per_step, at_once))
    assert torch.equal(g1.get_state(), g2.get_state())  # the generator is left where per-step draws leave it


def test_lr_schedules():
    r = {"epochs": 4, "schedule": "cosine"}
    assert [round(lr_factor(r, e), 4) for e in range(4)] == [1.0, 0.8536, 0.5, 0.1464]
    r = {"epochs": 4, "schedule": "step", "step_size": 2, "gamma": 0.5}
    assert [lr_factor(r, e) for e in range(4)] == [1.0, 1.0, 0.5, 0.5]


def test_augment_translate_and_flip():
    x = torch.zeros(64, 1, 5, 5)
    x[:, :, 2, 2] = 1.0
    g = torch.Generator().manual_seed(0)
    out = augment(x, g, translate=1)
    assert out.shape == x.shape and torch.equal(out.sum((1, 2, 3)), torch.ones(64))
    positions = {tuple(torch.nonzero(o[0])[0].tolist()) for o in out}
    assert len(positions) == 9  # every shift by -1..1 in both directions occurs
    y = torch.arange(5.0).view(1, 1, 1, 5).repeat(200, 1, 5, 1)
    flipped = augment(y, g, hflip=True)
    n_flipped = (flipped[:, 0, 0, 0] == 4).sum().item()
    assert 60 < n_flipped < 140 and ((flipped[:, 0, 0, 0] == 0) | (flipped[:, 0, 0, 0] == 4)).all()


def test_tensor_data_from_bundle(bundle):
    data = TensorData.from_bundle(bundle)
    assert data.x_train.dtype == torch.uint8 and set(data.evals) == {"val", "test"}
    assert isinstance(bundle, Bundle)


def test_finetune_job_skips_checkpoints_already_done(bundle, tmp_path):
    """A rerun of a fine-tuning job picks up results stashed by the failed attempt instead of retraining."""
    import json

    from transferscope.training.finetune import FinetuneJob, run_finetune_checkpoints
    from transferscope.training.pretrain import run_pretrain

    bundle.save(tmp_path / "d.pt")
    recipe = dict(RECIPE, epochs=1)
    ckpts = {p: str(tmp_path / f"pre/{p}.pt") for p in ("step0", "final")}
    run_pretrain(tmp_path / "d.pt", arch="mnist_cnn", seed=1, recipe=recipe, checkpoints=ckpts,
                 train_log=tmp_path / "pre/log.csv", device="cpu")
    stash = tmp_path / "ft/.stash_full"
    stash.mkdir(parents=True)
    (stash / "step0.json").write_text(json.dumps({"checkpoint": "step0", "test_acc": 0.123}))
    outs = {p: str(tmp_path / f"ft/{p}/full/result.json") for p in ckpts}
    job = FinetuneJob(arch="mnist_cnn", seed=1, mode="full", recipe=recipe, reinit=["head"], eval_points=["final"],
                      keys={"target": "d", "source": "d"}, device="cpu")
    results = run_finetune_checkpoints(tmp_path / "d.pt", ckpts, outs, job, stash_dir=stash)
    assert json.loads(open(outs["step0"]).read())["test_acc"] == 0.123  # not retrained
    final = json.loads(open(outs["final"]).read())
    assert final["checkpoint"] == "final" and 0 <= final["test_acc"] <= 1 and len(results) == 2
    assert not stash.exists()


def test_missing_or_corrupt_checkpoint_names_the_path(bundle, tmp_path):
    from transferscope.training.finetune import FinetuneJob, run_finetune

    bundle.save(tmp_path / "d.pt")
    job = FinetuneJob(arch="mnist_cnn", seed=1, mode="full", recipe=RECIPE, reinit=["head"], eval_points=["final"],
                      keys={"target": "d", "source": "s", "checkpoint": "final"}, device="cpu")
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        run_finetune(tmp_path / "d.pt", job, checkpoint=tmp_path / "nope.pt", result_path=tmp_path / "r.json")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00truncated")
    with pytest.raises(RuntimeError, match="bad.pt"):
        run_finetune(tmp_path / "d.pt", job, checkpoint=bad, result_path=tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_layer_lr_gives_named_layers_their_own_scheduled_lr(bundle):
    from transferscope.training.optim import build_optimizer, set_lr

    model = fresh(bundle)
    recipe = dict(RECIPE, lr=1e-4, layer_lr={"fc2": 1e-3}, optimizer="sgd", momentum=0.9)
    opt = build_optimizer(model, recipe)
    assert [len(g["params"]) for g in opt.param_groups] == [6, 2]  # conv1, conv2, fc1 | fc2 weight + bias
    set_lr(opt, 1e-4 * 0.5)  # a schedule halves both
    assert opt.param_groups[0]["lr"] == pytest.approx(5e-5) and opt.param_groups[1]["lr"] == pytest.approx(5e-4)
    data = TensorData.from_bundle(bundle)
    fc2_before, conv_before = model.fc2.weight.clone(), model.conv1.weight.clone()
    train(model, data, dict(recipe, epochs=1), seed=0)
    assert not torch.equal(model.fc2.weight, fc2_before) and not torch.equal(model.conv1.weight, conv_before)


def test_adam_is_fused_for_float32_parameters_and_matches_the_foreach_update(bundle):
    from transferscope.training.optim import build_optimizer

    recipe = dict(RECIPE, optimizer="adam", lr=1e-3)
    fused_model, plain_model = fresh(bundle), fresh(bundle)
    fused = build_optimizer(fused_model, recipe)
    assert fused.param_groups[0]["fused"] is True
    plain = torch.optim.Adam(plain_model.parameters(), lr=1e-3)  # the foreach implementation
    x = TensorData.from_bundle(bundle).x_train[:16].float() / 255.0
    for model, opt in ((fused_model, fused), (plain_model, plain)):
        model.eval()  # no dropout: both see the same function
        for _ in range(3):
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
    for a, b in zip(fused_model.parameters(), plain_model.parameters()):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)  # same update rule, rounding aside
    assert not torch.equal(fused_model.conv1.weight, fresh(bundle).conv1.weight)
    double = build_optimizer(fresh(bundle).double(), dict(RECIPE, optimizer="adamw", lr=1e-3))
    assert not double.param_groups[0]["fused"]  # fused kernels only where every parameter is float32


def test_layer_lr_unknown_layer_is_a_config_error():
    import os

    import yaml

    from conftest import REPO
    from transferscope.config import ConfigError, validate_config

    cfg = yaml.safe_load(open(os.path.join(REPO, "config.yaml")))
    cfg["finetune"]["recipe"]["layer_lr"] = {"fc9": 0.1}
    with pytest.raises(ConfigError, match="finetune.recipe.layer_lr.fc9"):
        validate_config(cfg)


def test_frozen_batchnorm_statistics_stay_frozen_across_an_evaluation_point_inside_an_epoch(bundle):
    """An eval point mid-epoch (step2 of 4 steps per epoch) must not put frozen BatchNorm layers back in train mode."""
    from transferscope.models import freeze_prefix

    torch.manual_seed(0)
    c, h, _ = bundle.shape
    model = build_model("small_resnet", bundle.n_classes, c, h)
    freeze_prefix(model, "stage1")
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    train(model, TensorData.from_bundle(bundle), {**RECIPE, "epochs": 2}, seed=1, points=["step2", "final"])
    after = model.state_dict()
    frozen = [k for k in before if k.startswith(("stem.", "stage1."))]
    trained = [k for k in before if k.startswith("stage2.")]
    assert frozen and trained
    assert all(torch.equal(after[k], before[k]) for k in frozen), [k for k in frozen if not torch.equal(after[k], before[k])]
    assert not all(torch.equal(after[k], before[k]) for k in trained)  # the trainable layers' statistics moved


def test_lr_grid_keeps_the_rate_with_the_best_validation_accuracy(bundle, tmp_path):
    """Every rate starts from the same weights and batches, so the chosen rate's run equals a run at that rate alone."""
    import json

    from transferscope.training.finetune import FinetuneJob, run_finetune

    assert bundle.counts()["val"] > 0
    bundle.save(tmp_path / "d.pt")
    job = FinetuneJob(arch="mnist_cnn", seed=1, mode="full", recipe=dict(RECIPE, lr_grid=[1e-7, 3e-3]),
                      eval_points=["final"], keys={"target": "d", "source": "scratch"}, device="cpu")
    grid = run_finetune(tmp_path / "d.pt", job, checkpoint=None, result_path=tmp_path / "grid.json")
    assert [t["lr"] for t in grid["lr_grid"]] == [1e-7, 3e-3] and grid["lr"] == 3e-3
    assert grid["lr_grid"][1]["val_acc"] > grid["lr_grid"][0]["val_acc"]  # 1e-7 barely moves the weights
    alone = run_finetune(tmp_path / "d.pt", FinetuneJob(**{**vars(job), "recipe": dict(RECIPE, lr=3e-3)}),
                         checkpoint=None, result_path=tmp_path / "alone.json")
    assert alone["test_acc"] == grid["test_acc"] == grid["lr_grid"][1]["test_acc"] and alone["lr_grid"] == []
    assert json.loads((tmp_path / "grid.json").read_text())["lr"] == 3e-3
    no_val = Bundle(bundle.images, bundle.labels, torch.where(bundle.split == 1, 0, bundle.split).to(torch.int8),
                    bundle.classes, bundle.meta)
    no_val.save(tmp_path / "noval.pt")
    with pytest.raises(ValueError, match="noval.pt"):
        run_finetune(tmp_path / "noval.pt", job, checkpoint=None, result_path=tmp_path / "x.json")
