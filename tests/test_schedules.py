import math

import keras
import numpy as np
import pytest

from biocnn import optimizers, schedules


def _values(schedule, steps):
    return np.array([float(schedule(t)) for t in steps])


def test_warmup_cosine_matches_the_formula_by_hand():
    schedule = schedules.WarmupCosine(0.2, total_steps=12, warmup_steps=4, final_learning_rate=0.02)
    expected = [0.2 * (t + 1) / 4 for t in range(4)]
    expected += [0.02 + 0.18 * 0.5 * (1 + math.cos(math.pi * (t - 4) / 8)) for t in range(4, 13)]
    np.testing.assert_allclose(_values(schedule, range(13)), expected, rtol=1e-6)
    assert float(schedule(50)) == pytest.approx(0.02)  # after the run: the final rate


def test_one_cycle_matches_pytorch():
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    sgd = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    reference = torch.optim.lr_scheduler.OneCycleLR(sgd, max_lr=0.4, total_steps=37, pct_start=0.3,
                                                    div_factor=25, final_div_factor=1e4, cycle_momentum=False)
    expected = [sgd.param_groups[0]["lr"]]
    for _ in range(36):
        sgd.step()
        reference.step()
        expected.append(sgd.param_groups[0]["lr"])
    mine = schedules.OneCycle(0.4, total_steps=37, pct_start=0.3, div_factor=25, final_div_factor=1e4)
    np.testing.assert_allclose(_values(mine, range(37)), expected, rtol=1e-5)


def test_one_cycle_by_hand():
    mine = schedules.OneCycle(1.0, total_steps=11, pct_start=0.5, div_factor=10, final_div_factor=10)
    # rising over steps 0..4.5 from 0.1 to 1, falling over 4.5..10 to 0.01
    assert float(mine(0)) == pytest.approx(0.1)
    assert float(mine(2.25)) == pytest.approx(0.1 + 0.9 * 0.5, rel=1e-6)
    assert float(mine(10)) == pytest.approx(0.01, rel=1e-5)


@pytest.mark.parametrize("schedule", [schedules.WarmupCosine(0.1, 20, warmup_steps=3, final_learning_rate=0.001),
                                      schedules.OneCycle(0.3, 40, pct_start=0.25)])
def test_schedules_round_trip_inside_momentum_sgd(schedule, tmp_path):
    config = schedule.get_config()
    assert type(schedule).from_config(config).get_config() == config
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizers.MomentumSGD(learning_rate=schedule), loss="mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    # one step taken: the restored optimizer is at step 1 of the same schedule
    assert float(loaded.optimizer.learning_rate) == pytest.approx(float(schedule(1)))
    assert loaded.optimizer.get_config()["learning_rate"]["config"] == config


def test_momentum_sgd_follows_the_schedule_in_the_velocity():
    # The AlexNet rule with lr(t): v <- 0.9 v - lr(t) g; w <- w + v (no decay on a rank-1 variable).
    schedule = schedules.WarmupCosine(0.1, total_steps=4, warmup_steps=2)
    w = keras.Variable([1.0])
    opt = optimizers.MomentumSGD(learning_rate=schedule, momentum=0.9, weight_decay=0.0)
    v, expected = 0.0, 1.0
    for t in range(4):
        opt.apply([keras.ops.ones((1,))], [w])
        v = 0.9 * v - float(schedule(t)) * 1.0
        expected += v
        assert float(w.numpy()[0]) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("bad, match", [
    (dict(peak_learning_rate=0, total_steps=10), "peak_learning_rate must be a number > 0"),
    (dict(peak_learning_rate=0.1, total_steps=10, warmup_steps=10), r"warmup_steps must be an integer in \[0, total_steps=10\)"),
])
def test_warmup_cosine_refuses_bad_settings(bad, match):
    with pytest.raises(ValueError, match=match):
        schedules.WarmupCosine(**bad)


def test_get_names_the_valid_schedules():
    assert schedules.get("plateau", learning_rate=0.05, total_steps=10) == 0.05
    with pytest.raises(ValueError, match="choose one of plateau, cosine, onecycle"):
        schedules.get("step", learning_rate=0.05, total_steps=10)
