"""Tests for biocnn.layers: Maxout against NumPy, the hand-written ReLU gradient, `activation`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from biocnn import layers
from biocnn.layers import CustomGradientReLU, Maxout


def numpy_maxout(x, kernel, bias, units, pieces):
    z = x.astype("float64") @ kernel.astype("float64") + bias.astype("float64")
    return z.reshape(x.shape[:-1] + (units, pieces)).max(axis=-1)


# ------------------------------------------------------------------ Maxout


@pytest.mark.parametrize(
    "shape",
    [(5, 6), (3, 7, 6), (2, 4, 5, 6), (2, 3, 3, 2, 6)],
    ids=["2d", "seq", "image", "volume"],
)
def test_maxout_matches_numpy_reference(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    layer = Maxout(4, pieces=3, bias_initializer=keras.initializers.RandomNormal(seed=1))
    y = np.asarray(layer(x))
    assert y.shape == shape[:-1] + (4,)
    kernel, bias = (np.asarray(w) for w in (layer.kernel, layer.bias))
    assert kernel.shape == (6, 12) and bias.shape == (12,) and np.abs(bias).max() > 0
    np.testing.assert_allclose(y, numpy_maxout(x, kernel, bias, 4, 3), rtol=1e-5, atol=1e-5)


def test_maxout_without_bias_and_output_shape():
    layer = Maxout(2, pieces=4, use_bias=False)
    x = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    y = np.asarray(layer(x))
    assert layer.bias is None and len(layer.weights) == 1
    reference = numpy_maxout(x, np.asarray(layer.kernel), np.zeros(8), 2, 4)
    np.testing.assert_allclose(y, reference, atol=1e-5)
    assert layer.compute_output_shape((None, 9, 5)) == (None, 9, 2)
    # Variable-length sequences: the length axis stays dynamic in a functional model.
    inputs = keras.Input((None, 5))
    assert Maxout(2)(inputs).shape == (None, None, 2)


def test_maxout_with_one_piece_is_dense():
    x = np.random.default_rng(2).normal(size=(4, 3, 5)).astype("float32")
    maxout = Maxout(6, pieces=1, bias_initializer="ones")
    y = np.asarray(maxout(x))
    dense = keras.layers.Dense(6)
    dense.build((None, 3, 5))
    dense.set_weights([np.asarray(maxout.kernel), np.asarray(maxout.bias)])
    np.testing.assert_allclose(y, np.asarray(dense(x)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, r"units must be a positive integer, got 0 \(int\)"),
        ({"units": 2.5}, r"units must be a positive integer, got 2.5 \(float\)"),
        ({"units": 3, "pieces": -1}, r"pieces must be a positive integer, got -1"),
        ({"units": 3, "pieces": True}, r"pieces must be a positive integer, got True \(bool\)"),
    ],
)
def test_maxout_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Maxout(**kwargs)


def test_maxout_rejects_unknown_feature_axis():
    with pytest.raises(ValueError, match=r"known last axis, got input shape \(None, None\)"):
        Maxout(2).build((None, None))


def test_maxout_config_round_trip():
    layer = Maxout(3, pieces=5, use_bias=False, kernel_regularizer=keras.regularizers.L2(0.01),
                   kernel_initializer="he_normal", name="mx")
    config = layer.get_config()
    assert (config["units"], config["pieces"], config["use_bias"]) == (3, 5, False)
    clone = Maxout.from_config(config)
    assert clone.get_config() == config
    assert isinstance(clone.kernel_regularizer, keras.regularizers.L2)
    assert clone.kernel_regularizer.l2 == pytest.approx(0.01)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, Maxout) and restored.get_config() == config


def test_maxout_keras_save_load(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 2)), Maxout(4, pieces=3),
                              keras.layers.GlobalAveragePooling2D(), Maxout(2)])
    x = np.random.default_rng(3).normal(size=(3, 6, 6, 2)).astype("float32")
    path = tmp_path / "maxout.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.layers[0], Maxout) and loaded.layers[0].pieces == 3
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# ------------------------------------------------------------------ CustomGradientReLU


def _random_away_from_zero(shape, seed):
    x = np.random.default_rng(seed).normal(size=shape)
    return (x + np.sign(x) * 0.05).astype("float32")  # no exact (or near) zeros


def test_custom_relu_forward():
    x = _random_away_from_zero((4, 5), 0)
    np.testing.assert_array_equal(np.asarray(CustomGradientReLU()(x)), np.maximum(x, 0))


def test_custom_relu_gradient_matches_autodiff_and_hand_formula():
    x = tf.constant(_random_away_from_zero((6, 7), 1))
    upstream = tf.constant(np.random.default_rng(2).normal(size=(6, 7)).astype("float32"))
    layer = CustomGradientReLU()
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(upstream * layer(x))
        autodiff = tf.reduce_sum(upstream * keras.ops.relu(x))
    grad = tape.gradient(ours, x).numpy()
    np.testing.assert_allclose(grad, tape.gradient(autodiff, x).numpy(), atol=1e-7)
    np.testing.assert_allclose(grad, upstream.numpy() * (x.numpy() > 0), atol=1e-7)
    assert (grad == 0).sum() > 5 and (grad != 0).sum() > 5  # both branches were exercised


def test_custom_relu_trains_in_a_model_and_saves(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (np.abs(x).sum(axis=1, keepdims=True)).astype("float32")  # needs the nonlinearity
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(16), CustomGradientReLU(),
                              keras.layers.Dense(1)])
    first_kernel = np.asarray(model.layers[0].kernel).copy()
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]
    # Gradients reached the layer below the custom ReLU.
    assert not np.allclose(np.asarray(model.layers[0].kernel), first_kernel)

    path = tmp_path / "relu.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.layers[1], CustomGradientReLU)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_custom_relu_config_round_trip():
    layer = CustomGradientReLU(name="hand_relu")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, CustomGradientReLU) and restored.name == "hand_relu"


# ------------------------------------------------------------------ activation

X = np.array([-2.0, -0.5, 0.5, 3.0], dtype="float32")
REFERENCES = {
    "relu": np.maximum(X, 0),
    "leaky_relu": np.where(X > 0, X, 0.1 * X),
    "sigmoid": 1 / (1 + np.exp(-X.astype("float64"))),
    "tanh": np.tanh(X.astype("float64")),
    "softmax": np.exp(X.astype("float64")) / np.exp(X.astype("float64")).sum(),
    "linear": X,
    "custom_relu": np.maximum(X, 0),
}


def test_activation_names_are_documented():
    assert set(layers.ACTIVATIONS) == set(REFERENCES)


@pytest.mark.parametrize("name", layers.ACTIVATIONS)
def test_every_activation_builds_and_computes(name):
    layer = layers.activation(name)
    assert isinstance(layer, keras.layers.Layer)
    got = np.asarray(layer(X[None]))[0]
    np.testing.assert_allclose(got, REFERENCES[name], rtol=1e-5, atol=1e-6)


def test_leaky_relu_default_slope_and_kwarg():
    leaky = layers.activation("leaky_relu")
    assert float(np.asarray(leaky(np.array([-2.0], "float32")))[0]) == pytest.approx(-0.2)
    steep = layers.activation("Leaky-ReLU", negative_slope=0.3, name="lrelu")
    assert steep.name == "lrelu"
    assert float(np.asarray(steep(np.array([-2.0], "float32")))[0]) == pytest.approx(-0.6)


def test_activation_passes_layers_and_none():
    existing = keras.layers.ReLU()
    assert layers.activation(existing) is existing
    identity = layers.activation(None)
    np.testing.assert_array_equal(np.asarray(identity(X)), X)
    with pytest.raises(ValueError, match=r"cannot be applied to an existing layer \(ReLU\)"):
        layers.activation(existing, negative_slope=0.2)
    with pytest.raises(TypeError, match=r"expected an activation name .* got 3 of type int"):
        layers.activation(3)


def test_activation_unknown_name_suggests_closest():
    message = (r"Unknown activation 'leaky_rlu'\. Did you mean 'leaky_relu'\? "
               r"Valid names: relu, leaky_relu, sigmoid")
    with pytest.raises(ValueError, match=message):
        layers.activation("leaky_rlu")


# ------------------------------------------------------------------ BatchNormalization


def _bn_step(layer, x):
    """Output, gradients of a fixed non-trivial loss (input, gamma, beta) and moving statistics."""
    weights = tf.cos(tf.reshape(tf.range(tf.size(x), dtype=tf.float32), x.shape))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * weights + 0.1 * y * y)
    grads = tape.gradient(loss, [x, *layer.trainable_variables])
    return y.numpy(), [g.numpy() for g in grads], [v.numpy() for v in layer.non_trainable_variables]


@pytest.mark.parametrize("shape", [(6, 3), (4, 7, 3), (2, 5, 6, 4), (2, 3, 4, 5, 6)],
                         ids=["dense", "sequence", "image", "volume"])
@pytest.mark.parametrize("affine", [True, False])
def test_fused_batch_norm_trains_like_the_keras_layer(shape, affine):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, shape).astype("float32"))
    options = dict(epsilon=1e-5, momentum=0.9, scale=affine, center=affine)
    reference, fused = keras.layers.BatchNormalization(**options), layers.BatchNormalization(**options)
    reference.build(shape)
    fused.build(shape)
    weights = [rng.normal(size=v.shape).astype("float32") for v in reference.weights]
    reference.set_weights(weights)
    fused.set_weights(weights)
    y_ref, g_ref, s_ref = _bn_step(reference, x)
    y, g, s = _bn_step(fused, x)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())
    for a, b in zip(s, s_ref):  # moving mean and the biased moving variance, as Keras
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # and by hand: the batch statistics per channel over every other axis (NumPy, float64)
    data = x.numpy().reshape(-1, shape[-1]).astype("float64")
    np.testing.assert_allclose(s[0], 0.9 * weights[-2] + 0.1 * data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(s[1], 0.9 * weights[-1] + 0.1 * data.var(0), rtol=1e-5)
    inference = fused(x, training=False).numpy()
    np.testing.assert_allclose(inference, reference(x, training=False).numpy(), rtol=1e-5, atol=1e-5)


def test_fused_batch_norm_falls_back_where_the_kernel_does_not_apply():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4, 5)).astype("float32")
    for options in ({"axis": 1}, {"renorm": True}):
        reference, fused = keras.layers.BatchNormalization(**options), layers.BatchNormalization(**options)
        np.testing.assert_allclose(fused(x, training=True), reference(x, training=True), rtol=1e-5, atol=1e-6)
    fused = layers.BatchNormalization()
    frozen = fused(x, training=False)  # inference: the moving statistics (0, 1)
    np.testing.assert_allclose(frozen, x / np.sqrt(1 + fused.epsilon), rtol=1e-6)
    fused.trainable = False  # a frozen layer normalises with its moving statistics, as Keras's
    np.testing.assert_allclose(fused(x, training=True), frozen, rtol=1e-6)


def test_fused_batch_norm_round_trips(tmp_path):
    model = keras.Sequential([keras.Input((6, 2)), layers.BatchNormalization(momentum=0.8, epsilon=1e-3)])
    model.layers[0].set_weights([np.full(2, 2.0), np.full(2, 0.5), np.array([1.0, -1.0]), np.array([4.0, 9.0])])
    config = model.layers[0].get_config()
    assert layers.BatchNormalization.from_config(config).get_config() == config
    path = tmp_path / "bn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[0]) is layers.BatchNormalization
    x = np.random.default_rng(2).normal(size=(3, 6, 2)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_fused_batch_norm_weights_files_are_interchangeable_with_keras(tmp_path):
    def network(batch_norm):
        inputs = keras.Input((5, 3))
        return keras.Model(inputs, batch_norm(name="bn")(keras.layers.Conv1D(3, 1, name="conv")(inputs)))

    weights = [np.full(3, value, "float32") for value in (2.0, 3.0, 4.0, 5.0)]
    for saved, loaded in ((keras.layers.BatchNormalization, layers.BatchNormalization),
                          (layers.BatchNormalization, keras.layers.BatchNormalization)):
        source = network(saved)
        source.get_layer("bn").set_weights(weights)
        path = tmp_path / f"{saved.__module__}.weights.h5"
        source.save_weights(path)
        target = network(loaded)
        target.load_weights(path)
        for got, want in zip(target.get_layer("bn").get_weights(), weights):
            np.testing.assert_array_equal(got, want)


def test_fused_batch_norm_raises_a_tiny_epsilon_to_cudnns_minimum():
    x = np.random.default_rng(4).normal(0.0, 1e-3, size=(8, 3)).astype("float32")
    y = layers.BatchNormalization(epsilon=1e-8, center=False, scale=False)(x, training=True).numpy()
    data = x.astype("float64")
    expected = (data - data.mean(0)) / np.sqrt(data.var(0) + 1.001e-5)  # not 1e-8: the kernel's floor
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-6)
