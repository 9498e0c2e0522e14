"""Per-target fine-tuning recipes and eval points, and the scratch baseline's own recipe (finetune.target_recipes,
finetune.target_eval_points, finetune.scratch_recipe)."""
import json
import os

import pytest
import yaml

from conftest import REPO
from transferscope.config import (ConfigError, finetune_recipe, scratch_recipe, target_eval_points, training_batches,
                                  validate_config)


def tiny(edit=None):
    """tests/data/config_tiny.yaml with a second target (digits03), validated after ``edit(finetune section)``."""
    with open(os.path.join(REPO, "tests/data/config_tiny.yaml")) as fh:
        config = yaml.safe_load(fh)
    config["targets"] = ["digits69", "digits03"]
    if edit:
        edit(config["finetune"])
    return validate_config(config)


def test_recipes_merge_base_then_mode_then_target():
    def edit(ft):
        ft["mode_recipes"] = {"freeze:conv1": {"lr": 0.01, "batch_size": 32}}
        ft["target_recipes"] = {"digits69": {"batch_size": 8, "epochs": 2}}

    config = tiny(edit)
    base = config["finetune"]["recipe"]
    assert finetune_recipe(config, "full", "digits03") == base
    assert finetune_recipe(config, "freeze:conv1", "digits03") == {**base, "lr": 0.01, "batch_size": 32}
    assert finetune_recipe(config, "full", "digits69") == {**base, "batch_size": 8, "epochs": 2}
    # the target's override wins over the mode's; a mode token (freeze-conv1) names the same mode
    assert finetune_recipe(config, "freeze-conv1", "digits69") == {**base, "lr": 0.01, "batch_size": 8, "epochs": 2}
    assert finetune_recipe(config, "full") == base  # no target: as before


def test_scratch_recipe_merges_base_then_scratch_then_target():
    def edit(ft):
        ft["mode_recipes"] = {"full": {"lr": 0.5}}  # fine-tuning only: not the scratch baseline's
        ft["scratch_recipe"] = {"optimizer": "sgd", "lr": 0.01, "batch_size": 4, "epochs": 9}
        ft["target_recipes"] = {"digits69": {"batch_size": 8}}

    config = tiny(edit)
    base = config["finetune"]["recipe"]
    assert scratch_recipe(config, "digits03") == {**base, "optimizer": "sgd", "lr": 0.01, "batch_size": 4, "epochs": 9}
    assert scratch_recipe(config, "digits69") == {**base, "optimizer": "sgd", "lr": 0.01, "batch_size": 8, "epochs": 9}
    assert scratch_recipe(tiny(), "digits69") == tiny()["finetune"]["recipe"]  # absent: the fine-tuning recipe


def test_overrides_get_no_defaults_so_existing_params_stay():
    config = tiny(lambda ft: ft.update(target_recipes={"digits69": {"batch_size": 8}}, scratch_recipe={"lr": 0.1}))
    assert config["finetune"]["target_recipes"] == {"digits69": {"batch_size": 8}}
    assert config["finetune"]["scratch_recipe"] == {"lr": 0.1}
    plain = tiny()
    assert plain["finetune"]["target_recipes"] == plain["finetune"]["target_eval_points"] == {}
    assert plain["finetune"]["scratch_recipe"] == {}


def test_eval_points_of_a_target():
    config = tiny(lambda ft: ft.update(target_eval_points={"digits03": ["step0", "step5", "final"]}))
    assert target_eval_points(config, "digits03") == ["step0", "step5", "final"]
    assert target_eval_points(config, "digits69") == config["finetune"]["eval_points"] == ["step0", "epoch1", "final"]


@pytest.mark.parametrize("edit, message", [
    (lambda ft: ft.update(target_recipes={"pets": {"batch_size": 8}}),
     "finetune.target_recipes.pets: not one of targets"),
    (lambda ft: ft.update(target_eval_points={"pets": ["final"]}),
     "finetune.target_eval_points.pets: not one of targets"),
    (lambda ft: ft.update(target_recipes={"digits69": {"batchsize": 8}}),
     "finetune.target_recipes.digits69.batchsize: unknown recipe key"),
    (lambda ft: ft.update(target_recipes={"digits69": {"batch_size": 0}}),
     "finetune.target_recipes.digits69.batch_size: 0 is less than the minimum of 1"),
    (lambda ft: ft.update(scratch_recipe={"optimizer": "lbfgs"}),
     "finetune.scratch_recipe.optimizer: 'lbfgs' is not one of"),
    (lambda ft: ft.update(scratch_recipe={"layer_lr": {"fc9": 0.1}}),
     "finetune.scratch_recipe.layer_lr.fc9: not a layer"),
])
def test_bad_overrides_name_their_key(edit, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        tiny(edit)


def test_early_point_must_be_one_of_every_targets_points():
    def edit(points):
        def apply(ft):
            ft["target_eval_points"] = {"digits03": points}
        return apply

    config = tiny(edit(["step0", "epoch1", "final"]))
    config["analysis"]["early_point"] = "epoch1"
    validate_config(config)
    config = tiny(edit(["step0", "step5", "final"]))
    config["analysis"]["early_point"] = "epoch1"
    with pytest.raises(ConfigError, match=r"analysis\.early_point: 'epoch1' is not one of "
                                          r"finetune\.target_eval_points\.digits03") as error:
        validate_config(config)
    assert "finetune.eval_points" not in str(error.value)  # digits69's default list has it
    # every target has its own list: finetune.eval_points is unused and need not hold it
    own = {target: ["step0", "step5", "final"] for target in ("digits69", "digits03")}
    config = tiny(lambda ft: ft.update(target_eval_points=own))
    config["analysis"]["early_point"] = "step5"
    validate_config(config)


def test_training_batches_take_the_largest_over_modes_targets_and_scratch():
    assert training_batches(tiny())["finetune"] == 16
    larger = tiny(lambda ft: ft.update(target_recipes={"digits03": {"batch_size": 48}}))
    assert training_batches(larger)["finetune"] == 48
    assert training_batches(tiny(lambda ft: ft.update(scratch_recipe={"batch_size": 40})))["finetune"] == 40
    config = tiny(lambda ft: ft.update(mode_recipes={"full": {"batch_size": 24}},
                                       target_recipes={"digits69": {"batch_size": 8}, "digits03": {"batch_size": 8}}))
    assert training_batches(config)["finetune"] == 8  # every run's batch is 8 (the target's wins)


def test_thesis_vgg16_targets_get_their_batch_size_eval_points_and_scratch_recipe():
    with open(os.path.join(REPO, "configs/thesis_a_vgg16.yaml")) as fh:
        config = validate_config(yaml.safe_load(fh))
    mode = config["finetune"]["modes"][0]
    assert {t: finetune_recipe(config, mode, t)["batch_size"] for t in config["targets"]} == \
        {"custom3d": 12, "malaria": 22, "pets": 58}
    assert [len(target_eval_points(config, t)) for t in config["targets"]] == [10, 12, 10]
    pets = scratch_recipe(config, "pets")
    assert (pets["optimizer"], pets["lr"], pets["momentum"], pets["layer_lr"], pets["schedule"], pets["step_size"],
            pets["gamma"], pets["epochs"], pets["batch_size"]) == ("sgd", 0.01, 0.9, {}, "step", 20, 0.1, 100, 58)
    assert training_batches(config)["finetune"] == 58


@pytest.mark.slow
def test_rule_params_follow_the_target(tmp_path):
    """The real workflow (a Snakefile that includes it, then evaluates the finetune and scratch rules' params per
    target), dry-run on config_tiny with a second target and an override for digits69 only."""
    from workflow_helpers import edited_config, planned_jobs, run_snakemake

    def edit(config):
        config["targets"] = ["digits69", "digits03"]
        config["finetune"]["target_recipes"] = {"digits69": {"batch_size": 8}}
        config["finetune"]["target_eval_points"] = {"digits69": ["step0", "step2", "final"]}
        config["analysis"]["target_samples"] = {"digits69": {"split": "train", "n_samples": 40}}

    configfile = edited_config(os.path.join(REPO, "tests/data/config_tiny.yaml"), tmp_path / "config.yaml", edit)
    dump = tmp_path / "params.json"
    wrapper = tmp_path / "wrapper"
    wrapper.mkdir()
    (wrapper / "Snakefile").write_text(f"""
include: {os.path.join(REPO, "Snakefile")!r}

import json as _json
from types import SimpleNamespace as _NS

_seen = {{}}
for _rule in ("finetune", "scratch"):
    _params = getattr(rules, _rule).params
    for _target in TARGETS:
        for _mode in MODES:
            _wc = _NS(target=_target, mode=_mode)
            _seen[f"{{_rule}}/{{_target}}/{{_mode}}"] = dict(recipe=_params.recipe(_wc) if callable(_params.recipe)
                                                           else _params.recipe, eval_points=_params.eval_points(_wc))
for _rule in ("extract", "model_metrics"):
    _params = getattr(rules, _rule).params
    for _target in TARGETS:
        _wc = _NS(target=_target)
        _seen[f"{{_rule}}/{{_target}}"] = {{key: getattr(_params, key)(_wc) for key in ("n_samples", "split", "pool")}}
with open({str(dump)!r}, "w") as _fh:
    _json.dump(_seen, _fh)
""")
    out = run_snakemake(tmp_path, "-n", configfile=configfile, targets=["all"], repo=str(wrapper), timeout=600).stdout
    jobs = planned_jobs(out)
    assert jobs["finetune"] == 2 * 2 * 2 and jobs["scratch"] == 2  # targets × sources × modes; one per target
    seen = json.loads(dump.read_text())
    plain = tiny()
    for mode in ("full", "freeze-conv1"):
        assert seen[f"finetune/digits69/{mode}"]["recipe"] == {**finetune_recipe(plain, mode), "batch_size": 8}
        assert seen[f"finetune/digits03/{mode}"]["recipe"] == finetune_recipe(plain, mode)  # unchanged
        assert seen[f"finetune/digits69/{mode}"]["eval_points"] == seen[f"scratch/digits69/{mode}"]["eval_points"] == \
            ["step0", "step2", "final"]
        assert seen[f"finetune/digits03/{mode}"]["eval_points"] == ["step0", "epoch1", "final"]
    assert seen["scratch/digits69/full"]["recipe"] == {**plain["finetune"]["recipe"], "batch_size": 8}
    assert seen["scratch/digits03/full"]["recipe"] == plain["finetune"]["recipe"]
    # analysis.target_samples: digits69's own sample, digits03 the analysis section's
    for rule in ("extract", "model_metrics"):
        assert seen[f"{rule}/digits69"] == {"n_samples": 40, "split": "train", "pool": "both"}
        assert seen[f"{rule}/digits03"] == {"n_samples": 60, "split": "test", "pool": "both"}


def test_analysis_sample_of_a_target_and_its_key_errors():
    from transferscope.config import analysis_sample

    with open(os.path.join(REPO, "tests/data/config_tiny.yaml")) as fh:
        config = yaml.safe_load(fh)
    config["targets"] = ["digits69", "digits03"]
    config["analysis"]["target_samples"] = {"digits69": {"split": "train", "n_samples": 40}}
    checked = validate_config(config)
    assert analysis_sample(checked, "digits69") == {**analysis_sample(checked, "digits03"), "split": "train",
                                                    "n_samples": 40}
    assert analysis_sample(checked, "digits03")["n_samples"] == 60 and analysis_sample(checked, "digits03")["split"] == "test"
    config["analysis"]["target_samples"] = {"pets": {"n_samples": 40}}
    with pytest.raises(ConfigError, match=r"analysis.target_samples.pets: not one of targets"):
        validate_config(config)
