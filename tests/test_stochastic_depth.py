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


# EfficientNet-Lite0's 16 blocks (0-based index: block); the residual ones are those with stride
# 1 and unchanged filters: 2b, 3b, 4b, 4c, 5b, 5c, 6b, 6c, 6d (1a: 32 -> 16, 5a: 80 -> 112, 7a:
# 192 -> 320, the rest stride 2). The reference's rate of block i: 0.2 * i / 16.
LITE0_RESIDUAL = {"block2b": 2, "block3b": 4, "block4b": 6, "block4c": 7, "block5b": 9, "block5c": 10,
                  "block6b": 12, "block6c": 13, "block6d": 14}


def _drops(model):
    return {layer.name: layer.rate for layer in model.layers if isinstance(layer, StochasticDepth)}


def test_lite0_has_the_reference_per_block_rates():
    from biocnn.transfer.efficientnet_lite import efficientnet_lite

    model = efficientnet_lite("efficientnet_lite0", (32, 32, 3))
    expected = {f"efficientnet_lite0_{block}_drop": 0.2 * i / 16 for block, i in LITE0_RESIDUAL.items()}
    assert _drops(model) == pytest.approx(expected, abs=1e-12)
    assert [round(r, 4) for r in expected.values()] == [0.025, 0.05, 0.075, 0.0875, 0.1125, 0.125, 0.15,
                                                         0.1625, 0.175]
    for name in expected:  # each one right before its block's addition
        add = model.get_layer(name.replace("_drop", "_add"))
        assert model.get_layer(name).output is add.input[1]
    off = efficientnet_lite("efficientnet_lite0", (32, 32, 3), drop_connect_rate=0)
    assert _drops(off) == {}
    assert [layer.name for layer in off.layers] == [layer.name for layer in model.layers if layer.name not in expected]
    with pytest.raises(ValueError, match=r"drop_connect_rate must be a rate in \[0, 1\).*got 1\.0"):
        efficientnet_lite("efficientnet_lite0", (32, 32, 3), drop_connect_rate=1.0)


def test_lite_backbone_passes_drop_connect_rate_and_inflates_with_it():
    import tensorflow as tf

    from biocnn.commands import transfer as command

    # the transfer command's path for volumes: --drop-connect-rate -> backbone -> new head -> inflate
    args = command.parse_args(["--npz", "unused.npz", "--backbone", "efficientnet_lite0", "--weights", "none",
                               "--drop-connect-rate", "0.4", "--inflate-depth", "1", "--out", "unused"])
    volume = command.build_model(args, (1, 32, 32, 1), 2)
    rates = _drops(volume)  # passed through inflate unchanged: the layer is rank-generic
    assert len(rates) == 9 and max(rates.values()) == pytest.approx(0.4 * 14 / 16)
    assert volume.input_shape == (None, 1, 32, 32, 1)
    x = np.random.default_rng(0).uniform(0, 1, size=(2, 1, 32, 32, 1)).astype("float32")
    before = [w.numpy().copy() for w in volume.trainable_weights]
    with tf.GradientTape() as tape:  # one training step (eager: the grouped 3D convolutions compile slowly)
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(np.array([0, 1]), volume(x, training=True)))
    grads = tape.gradient(loss, volume.trainable_weights)
    assert all(g is not None for g in grads)
    keras.optimizers.SGD(0.1).apply(grads, volume.trainable_weights)
    assert np.isfinite(float(loss))
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, volume.trainable_weights))
    args.backbone = "MobileNetV2"
    with pytest.raises(ValueError, match=r"^--drop-connect-rate applies to the EfficientNet-Lite backbones"):
        command.build_model(args, (32, 32, 1), 2)


def test_resnet18_rates_increase_linearly_and_the_default_is_unchanged():
    from biocnn.models import create

    model = create("resnet18", (16, 16, 1), 2, width_multiplier=0.125, stochastic_depth=0.2)
    blocks = [f"resnet18_conv{s}_block{b}" for s in (2, 3, 4, 5) for b in (1, 2)]
    expected = {f"{block}_drop": 0.2 * depth / 8 for depth, block in enumerate(blocks, start=1)}  # Huang: l / L * p
    assert _drops(model) == pytest.approx(expected, abs=1e-12)
    assert list(_drops(model)) == list(expected)  # bottom to top, the last at the full rate
    assert _drops(model)["resnet18_conv5_block2_drop"] == pytest.approx(0.2)
    for name in expected:  # on the branch, right before the addition
        assert model.get_layer(name).output is model.get_layer(name.replace("_drop", "_add")).input[1]
    default = create("resnet18", (16, 16, 1), 2, width_multiplier=0.125)
    explicit_off = create("resnet18", (16, 16, 1), 2, width_multiplier=0.125, stochastic_depth=0.0)
    names = [(layer.name, type(layer).__name__) for layer in default.layers]
    assert names == [(layer.name, type(layer).__name__) for layer in explicit_off.layers]
    assert sorted(names) == sorted((layer.name, type(layer).__name__) for layer in model.layers if layer.name not in expected)
    assert default.count_params() == model.count_params()
    # one option for 1D and 3D too, and in the model's own config
    volume = create("resnet18", (8, 8, 8, 1), 2, width_multiplier=0.125, stochastic_depth=0.1)
    assert len(_drops(volume)) == 8
    config = volume.get_config()
    assert sorted(layer["config"]["rate"] for layer in config["layers"] if layer["class_name"] == "StochasticDepth") == \
        pytest.approx(sorted(0.1 * depth / 8 for depth in range(1, 9)))


def test_wide_resnet_rates():
    from biocnn.models import create

    model = create("wide_resnet", (8, 8, 1), 2, depth=16, widen_factor=1, width_multiplier=0.25,
                   stochastic_depth=0.3)
    blocks = [f"wide_resnet_conv{g}_block{b}" for g in (2, 3, 4) for b in (1, 2)]
    assert _drops(model) == pytest.approx({f"{b}_drop": 0.3 * depth / 6 for depth, b in enumerate(blocks, start=1)})
    assert _drops(create("wide_resnet", (8, 8, 1), 2, depth=10, widen_factor=1)) == {}


@pytest.mark.parametrize("rate", [1.0, -0.1])
def test_check_model_options_refuses_bad_stochastic_depth_in_one_line(rate):
    from biocnn.models import blocks, create

    with pytest.raises(ValueError, match=rf"^net: stochastic_depth must be a rate in \[0, 1\) .*got {rate}\.$"):
        blocks.check_model_options((16, 16, 1), 2, activation="relu", dropout=0, width_multiplier=1, pooling="avg",
                                   head="softmax", where="net", residual=True, stochastic_depth=rate)
    with pytest.raises(ValueError, match=r"^resnet18: stochastic_depth must be a rate"):
        create("resnet18", (16, 16, 1), 2, stochastic_depth=rate)
    with pytest.raises(ValueError, match=r"^resnet: stochastic_depth=0.2 drops residual branches, and plain=True"):
        from biocnn.models import resnet
        resnet((16, 16, 1), 2, depth=18, plain=True, stochastic_depth=0.2)


def test_cli_model_option_reaches_the_network():
    import argparse
    import warnings

    from biocnn import cli
    from biocnn.models import create

    def spec(*argv):
        parser = argparse.ArgumentParser()
        cli.add_model_arguments(parser, "images")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # --model-option: the old spelling
            return cli.model_spec(parser.parse_args(list(argv)))

    assert spec("--model", "resnet18:stochastic_depth=0.1") == ("resnet18", {"stochastic_depth": 0.1})
    name, options = spec("--model", "resnet18", "--model-option", "stochastic_depth=0.1")
    assert (name, options) == ("resnet18", {"stochastic_depth": 0.1})
    model = create(name, (16, 16, 1), 2, width_multiplier=0.125, **options)
    assert max(_drops(model).values()) == pytest.approx(0.1)
