"""Optional CUDA speed options: off -> nothing changes; on the CPU -> ignored, results bit-identical."""
import pytest
import torch

from transferscope.config import validate_config
from transferscope.data.prepare import build_bundle
from transferscope.models import build_model
from transferscope.training.accel import accelerated_loss, active_options, autocast, prepare_model_for_device
from transferscope.training.loop import TensorData, default_loss, train

RECIPE = {"optimizer": "adam", "lr": 1e-3, "batch_size": 32, "epochs": 2, "schedule": "constant",
          "augment": {"translate": 1}}
ALL_ON = {"bf16": True, "channels_last": True, "compile": True}


@pytest.fixture(scope="module")
def data():
    spec = {"source": "sklearn_digits", "derive": [{"op": "class_subset", "classes": [0, 1, 2]}, {"op": "pad", "size": 12}],
            "few_shot": 30}
    return TensorData.from_bundle(build_bundle("digits012", spec))


def trained(data, options, use_accel=True):
    torch.manual_seed(0)
    model = build_model("mnist_cnn", 3, 1, 12)
    kwargs = {}
    if use_accel:
        model = prepare_model_for_device(model, "cpu", options)
        kwargs["loss_fn"] = accelerated_loss(default_loss, "cpu", options)
    result = train(model, data, RECIPE, seed=4, points=["final"], **kwargs)
    return model, result


def test_cpu_results_bit_identical_with_options_off_and_on(data):
    plain, r_plain = trained(data, None, use_accel=False)
    off, r_off = trained(data, {"bf16": False, "channels_last": False, "compile": False})
    on, r_on = trained(data, ALL_ON)
    for other, r_other in ((off, r_off), (on, r_on)):
        for (k, a), b in zip(plain.state_dict().items(), other.state_dict().values()):
            assert torch.equal(a, b), k
        assert r_other.points["final"]["test_acc"] == r_plain.points["final"]["test_acc"]
        assert [h["train_loss"] for h in r_other.history] == [h["train_loss"] for h in r_plain.history]


def test_options_are_no_ops_on_cpu():
    model = build_model("mnist_cnn", 3, 1, 12)
    assert prepare_model_for_device(model, torch.device("cpu"), ALL_ON) is model
    assert model.conv1.weight.is_contiguous()  # not converted to channels_last
    assert accelerated_loss(default_loss, "cpu", ALL_ON) is default_loss
    assert active_options("cpu", ALL_ON) == {"bf16": False, "channels_last": False, "compile": False}
    with autocast("cpu", ALL_ON):
        assert not torch.is_autocast_enabled()


def test_options_activate_only_on_cuda_device_type():
    assert active_options(torch.device("cuda", 0), {"bf16": True}) == {"bf16": True, "channels_last": False,
                                                                      "compile": False}
    assert active_options("cuda", None) == {"bf16": False, "channels_last": False, "compile": False}
    with pytest.raises(ValueError, match="config key cuda"):
        active_options("cuda", {"fp8": True})


def test_config_cuda_defaults_and_validation():
    cfg = validate_config({"datasets": {"d": {"source": "sklearn_digits"}}, "sources": ["d"], "targets": ["d"]})
    assert cfg["cuda"] == {"bf16": False, "channels_last": False, "compile": False}
    from transferscope.config import ConfigError

    with pytest.raises(ConfigError, match="cuda"):
        validate_config({"datasets": {"d": {"source": "sklearn_digits"}}, "sources": ["d"], "targets": ["d"],
                         "cuda": {"bf16": "yes"}})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_options_train_and_keep_state_dict_keys(data):
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = build_model("mnist_cnn", 3, 1, 12).to(dev)
    keys = list(model.state_dict())
    model = prepare_model_for_device(model, dev, ALL_ON)
    result = train(model, data.to(dev), RECIPE, seed=4, points=["final"],
                   loss_fn=accelerated_loss(default_loss, dev, ALL_ON))
    assert list(model.state_dict()) == keys  # compile in place: checkpoints unaffected
    assert all(torch.isfinite(torch.tensor(h["train_loss"])) for h in result.history)
    assert result.points["final"]["test_acc"] > 0.5
