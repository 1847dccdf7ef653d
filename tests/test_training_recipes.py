"""TrainingConfig's recipes inside fit: schedules, label smoothing, class weights, --lr auto."""

import keras
import numpy as np
import pytest

from biocnn import schedules, training
from biocnn.training import TrainingConfig


def _data(n=48, seed=0, positive=0.25):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    y = (rng.random(n) < positive).astype("int64")
    return x, y


def _net(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])


def _first_loss(config, x, y):
    """The loss Keras reports for one full-batch epoch at a learning rate too small to move the weights."""
    model = _net()
    probabilities = model.predict(x, verbose=0).astype("float64")
    result = training.fit(model, x, y, config=config, verbose=0)
    return result.history["loss"].iloc[0], probabilities


def test_cosine_schedule_sets_each_epochs_rate():
    x, y = _data()
    config = TrainingConfig(epochs=6, batch_size=16, learning_rate=0.1, schedule="cosine", warmup_epochs=2)
    result = training.fit(_net(), x, y, config=config, verbose=0)
    expected = schedules.WarmupCosine(0.1, total_steps=18, warmup_steps=6)
    rates = [float(expected(epoch * 3)) for epoch in range(6)]  # 3 steps per epoch; the rate at each epoch's start
    np.testing.assert_allclose(result.history["learning_rate"], rates, rtol=1e-5)


def test_label_smoothing_is_the_smoothed_cross_entropy():
    x, y = _data()
    loss, p = _first_loss(TrainingConfig(epochs=1, batch_size=48, learning_rate=1e-9, label_smoothing=0.3), x, y)
    target = np.full((48, 3), 0.3 / 3) + 0.7 * np.eye(3)[y]
    np.testing.assert_allclose(loss, -(target * np.log(p)).sum(1).mean(), rtol=1e-4)


def test_balanced_class_weights_weigh_each_sample_by_its_class():
    x, _ = _data()
    y = np.repeat([0, 1, 2], [30, 12, 6])  # 5 : 2 : 1
    loss, p = _first_loss(TrainingConfig(epochs=1, batch_size=48, learning_rate=1e-9, class_weight="balanced"), x, y)
    counts = np.bincount(y, minlength=3)
    weights = {c: 48 / (3 * counts[c]) for c in range(3)}
    per_sample = -np.log(p[np.arange(48), y])
    np.testing.assert_allclose(loss, np.mean([weights[c] * value for c, value in zip(y, per_sample)]), rtol=1e-4)


def test_class_weight_refuses_a_class_without_samples():
    x, y = _data()
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="softmax")])
    with pytest.raises(ValueError, match=r"class\(es\) \[2, 3\] have no training sample"):
        training.fit(model, x, y, config=TrainingConfig(epochs=1, class_weight="balanced"), verbose=0)


def test_lr_auto_picks_a_rate_without_touching_the_model(capsys):
    x, y = _data(n=256)
    model = _net()
    before = [w.copy() for w in model.get_weights()]
    config = TrainingConfig(epochs=1, batch_size=32, learning_rate="auto")
    chosen = training.auto_learning_rate(model, x, y, config)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert 1e-6 < chosen.learning_rate < 1.0
    assert f"learning rate: {chosen.learning_rate:.3g}" in capsys.readouterr().out
    result = training.fit(model, x, y, config=config, verbose=0)
    assert result.history["learning_rate"].iloc[0] == pytest.approx(chosen.learning_rate, rel=1e-6)


@pytest.mark.parametrize("settings, match", [
    ({"warmup_epochs": 2}, "warmup_epochs=2 needs schedule='cosine'"),
    ({"schedule": "step"}, "schedule must be one of plateau, cosine, onecycle"),
    ({"class_weight": "inverse"}, "class_weight must be None or 'balanced'"),
    ({"learning_rate": "fast"}, "learning_rate must be a number > 0 or 'auto'"),
    ({"loss": "mse", "label_smoothing": 0.1}, "label_smoothing"),
])
def test_recipe_settings_are_checked_up_front(settings, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TrainingConfig(epochs=5, **settings)


def test_the_command_line_reaches_the_config():
    import argparse

    from biocnn import cli

    parser = cli.add_training_arguments(argparse.ArgumentParser(), modality="images", out=False)
    args = parser.parse_args(["--lr", "auto", "--schedule", "cosine", "--warmup-epochs", "3",
                              "--label-smoothing", "0.1", "--class-weight", "balanced"])
    config = cli.training_config(args)
    assert (config.learning_rate, config.schedule, config.warmup_epochs, config.label_smoothing,
            config.class_weight) == ("auto", "cosine", 3, 0.1, "balanced")
    with pytest.raises(SystemExit):
        parser.parse_args(["--lr", "-1"])
