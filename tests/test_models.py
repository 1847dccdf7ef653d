"""Tests for biocnn.models: the registry, LeNet-5, the MLP and the shared rank tables."""

import keras
import numpy as np
import pytest

from biocnn import models
from biocnn.models import blocks, registry

# One small input per rank, channels last: a one-hot-like sequence, an image, a volume.
SHAPES = {1: (40, 4), 2: (28, 28, 1), 3: (16, 16, 16, 1)}
NUM_CLASSES = 3


def _batch(input_shape, n=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *input_shape)).astype("float32")


# Every registered model is built, run and trained in every rank in tests/test_zoo.py.


def test_available_lists_the_networks_sorted_with_their_ranks():
    listed = models.available()
    assert listed["lenet5"] == (1, 2, 3)
    assert listed["mlp"] == (1, 2, 3)
    assert list(listed) == sorted(listed)


@pytest.mark.parametrize("name", ["lenet5", "mlp"])
def test_keras_save_load_round_trip_gives_identical_predictions(name, tmp_path):
    model = models.create(name, SHAPES[2], NUM_CLASSES)
    x = _batch(SHAPES[2], n=4, seed=1)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
    )


# ---------------------------------------------------------------- LeNet-5


def test_lenet5_classic_parameter_count_layer_by_layer():
    model = models.lenet5((32, 32, 1), 10, padding="valid")
    expected = {
        "lenet5_conv1": 5 * 5 * 1 * 6 + 6,  # 156
        "lenet5_conv2": 5 * 5 * 6 * 16 + 16,  # 2,416
        "lenet5_fc1": 5 * 5 * 16 * 120 + 120,  # 48,120 (a 5x5x16 map flattened)
        "lenet5_fc2": 120 * 84 + 84,  # 10,164
        "lenet5_logits": 84 * 10 + 10,  # 850
    }
    assert expected == {
        "lenet5_conv1": 156,
        "lenet5_conv2": 2416,
        "lenet5_fc1": 48120,
        "lenet5_fc2": 10164,
        "lenet5_logits": 850,
    }
    for layer_name, count in expected.items():
        assert model.get_layer(layer_name).count_params() == count
    assert model.count_params() == 61_706


def test_lenet5_layer_names_are_predictable():
    model = models.lenet5((32, 32, 1), 10, name="net")
    assert [layer.name for layer in model.layers] == [
        "net_input",
        "net_conv1", "net_conv1_act", "net_pool1",
        "net_conv2", "net_conv2_act", "net_pool2",
        "net_flatten",
        "net_fc1", "net_fc1_act",
        "net_fc2", "net_fc2_act",
        "net_logits", "net_probs",
    ]
    assert model.name == "net"


def test_lenet5_without_output_activation_returns_the_logits():
    model = models.lenet5((32, 32, 1), 10, output_activation=None)
    assert model.layers[-1].name == "lenet5_logits"
    x = _batch((32, 32, 1))
    scores = keras.ops.convert_to_numpy(model(x))
    with_softmax = models.lenet5((32, 32, 1), 10)
    with_softmax.set_weights(model.get_weights())  # same weights: softmax is the only change
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(with_softmax(x)), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "input_shape, conv1, pool2",
    [
        # 'valid' layout, sizes by hand: W -> W-4 -> /2 -> -4 -> /2 (floor)
        ((32, 32, 1), (28, 28, 6), (5, 5, 16)),
        ((40, 4), (36, 6), (7, 16)),  # 40 -> 36 -> 18 -> 14 -> 7
        ((16, 16, 16, 1), (12, 12, 12, 6), (1, 1, 1, 16)),  # smallest 'valid' input
        ((17, 33, 3), (13, 29, 6), (1, 5, 16)),  # odd: 17 -> 13 -> 6 -> 2 -> 1; 33 -> ... -> 5
    ],
)
def test_lenet5_auto_padding_keeps_the_original_valid_layout_when_it_fits(
    input_shape, conv1, pool2
):
    model = models.lenet5(input_shape, 2)
    assert model.get_layer("lenet5_conv1").output.shape[1:] == conv1
    assert model.get_layer("lenet5_pool2").output.shape[1:] == pool2
    assert model.get_layer("lenet5_conv1").padding == "valid"


@pytest.mark.parametrize(
    "input_shape, pool2",
    [
        ((15, 15, 1), (4, 4, 16)),  # 15 -> 15 -> 8 -> 8 -> 4 (ceil with 'same')
        ((12, 40, 1), (3, 10, 16)),  # one small axis switches the whole network to 'same'
        ((1, 1), (1, 16)),  # a single position still works
    ],
)
def test_lenet5_auto_padding_falls_back_to_same_on_small_inputs(input_shape, pool2):
    model = models.lenet5(input_shape, 2)
    assert model.get_layer("lenet5_conv1").padding == "same"
    assert model.get_layer("lenet5_pool2").output.shape[1:] == pool2
    out = model(_batch(input_shape))
    assert out.shape == (2, 2)


def test_lenet5_valid_padding_on_a_too_small_input_names_axis_and_minimum():
    with pytest.raises(
        ValueError,
        match=r"padding='valid' needs at least 16 values along every spatial axis.*"
        r"spatial axis 1 of input_shape \(20, 15, 1\) has 15.*padding='auto' or 'same'",
    ):
        models.lenet5((20, 15, 1), 10, padding="valid")
    assert models.lenet5((16, 16, 1), 10, padding="valid").output_shape == (None, 10)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_lenet5_pooling_and_activation_options_pick_rank_layers(rank):
    model = models.lenet5(SHAPES[rank], 2, pooling="avg", activation="tanh")
    assert isinstance(model.get_layer("lenet5_conv1"), blocks.CONV[rank])
    assert isinstance(model.get_layer("lenet5_pool1"), blocks.AVG_POOL[rank])
    assert model.get_layer("lenet5_conv1").kernel.shape == (5,) * rank + (SHAPES[rank][-1], 6)
    assert model.get_layer("lenet5_fc1_act").get_config()["activation"] == "tanh"


@pytest.mark.parametrize(
    "options, match",
    [
        (
            {"pooling": "maxx"},
            r"lenet5: unknown pooling 'maxx'\. Did you mean 'max'\? Valid options: 'avg', 'max'",
        ),
        ({"padding": "vaild"}, r"unknown padding 'vaild'\. Did you mean 'valid'\?"),
        ({"activation": "rleu"}, r"lenet5: unknown activation 'rleu'\. Did you mean 'relu'\?.*'maxout'"),
        ({"output_activation": "sofmax"}, r"Did you mean 'softmax'\?"),
    ],
)
def test_lenet5_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        models.lenet5((32, 32, 1), 10, **options)


# ---------------------------------------------------------------- MLP


def _mlp_params(n_inputs, hidden, num_classes):
    widths = (n_inputs, *hidden, num_classes)
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


@pytest.mark.parametrize(
    "input_shape, hidden, expected",
    [
        # 784*512+512 + 512*256+256 + 256*10+10
        ((28, 28, 1), (512, 256), 401_920 + 131_328 + 2_570),
        ((40, 4), (16,), 160 * 16 + 16 + 16 * 10 + 10),  # 2,746
        ((16, 16, 16, 1), (), 4096 * 10 + 10),  # logistic regression
    ],
)
def test_mlp_parameter_count_matches_hand_formula(input_shape, hidden, expected):
    model = models.mlp(input_shape, 10, hidden_units=hidden)
    assert model.count_params() == expected == _mlp_params(int(np.prod(input_shape)), hidden, 10)


def test_mlp_layer_names_and_dropout():
    model = models.mlp((28, 28, 1), 10, hidden_units=(8, 4))
    assert [layer.name for layer in model.layers] == [
        "mlp_input", "mlp_flatten",
        "mlp_fc1", "mlp_fc1_act", "mlp_dropout1",
        "mlp_fc2", "mlp_fc2_act", "mlp_dropout2",
        "mlp_logits", "mlp_probs",
    ]
    assert model.get_layer("mlp_dropout1").rate == 0.5
    plain = models.mlp((28, 28, 1), 10, hidden_units=(8,), dropout=0, output_activation=None)
    assert [layer.name for layer in plain.layers] == [
        "mlp_input", "mlp_flatten", "mlp_fc1", "mlp_fc1_act", "mlp_logits",
    ]


def test_mlp_forward_matches_numpy():
    model = models.mlp((3, 2), 4, hidden_units=(5,), dropout=0, output_activation=None)
    x = _batch((3, 2), n=3)
    w1, b1, w2, b2 = model.get_weights()
    expected = np.maximum(x.reshape(3, -1) @ w1 + b1, 0) @ w2 + b2
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"dropout": 1.0}, r"mlp: dropout must be a rate in \[0, 1\).*got 1\.0"),
        ({"dropout": -0.1}, r"dropout must be a rate in \[0, 1\)"),
        ({"hidden_units": 512}, r"hidden_units must be a sequence.*\(512,\) for one layer"),
        ({"hidden_units": (64, 0)}, r"every entry of hidden_units must be a positive int; got 0"),
    ],
)
def test_mlp_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        models.mlp((28, 28, 1), 10, **options)


# ---------------------------------------------------------------- create() errors


def test_create_unknown_name_suggests_and_lists():
    with pytest.raises(
        ValueError,
        match=r"unknown model name 'lenet'\. Did you mean 'lenet5'\? Valid options: .*'mlp'",
    ):
        models.create("lenet", (28, 28, 1), 10)


def test_create_bad_option_names_it_and_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"model 'lenet5' has no option 'activaton'\. Did you mean 'activation'\? "
        r"Valid options: activation, dropout, head, name, output_activation, padding, pooling, "
        r"width_multiplier\.",
    ):
        models.create("lenet5", (28, 28, 1), 10, activaton="tanh")


def test_create_passes_options_through():
    model = models.create("mlp", (40, 4), 2, hidden_units=(7,), name="tiny")
    assert model.name == "tiny"
    assert model.get_layer("tiny_fc1").units == 7


def test_create_unsupported_rank_lists_supported_ranks(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @models.register("images_only", ranks=(2,))
    def images_only(input_shape, num_classes):
        return models.mlp(input_shape, num_classes, hidden_units=())

    assert models.available()["images_only"] == (2,)
    assert models.create("images_only", (8, 8, 1), 2).output_shape == (None, 2)
    with pytest.raises(
        ValueError,
        match=r"model 'images_only': input_shape \(16, 16, 16, 1\) has 3 spatial axes.*"
        r"supported: 2D \(input_shape of length 3\)",
    ):
        models.create("images_only", (16, 16, 16, 1), 2)


@pytest.mark.parametrize(
    "input_shape, match",
    [
        ((40,), r"input_shape \(40,\) has 0 spatial axes.*add a channel axis: \(40, 1\)"),
        ((2, 2, 2, 2, 1), r"has 4 spatial axes.*supported: 1D, 2D, 3D"),
        ((28, 0, 1), r"input_shape\[1\] must be a positive int, got 0"),
        ((28, None, 1), r"input_shape\[1\] must be a positive int, got None"),
        ("28x28", r"input_shape must be a tuple of ints"),
    ],
)
def test_create_bad_input_shape(input_shape, match):
    with pytest.raises(ValueError, match=match):
        models.create("lenet5", input_shape, 10)


def test_register_rejects_clashes_and_bad_ranks(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    with pytest.raises(ValueError, match=r"name 'mlp' is already used by biocnn\.models\.mlp\.mlp"):
        models.register("mlp")(lambda input_shape, num_classes: None)
    with pytest.raises(ValueError, match=r"non-empty subset of \(1, 2, 3\), got \(4,\)"):
        models.register("x", ranks=(4,))
    with pytest.raises(TypeError, match=r"must take \(input_shape, num_classes, \.\.\.\) first"):
        models.register("y")(lambda shape, classes: None)


def test_create_bad_num_classes():
    with pytest.raises(ValueError, match=r"lenet5: num_classes must be a positive int, got 0"):
        models.create("lenet5", (28, 28, 1), 0)


# ---------------------------------------------------------------- blocks


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_block_helpers_look_layers_up_by_rank(rank):
    x = keras.ops.zeros((1,) + (8,) * rank + (2,))
    assert isinstance(blocks.conv(rank, 4, 3), blocks.CONV[rank])
    assert blocks.conv(rank, 4, 3, padding="same")(x).shape == (1,) + (8,) * rank + (4,)
    assert blocks.pool(rank, "max")(x).shape == (1,) + (4,) * rank + (2,)
    assert isinstance(blocks.pool(rank, "avg"), blocks.AVG_POOL[rank])
    assert isinstance(blocks.global_pool(rank, "max"), blocks.GLOBAL_MAX_POOL[rank])
    assert blocks.global_pool(rank)(x).shape == (1, 2)


def test_block_helpers_errors():
    with pytest.raises(ValueError, match=r"conv: rank must be one of \(1, 2, 3\).*got 4"):
        blocks.conv(4, 8, 3)
    with pytest.raises(ValueError, match=r"unknown pooling 'mean'.*Valid options: 'avg', 'max'"):
        blocks.pool(2, "mean")
