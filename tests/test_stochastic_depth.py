"""StochasticDepth against its definition (per-sample keep-or-zero, binomial counts, mean x),
and where the networks put it: EfficientNet-Lite's reference rates, ResNet's linear rule."""

import keras
import numpy as np
import pytest

from biocnn.models.zoo_layers import StochasticDepth
from biocnn.training import set_seed


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _x(n, shape=(3, 4, 2), seed=0):
    x = np.random.default_rng(seed).normal(size=(1, *shape)).astype("float32") + 0.5
    return np.repeat(x, n, axis=0)


@pytest.mark.parametrize("shape", [(5,), (6, 3), (4, 5, 2), (3, 4, 2, 2)])
def test_inference_identity_in_every_rank(shape):
    x = _x(4, shape)
    layer = StochasticDepth(0.5)
    np.testing.assert_array_equal(_numpy(layer(x)), x)
    np.testing.assert_array_equal(_numpy(layer(x, training=False)), x)


@pytest.mark.parametrize("shape", [(5,), (6, 3), (4, 5, 2), (3, 4, 2, 2)])
def test_training_keeps_or_zeros_whole_samples(shape):
    rate = 0.4
    x = _x(200, shape)
    y = _numpy(StochasticDepth(rate, seed=3)(x, training=True))
    zero = np.all(y == 0, axis=tuple(range(1, y.ndim)))
    kept = np.all(np.isclose(y, x / (1 - rate), rtol=1e-6, atol=0), axis=tuple(range(1, y.ndim)))
    assert np.all(zero ^ kept)  # every sample is one or the other, never a mix
    assert 0 < zero.sum() < len(x)


def test_kept_fraction_within_a_binomial_bound_and_mean_is_x():
    rate, n = 0.3, 4000
    set_seed(7)
    x = _x(n)
    y = _numpy(StochasticDepth(rate)(x, training=True))
    kept = np.mean(np.any(y != 0, axis=(1, 2, 3)))
    sd = np.sqrt(rate * (1 - rate) / n)
    assert abs(kept - (1 - rate)) < 5 * sd, kept
    # E[y] = x: each element's sample mean within 5 standard errors of x
    se = np.abs(x[0]) * np.sqrt(rate / (1 - rate) / n)
    assert np.all(np.abs(y.mean(axis=0) - x[0]) < 5 * se + 1e-6)


def test_seeded_runs_repeat_under_set_seed():
    x = _x(64)
    draws = []
    for _ in range(2):
        set_seed(11)
        layer = StochasticDepth(0.5)
        draws.append([_numpy(layer(x, training=True)) for _ in range(2)])
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    np.testing.assert_array_equal(draws[0][1], draws[1][1])
    assert not np.array_equal(draws[0][0], draws[0][1])  # the generator advances between calls


def test_rate_zero_and_not_trainable_are_identity():
    x = _x(64)
    np.testing.assert_array_equal(_numpy(StochasticDepth(0.0)(x, training=True)), x)
    frozen = StochasticDepth(0.5)
    frozen.trainable = False
    np.testing.assert_array_equal(_numpy(frozen(x, training=True)), x)
    inputs = keras.Input((3, 4, 2))
    model = keras.Model(inputs, StochasticDepth(0.5)(inputs))
    model.trainable = False  # a frozen backbone
    np.testing.assert_array_equal(_numpy(model(x, training=True)), x)


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, True, "0.2"])
def test_bad_rate_is_refused_in_one_line(rate):
    with pytest.raises(ValueError, match=r"^StochasticDepth: rate must be a number in \[0, 1\).*got") as caught:
        StochasticDepth(rate)
    assert "\n" not in str(caught.value)


def test_config_and_keras_file_round_trip(tmp_path):
    layer = StochasticDepth(0.25, seed=5, name="drop")
    config = layer.get_config()
    assert config["rate"] == 0.25 and config["seed"] == 5
    assert StochasticDepth.from_config(config).get_config() == config
    inputs = keras.Input((6, 3))
    model = keras.Model(inputs, keras.layers.Add()([inputs, StochasticDepth(0.25, name="drop")(inputs)]))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.get_layer("drop"), StochasticDepth) and loaded.get_layer("drop").rate == 0.25
    x = _x(3, (6, 3))
    np.testing.assert_array_equal(_numpy(loaded(x)), _numpy(model(x)))
