"""Rank-generic preprocessing against independent references: tf.image.resize, np.percentile,
NumPy statistics of the training split, and .keras round trips."""

import doctest

import keras
import numpy as np
import pytest
import tensorflow as tf

from biocnn.data import preprocess
from biocnn.data.preprocess import (
    PercentileClip,
    fit_preprocessing,
    percentile_clip,
    resize,
    select_channels,
    with_preprocessing,
)

RNG = np.random.default_rng(0)


def test_docstring_examples_run():
    assert doctest.testmod(preprocess, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("size_in,size_out", [((28, 28), (64, 64)), ((64, 48), (28, 20)), ((7, 9), (7, 13))])
def test_resize_2d_matches_tf_image_resize(size_in, size_out):
    image = RNG.random((*size_in, 3)).astype(np.float32)
    for method, tf_method in (("linear", "bilinear"), ("nearest", "nearest")):
        expected = tf.image.resize(image, size_out, method=tf_method, antialias=False).numpy()
        np.testing.assert_allclose(resize(image, size_out, method), expected, atol=1e-5, err_msg=method)


def test_resize_3d_is_the_2d_resize_applied_along_depth_too():
    volume = RNG.random((6, 10, 12, 2)).astype(np.float32)
    out_shape = (9, 5, 16)
    # Reference: tf.image.resize on the (H, W) planes, then on the (D, W) planes.
    planes = tf.image.resize(volume, out_shape[1:], method="bilinear").numpy()  # (6, 5, 16, 2)
    depth = tf.image.resize(np.transpose(planes, (1, 0, 2, 3)), out_shape[:1] + out_shape[2:]).numpy()
    expected = np.transpose(depth, (1, 0, 2, 3))
    np.testing.assert_allclose(resize(volume, out_shape), expected, atol=1e-5)


def test_resize_keeps_values_by_hand_and_nearest_keeps_dtype():
    line = np.array([[0.0], [10.0]], dtype=np.float32)  # a 1D "image" of 2 samples
    # half-pixel centres: outputs at 0.25, 0.75, ... of the input -> clamp, 2.5, 7.5, clamp
    np.testing.assert_allclose(resize(line, (4,))[:, 0], [0.0, 2.5, 7.5, 10.0])
    mask = np.array([[[1], [2]], [[3], [4]]], dtype=np.uint8)
    up = resize(mask, (4, 4), method="nearest")
    assert up.dtype == np.uint8 and np.array_equal(np.unique(up), [1, 2, 3, 4])
    assert resize(mask, (2, 2), "nearest") is not None


def test_resize_errors_are_actionable():
    with pytest.raises(ValueError, match=r"shape \(64,\) has 1 spatial size\(s\), but the image of shape \(8, 8, 1\) has 2"):
        resize(np.zeros((8, 8, 1)), (64,))
    with pytest.raises(ValueError, match=r"method must be one of \('linear', 'nearest'\), got 'cubic'"):
        resize(np.zeros((8, 8, 1)), (4, 4), "cubic")
    with pytest.raises(ValueError, match="sizes must be positive"):
        resize(np.zeros((8, 8, 1)), (0, 4))


def test_one_resize_for_readers_graphs_backbones_and_maps(tmp_path):
    """The NumPy reader, the graph layer (any rank, unknown sizes, .keras round trip) and the attribution
    maps run one op: equal to each other and to hand-worked values in 1D and 3D."""
    from biocnn.data.preprocess import SpatialResize, resize_axes
    from biocnn.interpret import resize_linear

    # 1D by hand: 3 samples -> 2 read the input at (0.5 * 1.5 - 0.5, 1.5 * 1.5 - 0.5) = (0.25, 1.75); 2 -> 4.
    np.testing.assert_allclose(resize(np.array([[0.0], [4.0], [8.0]]), (2,))[:, 0], [1.0, 7.0])
    np.testing.assert_allclose(resize_linear(np.array([0.0, 10.0]), (4,)), [0.0, 2.5, 7.5, 10.0])
    # 3D by hand: a 2x2x2 volume whose value is 4d + 2h + w is linear, so inside the clamped border
    # trilinear resampling to 4x4x4 returns the function at the half-pixel positions (-0.25, 0.25, 0.75, 1.25).
    d, h, w = np.meshgrid(*[np.arange(2.0)] * 3, indexing="ij")
    volume = (4 * d + 2 * h + w)[..., None].astype(np.float32)
    at = np.clip(np.array([-0.25, 0.25, 0.75, 1.25]), 0, 1)
    expected = 4 * at[:, None, None] + 2 * at[None, :, None] + at[None, None, :]
    np.testing.assert_allclose(resize(volume, (4, 4, 4))[..., 0], expected, atol=1e-6)
    assert type(resize(volume, (4, 4, 4))) is np.ndarray  # NumPy alone: readers run inside tf.data's Python calls
    # The layer on a batch equals the NumPy function per sample, also with sizes unknown until it runs.
    batch = RNG.random((2, 5, 7, 9, 2)).astype(np.float32)
    layer = SpatialResize((3, 8, 4))
    graph = tf.function(layer.call, input_signature=[tf.TensorSpec((None, None, None, None, 2), tf.float32)])
    reference = np.stack([resize(v, (3, 8, 4)) for v in batch])
    np.testing.assert_allclose(layer(batch), reference, atol=1e-6)
    np.testing.assert_allclose(graph(batch), reference, atol=1e-6)
    # A 2D shape on volumes resizes every depth slice: tf.image.resize per slice.
    slices = tf.image.resize(batch.reshape(10, 7, 9, 2), (8, 4), method="bilinear").numpy().reshape(2, 5, 8, 4, 2)
    np.testing.assert_allclose(SpatialResize((8, 4))(batch), slices, atol=1e-5)
    assert SpatialResize((8, None)).compute_output_shape((None, 7, 9, 2)) == (None, 8, 9, 2)
    np.testing.assert_allclose(resize_axes(batch, (None, 8, 4), first_axis=1), slices, atol=1e-5)
    # .keras round trip, and the transfer backbones' former Resize layer loads as this one.
    inputs = keras.Input((7, 9, 2))
    model = keras.Model(inputs, SpatialResize((8, 4), method="nearest")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded(batch[:, 0]), model(batch[:, 0]))
    old = {"module": None, "class_name": "Resize", "registered_name": "biocnn>Resize",
           "config": {"name": "mobilenetv2_resize", "trainable": True, "dtype": "float32", "height": 8, "width": 4,
                      "interpolation": "bilinear"}}
    legacy = keras.saving.deserialize_keras_object(old)
    assert type(legacy) is SpatialResize and legacy.shape == (8, 4) and legacy.name == "mobilenetv2_resize"
    np.testing.assert_allclose(legacy(batch[:, 0]), tf.image.resize(batch[:, 0], (8, 4)).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match=r"SpatialResize\(3, 8, 4\): expected inputs \(N, 3 or more spatial axes, C\)"):
        layer(batch[:, 0])


def test_select_channels():
    image = np.arange(2 * 2 * 4).reshape(2, 2, 4)
    np.testing.assert_array_equal(select_channels(image, [3, 1]), image[..., [3, 1]])
    volume = np.zeros((2, 3, 3, 5))
    assert select_channels(volume, [4]).shape == (2, 3, 3, 1)
    with pytest.raises(ValueError, match=r"cell\.tif has 4 channel\(s\) \(indices 0\.\.3\), but channels \[4\]"):
        select_channels(image, [4], where="cell.tif")
    with pytest.raises(ValueError, match="distinct non-negative"):
        select_channels(image, [1, 1])
    with pytest.raises(ValueError, match="non-empty list"):
        select_channels(image, [])


def _clip_reference(image, low, high):
    out = np.empty(image.shape, dtype=np.float64)
    for c in range(image.shape[-1]):
        channel = image[..., c].astype(np.float64)
        lo, hi = np.percentile(channel, low), np.percentile(channel, high)
        out[..., c] = np.clip((channel - lo) / (hi - lo), 0, 1) if hi > lo else 0.0
    return out


@pytest.mark.parametrize("shape", [(16, 20, 2), (5, 8, 9, 3)])
def test_percentile_clip_numpy_and_layer_match_a_per_channel_reference(shape):
    image = RNG.integers(100, 4000, size=shape).astype(np.uint16)
    image[(0,) * (len(shape) - 1)] = 65535  # a hot pixel must not set the scale
    expected = _clip_reference(image, 1.0, 99.8)
    np.testing.assert_allclose(percentile_clip(image, 1.0, 99.8), expected, atol=1e-5)
    batch = np.stack([image, image[::-1].copy()]).astype(np.float32)
    layer_out = np.asarray(PercentileClip(1.0, 99.8)(batch))
    np.testing.assert_allclose(layer_out[0], expected, atol=1e-5)
    np.testing.assert_allclose(layer_out[1], _clip_reference(image[::-1], 1.0, 99.8), atol=1e-5)


def test_percentile_clip_constant_channel_is_zero_and_bad_percentiles_fail():
    image = np.full((4, 4, 1), 7.0)
    assert np.all(percentile_clip(image) == 0)
    assert np.all(np.asarray(PercentileClip()(image[None].astype("float32"))) == 0)
    with pytest.raises(ValueError, match=r"0 <= low < high <= 100, got low=99, high=1"):
        percentile_clip(image, 99, 1)
    with pytest.raises(ValueError, match="low < high"):
        PercentileClip(5, 120)


def test_normalisation_statistics_come_from_the_training_inputs_only():
    train = RNG.normal([10.0, -3.0], [2.0, 0.5], size=(40, 6, 6, 2)).astype(np.float32)
    test = RNG.normal(100.0, 9.0, size=(10, 6, 6, 2)).astype(np.float32)
    pre = fit_preprocessing(train)
    mean, std = train.mean(axis=(0, 1, 2)), train.std(axis=(0, 1, 2))
    np.testing.assert_allclose(np.asarray(pre(test)), (test - mean) / std, rtol=1e-4, atol=1e-4)


def test_clip_then_normalise_and_streamed_fitting_agree_with_arrays():
    train = RNG.integers(0, 4096, size=(24, 8, 8, 1)).astype(np.float32)
    from_array = fit_preprocessing(train, percentiles=(2.0, 98.0))
    clipped = np.stack([_clip_reference(x, 2.0, 98.0) for x in train])
    expected = (clipped - clipped.mean()) / clipped.std()
    np.testing.assert_allclose(np.asarray(from_array(train)), expected, atol=1e-4)
    stream = tf.data.Dataset.from_tensor_slices((train, np.zeros(24))).batch(5)
    from_stream = fit_preprocessing(stream, percentiles=(2.0, 98.0))
    np.testing.assert_allclose(np.asarray(from_stream(train)), expected, atol=1e-4)
    with pytest.raises(ValueError, match="percentile clipping, normalisation, or both"):
        fit_preprocessing(train, percentiles=None, normalize=False)


def test_model_with_preprocessing_round_trips_through_keras_file(tmp_path):
    train = RNG.integers(0, 65535, size=(16, 12, 12, 2)).astype(np.float32)
    pre = fit_preprocessing(train, percentiles=(1.0, 99.0))
    net = keras.Sequential([keras.Input((12, 12, 2)), keras.layers.Flatten(), keras.layers.Dense(3)], name="net")
    model = with_preprocessing(pre, net)
    assert model.input_shape == (None, 12, 12, 2) and model.output_shape == (None, 3)
    assert model.name == "net" and len(model.trainable_weights) == len(net.trainable_weights)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(train, verbose=0), model.predict(train, verbose=0), atol=1e-5)
    layer = PercentileClip(2.0, 97.0, name="clip")
    assert PercentileClip.from_config(layer.get_config()).get_config() == layer.get_config()
