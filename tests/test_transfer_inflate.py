"""biocnn.transfer.inflate: I3D inflation keeps the 2D network's answers on depth-constant volumes."""

import warnings

import keras
import numpy as np
import pytest

from biocnn import transfer


def constant_depth(images, depth):
    return np.repeat(images[:, None], depth, axis=1)


@pytest.mark.parametrize("make", [
    lambda: keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"),
    lambda: transfer.backbone("VGG16", weights=None, input_shape=(28, 28, 1)),  # resize + adapted channels too
    lambda: transfer.backbone("MobileNetV2", weights=None, input_shape=(28, 28, 1), alpha=0.35),  # depthwise
], ids=["resnet50", "vgg16_backbone", "mobilenetv2_backbone"])
def test_centre_inflation_of_constant_volume_equals_2d(make):
    model = make()
    inflated = transfer.inflate(model, depth=3, mode="centre")
    x = np.random.default_rng(0).uniform(0, 255, (2, *model.input_shape[1:])).astype("float32")
    expected = np.asarray(model(x))
    np.testing.assert_allclose(inflated(constant_depth(x, 5)), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_repeat_inflation_first_conv_matches_at_interior_depths():
    inputs = keras.Input((10, 10, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(name="p1")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="valid", name="c2")(x))
    inflated = transfer.inflate(model, depth=3, mode="repeat", input_depth=6)
    x = np.random.default_rng(1).normal(size=(2, 10, 10, 2)).astype("float32")
    conv2d = np.asarray(keras.Model(model.input, model.get_layer("c1").output)(x))
    conv3d = np.asarray(keras.Model(inflated.input, inflated.get_layer("c1").output)(constant_depth(x, 6)))
    for d in range(1, 5):  # interior: every tap sees the same slice
        np.testing.assert_allclose(conv3d[:, d], conv2d, rtol=1e-5, atol=1e-5)
    # at the border one of the three taps sees zero padding: 2/3 of the kernel (bias excluded)
    bias = model.get_layer("c1").bias.numpy()
    np.testing.assert_allclose(conv3d[:, 0] - bias, (conv2d - bias) * 2 / 3, rtol=1e-4, atol=1e-5)
    kernel = inflated.get_layer("c1").kernel.numpy()
    assert kernel.shape == (3, 3, 3, 2, 3)
    np.testing.assert_allclose(kernel.sum(axis=0), model.get_layer("c1").kernel.numpy(), rtol=1e-6)
    assert inflated.output_shape == (None, 6, 3, 3, 2)  # the 'valid' conv got depth padding, depth kept


def test_depth_stride_and_round_trip(tmp_path):
    model = transfer.classifier(transfer.backbone("VGG16", weights=None, input_shape=(32, 32, 1)), 2)
    with pytest.warns(UserWarning, match="32 slices shrink to 1 by layer 'block5_pool'"):
        inflated = transfer.inflate(model, depth=3, mode="repeat", depth_stride=True, input_depth=32)
    assert inflated.get_layer("block1_pool").output.shape[1:4] == (16, 16, 16)
    path = tmp_path / "i3d.keras"
    inflated.save(path)
    v = np.random.default_rng(2).uniform(0, 255, (1, 32, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(keras.models.load_model(path)(v), inflated(v), rtol=1e-6)


def test_depthwise_becomes_a_depthwise_conv3d_and_a_dilated_one_a_grouped_conv3d(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(inputs)
    model = keras.Model(inputs, keras.layers.DepthwiseConv2D(3, dilation_rate=2, padding="same", name="dilated")(x))
    inflated = transfer.inflate(model, depth=3, mode="centre")
    layer = inflated.get_layer("dw")
    assert isinstance(layer, transfer.DepthwiseConv3D) and layer.kernel.shape == (3, 3, 3, 3, 2)
    dilated = inflated.get_layer("dilated")
    assert isinstance(dilated, keras.layers.Conv3D) and dilated.groups == 6 and dilated.kernel.shape == (3, 3, 3, 1, 6)
    x = np.random.default_rng(3).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(inflated(constant_depth(x, 3)))[:, 1], model(x), rtol=1e-5, atol=1e-5)
    path = tmp_path / "grouped.keras"  # models saved with grouped Conv3Ds keep loading
    inflated.save(path)
    np.testing.assert_allclose(keras.models.load_model(path)(constant_depth(x, 3)), inflated(constant_depth(x, 3)),
                               rtol=1e-6)


def test_unsupported_layers_and_options_are_named():
    flat = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c"), keras.layers.Flatten(name="f"),
                             keras.layers.Dense(2)])
    with pytest.raises(NotImplementedError, match="'f' \\(Flatten\\) has no 3D counterpart"):
        transfer.inflate(flat)
    net = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="depth must be an odd positive int"):
        transfer.inflate(net, depth=2)
    with pytest.raises(ValueError, match="unknown mode 'center'.*Did you mean 'centre'"):
        transfer.inflate(net, mode="center")


def test_pointwise_depth_keeps_1x1_convolutions_1x1x1():
    model = transfer.backbone("MobileNetV2", weights=None, input_shape=(28, 28, 1), alpha=0.35)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unstrided depth never collapses
        full, i3d = transfer.inflate(model, depth=3, input_depth=5), transfer.inflate(model, depth=3, pointwise_depth=1)
    depths = {layer.name: layer.kernel_size[0] for layer in i3d.layers if hasattr(layer, "kernel_size")}
    pointwise = {layer.name for layer in model.layers
                 if type(layer) is keras.layers.Conv2D and tuple(layer.kernel_size) == (1, 1)}
    assert pointwise and all(depths[name] == 1 for name in pointwise)
    assert all(depth == 3 for name, depth in depths.items() if name not in pointwise)  # k x k convolutions
    kernels = sum(model.get_layer(name).kernel.numpy().size for name in pointwise)
    assert full.count_params() - i3d.count_params() == 2 * kernels  # t = 3 -> 1 for every 1 x 1 kernel
    np.testing.assert_array_equal(i3d.get_layer(next(iter(pointwise))).kernel.numpy()[0],
                                  model.get_layer(next(iter(pointwise))).kernel.numpy())
    # the I3D property holds as for a full inflation: a depth-constant volume gives the 2D answer
    centre = transfer.inflate(model, depth=3, mode="centre", pointwise_depth=1)
    x = np.random.default_rng(3).uniform(0, 255, (2, 28, 28, 1)).astype("float32")
    expected = np.asarray(model(x))
    np.testing.assert_allclose(centre(constant_depth(x, 5)), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    with pytest.raises(ValueError, match="pointwise_depth must be an odd positive int.*got 2"):
        transfer.inflate(model, depth=3, pointwise_depth=2)
