"""The SSE / StarSSE learning-rate schedule: per epoch, cosine phase I, cycles restarting at cycle_lr."""
import math

import pytest

from transferscope.ensembles.schedule import (cycle_settings, member_lrs, member_recipe, thesis_lr,
                                              trajectory_lrs)

RECIPE = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0, "schedule": "cosine",
          "batch_size": 8, "epochs": 4}


def test_defaults_are_twice_the_lr_and_half_the_epochs():
    assert cycle_settings(RECIPE) == (0.2, 2)
    assert cycle_settings({**RECIPE, "epochs": 25}) == (0.2, 12)  # thesis B: int(0.5 · 25)
    assert cycle_settings(RECIPE, cycle_lr=0.3, cycle_epochs=3) == (0.3, 3)
    assert cycle_settings({**RECIPE, "epochs": 1}) == (0.2, 1)


def test_pinned_learning_rates_for_E4_F2_K3():
    c = math.cos(math.pi / 4)
    expected = [0.1, 0.05 * (1 + c), 0.05, 0.05 * (1 - c),  # member 1: cosine from 0.1 over 4 epochs
                0.2, 0.1,  # member 2: restart at 2·lr, cosine over 2 epochs (never reaching 0)
                0.2, 0.1]  # member 3: the same cycle again
    got = trajectory_lrs(RECIPE, members=3)
    assert got == pytest.approx(expected, abs=1e-12)
    assert got == pytest.approx([thesis_lr(t, 4, 2, 0.1, 0.2) for t in range(8)], abs=1e-12)


def test_cycle_recipe_keeps_everything_but_lr_epochs_schedule():
    second = member_recipe({**RECIPE, "schedule": "constant"}, 2, cycle_lr=0.5, cycle_epochs=3)
    assert second == {**RECIPE, "lr": 0.5, "epochs": 3, "schedule": "cosine"}
    assert member_recipe(RECIPE, 1) == RECIPE
    assert member_lrs(second) == pytest.approx([0.5, 0.375, 0.125])
    with pytest.raises(ValueError):
        member_recipe(RECIPE, 0)


def test_thesis_b_cycle_values():
    """The per-epoch values of one BYOL cycle listed in the reference (F = 12, η_c = 0.1)."""
    cycle = member_lrs(member_recipe({**RECIPE, "lr": 0.05, "epochs": 25}, 2))
    assert [round(v, 4) for v in cycle] == [0.1, 0.0983, 0.0933, 0.0854, 0.075, 0.0629, 0.05, 0.0371, 0.025,
                                            0.0146, 0.0067, 0.0017]
