"""Tests for biocnn.utils: convolution arithmetic and the per-layer accounting table."""

import math

import keras
import numpy as np
import pytest

from biocnn.utils import conv_output_size, layer_table


# ---------------------------------------------------------------- conv_output_size


@pytest.mark.parametrize(
    "W, F, S, P, expected",
    [
        (227, 11, 4, 0, 55),  # AlexNet conv1: (227 - 11) / 4 + 1
        (32, 5, 1, 2, 32),  # 'same' 5x5: (32 - 5 + 4) / 1 + 1
        (7, 3, 2, 0, 3),  # CS231n 7x7 input, 3x3 filter, stride 2: 4 / 2 + 1
        (7, 3, 1, 0, 5),  # stride 1: 4 / 1 + 1
        (7, 3, 3, 1, 3),  # padding 1 makes stride 3 tile: (7 - 3 + 2) / 3 + 1
        (224, 2, 2, 0, 112),  # VGG max pooling
        (5, 5, 1, 0, 1),  # filter as large as the input
        (1, 3, 1, 1, 1),  # padding makes room: (1 - 3 + 2) / 1 + 1
    ],
)
def test_conv_output_size_golden_values(W, F, S, P, expected):
    assert conv_output_size(W, F, S, P) == expected
    assert type(conv_output_size(W, F, S, P)) is int


def test_conv_output_size_defaults_and_numpy_ints():
    assert conv_output_size(28, 5) == 24  # S=1, P=0
    assert conv_output_size(np.int64(227), np.int32(11), np.int64(4)) == 55


@pytest.mark.parametrize(
    "args, match",
    [
        ((7.0, 3), r"W \(input size\) must be an integer, got 7\.0 \(float\)"),
        ((7, "3"), r"F \(filter size\) must be an integer, got '3' \(str\)"),
        ((7, 3, 1.5), r"S \(stride\) must be an integer"),
        ((7, 3, 1, None), r"P \(padding\) must be an integer, got None"),
        ((7, 3, True), r"S \(stride\) must be an integer, got True \(bool\)"),
        (((7, 7), 3), r"Per-axis tuples are not accepted"),
        ((0, 3), r"W \(input size\) must be >= 1, got 0"),
        ((7, 0), r"F \(filter size\) must be >= 1, got 0"),
        ((7, 3, 0), r"S \(stride\) must be >= 1, got 0"),
        ((7, 3, 1, -1), r"P \(padding\) must be >= 0, got -1"),
        ((5, 9), r"filter larger than the padded input: F = 9 > W \+ 2P = 5 \+ 0 = 5.*P >= 2"),
        ((5, 9, 1, 1), r"F = 9 > W \+ 2P = 5 \+ 2 = 7"),
    ],
)
def test_conv_output_size_errors(args, match):
    with pytest.raises(ValueError, match=match):
        conv_output_size(*args)


def test_conv_output_size_not_tiling_shows_arithmetic_and_fix():
    # (7 - 3 + 0) / 3 = 4/3; P = 1 gives (7 - 3 + 2) / 3 = 2 (output 3); S = 2 or 4 divide 4,
    # and 2 is nearer to 3 than 4 on a tie of distance 1, being the smaller.
    with pytest.raises(
        ValueError,
        match=r"do not tile the input: \(W - F \+ 2P\) / S = \(7 - 3 \+ 0\) / 3 = 4/3 is not "
        r"an integer; use padding P = 1 \(output 3\) or stride S = 2 \(output 3\)",
    ):
        conv_output_size(7, 3, 3)


def test_conv_output_size_not_tiling_without_a_padding_fix():
    # W - F = 5 is odd and 2P is even, so no padding tiles stride 2; only the stride can change.
    with pytest.raises(ValueError, match=r"= 5/2 is not an integer; use stride S = 1 \(output 6\)"):
        conv_output_size(8, 3, 2)


# ---------------------------------------------------------------- layer_table


def test_layer_table_columns_and_hand_counted_rows():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3), name="image"),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(5, name="dense"),
        ]
    )
    table = layer_table(model)
    assert list(table.columns) == [
        "layer", "type", "output_shape", "activations", "activation_bytes", "params",
        "trainable_params",
    ]
    expected = [
        # name, type, shape, activations, params, trainable
        ("image", "InputLayer", (8, 8, 3), 192, 0, 0),  # 8*8*3
        ("conv", "Conv2D", (6, 6, 4), 144, 112, 112),  # 6*6*4; 3*3*3*4 weights + 4 biases
        ("bn", "BatchNormalization", (6, 6, 4), 144, 16, 8),  # gamma, beta, mean, var x 4
        ("pool", "MaxPooling2D", (3, 3, 4), 36, 0, 0),
        ("flat", "Flatten", (36,), 36, 0, 0),
        ("dense", "Dense", (5,), 5, 185, 185),  # 36*5 + 5
    ]
    for row, (name, type_name, shape, acts, params, trainable) in zip(
        table.itertuples(index=False), expected
    ):
        assert (row.layer, row.type, row.output_shape) == (name, type_name, shape)
        assert (row.activations, row.params, row.trainable_params) == (acts, params, trainable)
        assert row.activation_bytes == 4 * acts  # float32
    total = table.iloc[-1]
    assert len(table) == len(expected) + 1
    assert total["layer"] == "total"
    assert total["activations"] == 192 + 144 + 144 + 36 + 36 + 5 == 557
    assert total["activation_bytes"] == 557 * 4
    assert total["params"] == 112 + 16 + 185 == 313 == model.count_params()
    assert total["trainable_params"] == 305


def test_layer_table_bytes_from_dtype_or_override():
    inputs = keras.Input((10,), name="x")
    half = keras.layers.Dense(3, dtype="float16", name="half")(inputs)
    model = keras.Model(inputs, half)
    table = layer_table(model).set_index("layer")
    assert table.loc["x", "activation_bytes"] == 40  # 10 float32 values
    assert table.loc["half", "activation_bytes"] == 6  # 3 float16 values
    assert layer_table(model, bytes_per_value=1).loc[2, "activation_bytes"] == 13
    with pytest.raises(ValueError, match=r"bytes_per_value must be a positive number.*got 0"):
        layer_table(model, bytes_per_value=0)


def test_layer_table_nested_model_and_multiple_outputs():
    class Split(keras.layers.Layer):  # one layer, two outputs of 2 and 4 values
        def call(self, x):
            return [x[:, :2], x[:, 2:]]

        def compute_output_spec(self, x):
            return [
                keras.KerasTensor((x.shape[0], 2), x.dtype),
                keras.KerasTensor((x.shape[0], 4), x.dtype),
            ]

    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, name="d1"), keras.layers.Dense(2, name="d2")],
        name="inner",
    )
    inputs = keras.Input((6,), name="x")
    first, second = Split(name="split")(inputs)
    model = keras.Model(inputs, [first, inner(second)])

    table = layer_table(model).set_index("layer")
    assert table.loc["split", "output_shape"] == ((2,), (4,))
    assert table.loc["split", "activations"] == 6
    # Collapsed, the nested model is one row: its output (2 values), all its parameters.
    assert table.loc["inner", "activations"] == 2
    assert table.loc["inner", "params"] == (4 * 3 + 3) + (3 * 2 + 2) == 23
    assert table.loc["total", "activations"] == 6 + 6 + 2

    expanded = layer_table(model, expand_nested=True)
    assert list(expanded["layer"]) == ["x", "split", "inner/d1", "inner/d2", "total"]
    assert list(expanded["params"]) == [0, 0, 15, 8, 23]
    assert expanded["activations"].iloc[-1] == 6 + 6 + 3 + 2


def test_layer_table_errors_say_how_to_fix():
    unbuilt = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"has no defined inputs.*keras\.Input\(shape=\.\.\.\)"):
        layer_table(unbuilt)
    inputs = keras.Input((None, 4))
    variable = keras.Model(inputs, keras.layers.Conv1D(2, 3)(inputs))
    with pytest.raises(ValueError, match=r"unknown size \(None\).*fixed input shape"):
        layer_table(variable)
    with pytest.raises(ValueError, match=r"expected a keras\.Model, got Dense"):
        layer_table(keras.layers.Dense(3))


def test_layer_table_vgg16_matches_lecture_and_hand_counts():
    model = keras.applications.VGG16(weights=None)
    table = layer_table(model)

    # Output shapes of VGG-16 (CS231n lecture 9), written out by hand, in layer order.
    shapes = (
        [(224, 224, 3)]
        + [(224, 224, 64)] * 2 + [(112, 112, 64)]
        + [(112, 112, 128)] * 2 + [(56, 56, 128)]
        + [(56, 56, 256)] * 3 + [(28, 28, 256)]
        + [(28, 28, 512)] * 3 + [(14, 14, 512)]
        + [(14, 14, 512)] * 3 + [(7, 7, 512)]
        + [(25088,), (4096,), (4096,), (1000,)]  # flatten, fc1, fc2, predictions
    )
    assert list(table["output_shape"].iloc[:-1]) == shapes
    activations = sum(math.prod(s) for s in shapes)
    # 150,528 input + 15,077,888 conv/pool + 9,192 dense = 15,237,608, the lecture's layers;
    # Keras adds a Flatten layer (25,088 values) the lecture's table does not list.
    assert activations == 15_237_608 + 25_088
    # The convolutions hold 3x3xC_in weights and one bias per output channel.
    channels = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    conv_params = sum((3 * 3 * c_in + 1) * c_out for c_in, c_out in zip(channels, channels[1:]))
    dense_params = (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)

    total = table.iloc[-1]
    assert total["params"] == conv_params + dense_params == 138_357_544
    assert total["trainable_params"] == 138_357_544
    assert total["activations"] == activations
    assert total["activation_bytes"] == 4 * activations  # about 61 MB per image, forward only


def test_did_you_mean_hint():
    from biocnn.utils import did_you_mean

    assert did_you_mean("rleu", ["relu", "tanh"]) == " Did you mean 'relu'?"
    assert did_you_mean("zzz", ["relu", "tanh"]) == ""
