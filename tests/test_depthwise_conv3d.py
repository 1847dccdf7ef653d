"""biocnn.transfer.DepthwiseConv3D: a grouped Conv3D's answers and gradients, Keras round trips, served exports.

The reference is ``keras.layers.Conv3D(filters=C * M, groups=C)`` with the same kernel reshaped to
``(t, kh, kw, 1, C * M)``: TensorFlow's own grouped 3D convolution, computed independently.
"""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from biocnn import export, transfer
from biocnn.transfer.layers import DepthwiseConv3D

RNG = np.random.default_rng(0)

# (input shape, kernel size, depth multiplier, bias): odd sizes, even sizes and an even depth kernel
SHAPES = [((2, 5, 7, 7, 3), (3, 3, 3), 1, True), ((1, 6, 8, 6, 2), (2, 3, 3), 2, False)]
CASES = [(*shape, strides, padding) for shape, strides, padding
         in itertools.product(SHAPES, [(1, 1, 1), (2, 2, 2), (1, 2, 2)], ["same", "valid"])]
IDS = ["{}-k{}-m{}-{}-s{}-{}".format("x".join(map(str, c[0][1:4])), "".join(map(str, c[1])), c[2],
                                     "bias" if c[3] else "nobias", "".join(map(str, c[4])), c[5]) for c in CASES]


def pair(input_shape, kernel_size, multiplier, bias, strides, padding):
    """The layer and its grouped-Conv3D reference, built with the same random weights."""
    channels = input_shape[-1]
    layer = DepthwiseConv3D(kernel_size, strides=strides, padding=padding, depth_multiplier=multiplier, use_bias=bias)
    reference = keras.layers.Conv3D(channels * multiplier, kernel_size, strides=strides, padding=padding,
                                    groups=channels, use_bias=bias)
    layer.build(input_shape)
    reference.build(input_shape)
    kernel = RNG.normal(size=(*kernel_size, channels, multiplier)).astype("float32")
    extra = [RNG.normal(size=channels * multiplier).astype("float32")] if bias else []
    layer.set_weights([kernel, *extra])
    reference.set_weights([kernel.reshape(*kernel_size, 1, channels * multiplier), *extra])
    return layer, reference


def values_and_gradients(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * tf.cos(y))  # a non-linear loss: the upstream gradient varies by position
    dx, dkernel = tape.gradient(loss, [x, layer.kernel])
    return y.numpy(), dx.numpy(), dkernel.numpy()


def close(actual, expected):
    """Within 1e-5 of the reference's scale (float32 sums of up to a few hundred terms)."""
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("input_shape, kernel_size, multiplier, bias, strides, padding", CASES, ids=IDS)
def test_outputs_and_gradients_equal_a_grouped_conv3d(input_shape, kernel_size, multiplier, bias, strides, padding):
    layer, reference = pair(input_shape, kernel_size, multiplier, bias, strides, padding)
    x = tf.constant(RNG.normal(size=input_shape).astype("float32"))
    y, dx, dkernel = values_and_gradients(layer, x)
    y_ref, dx_ref, dkernel_ref = values_and_gradients(reference, x)
    assert y.shape == y_ref.shape == layer.compute_output_shape(input_shape)
    close(y, y_ref)
    close(dx, dx_ref)
    close(dkernel, dkernel_ref.reshape(dkernel.shape))


def test_output_channel_order_is_depthwise_conv2ds():
    """A one-tap kernel on a one-slice volume is DepthwiseConv2D: channel c, multiplier m -> c * M + m."""
    layer = DepthwiseConv3D((1, 3, 3), padding="same", depth_multiplier=2, use_bias=False)
    flat = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=False)
    x = RNG.normal(size=(2, 1, 6, 6, 3)).astype("float32")
    layer.build(x.shape)
    flat.build(x[:, 0].shape)
    flat.set_weights([layer.get_weights()[0][0]])
    np.testing.assert_allclose(layer(x)[:, 0], flat(x[:, 0]), rtol=1e-6, atol=1e-6)


def test_unknown_depth_in_a_graph_pads_as_tensorflow_does():
    """With the depth unknown while tracing, 'same' depth padding is computed in the graph."""
    layer, reference = pair((None, None, 6, 6, 2), (3, 3, 3), 1, True, (2, 2, 2), "same")
    spec = [tf.TensorSpec((None, None, 6, 6, 2))]
    ours, theirs = tf.function(layer.__call__, input_signature=spec), tf.function(reference.__call__, input_signature=spec)
    for depth in (4, 5, 6, 7):  # total padding 2, 1, 2, 1: before = total // 2
        x = RNG.normal(size=(1, depth, 6, 6, 2)).astype("float32")
        close(ours(x).numpy(), theirs(x).numpy())


def test_config_and_keras_file_round_trip(tmp_path):
    layer = DepthwiseConv3D((3, 1, 3), strides=(2, 1, 1), padding="same", depth_multiplier=2, activation="relu",
                            depthwise_regularizer=keras.regularizers.L2(1e-3), depthwise_constraint="non_neg",
                            name="dw")
    config = layer.get_config()
    assert DepthwiseConv3D.from_config(config).get_config() == config
    assert config["kernel_size"] == (3, 1, 3) and config["strides"] == (2, 1, 1) and config["depth_multiplier"] == 2
    inputs = keras.Input((5, 6, 6, 2))
    model = keras.Model(inputs, layer(inputs))
    path = tmp_path / "dw.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("dw"), DepthwiseConv3D)
    x = RNG.normal(size=(2, 5, 6, 6, 2)).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"data_format": "channels_first"}, "channels-last volumes .* only, got data_format='channels_first'"),
    ({"dilation_rate": 2}, "only dilation_rate 1 is implemented, got 2"),
    ({"strides": (1, 2, 1)}, "height and width strides must be equal"),
    ({"padding": "causal"}, "padding must be 'valid' or 'same', got 'causal'"),
    ({"kernel_size": (3, 3)}, "kernel_size must be a positive int or 3 positive ints"),
    ({"depth_multiplier": 0}, "depth_multiplier must be a positive int, got 0"),
])
def test_unsupported_arguments_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DepthwiseConv3D(**{"kernel_size": 3, **kwargs})


def test_inflated_depthwise_network_is_served_by_its_savedmodel(tmp_path):
    """inflate -> DepthwiseConv3D ('same' stride 2, 'valid' with depth padding), exported and served."""
    inputs = keras.Input((10, 10, 2))
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, name="dw1")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="valid", name="dw2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="head")(x))
    volumes = transfer.inflate(model, depth=3, mode="repeat", depth_stride=True, input_depth=6)
    assert isinstance(volumes.get_layer("dw1"), DepthwiseConv3D) and isinstance(volumes.get_layer("dw2"), DepthwiseConv3D)
    assert volumes.get_layer("dw2").output.shape[1:] == (3, 3, 3, 4)  # depth padded for the 'valid' one
    v = RNG.normal(size=(3, 6, 10, 10, 2)).astype("float32")
    expected = np.asarray(volumes(v))
    export.save(volumes, tmp_path / "served", class_names=["a", "b"])
    served = tf.saved_model.load(str(tmp_path / "served")).signatures["serving_default"]
    close(served(volume=tf.constant(v))["probabilities"].numpy(), expected)
    close(export.load(tmp_path / "served")(v)["probabilities"], expected)  # its graph passes the allowlist
