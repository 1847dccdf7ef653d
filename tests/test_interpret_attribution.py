"""Saliency, integrated gradients and Grad-CAM, checked against closed forms and a built-in answer."""

import keras
import numpy as np
import pytest

from biocnn.data.preprocess import with_preprocessing
from biocnn.interpret import grad_cam, integrated_gradients, resize_linear, saliency

CONV = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}
POOL = {1: keras.layers.GlobalAveragePooling1D, 2: keras.layers.GlobalAveragePooling2D,
        3: keras.layers.GlobalAveragePooling3D}


def _region_model(rank, size=8):
    """Conv -> keep only the first half of every spatial axis -> global mean -> 2 logits."""
    mask = np.zeros((size,) * rank + (1,), "float32")
    mask[(slice(0, size // 2),) * rank] = 1
    inputs = keras.Input((size,) * rank + (1,))
    h = CONV[rank](3, 3, padding="same", activation="relu", name="conv",
                   kernel_initializer=keras.initializers.RandomUniform(0.1, 1.0, seed=rank))(inputs)
    h = keras.layers.Lambda(lambda t: t * mask, name="region")(h)
    outputs = keras.layers.Dense(2, kernel_initializer="ones", name="logits")(POOL[rank]()(h))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_grad_cam_highlights_the_only_region_the_answer_depends_on(rank):
    model = _region_model(rank)
    x = np.random.default_rng(0).uniform(0, 1, (2,) + (8,) * rank + (1,)).astype("float32")
    cam = grad_cam(model, x, class_index=0)
    assert cam.shape == (2,) + (8,) * rank and cam.min() >= 0 and np.isclose(cam.max(), 1)
    inside = cam[(slice(None),) + (slice(0, 4),) * rank].sum()
    assert inside / cam.sum() > 0.9  # linear upsampling leaks a little over the border only


def test_grad_cam_finds_the_layer_inside_a_wrapped_model():
    inner = _region_model(2)
    wrapped = with_preprocessing(keras.layers.Rescaling(2.0), inner)
    x = np.random.default_rng(1).uniform(0, 1, (8, 8, 1)).astype("float32")
    np.testing.assert_allclose(grad_cam(wrapped, x, 1), grad_cam(inner, 2 * x, 1), atol=1e-6)
    with pytest.raises(ValueError, match="not in model"):
        grad_cam(wrapped, x, 1, layer="nope")


def test_saliency_of_a_linear_model_is_its_weights():
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    kernel = model.layers[-1].get_weights()[0]
    x = np.random.default_rng(2).normal(size=(3, 4, 3)).astype("float32")
    signed = saliency(model, x, class_index=[0, 1, 1], absolute=False)
    np.testing.assert_allclose(signed[0], kernel[:, 0].reshape(4, 3), rtol=1e-6)
    np.testing.assert_allclose(signed[2], kernel[:, 1].reshape(4, 3), rtol=1e-6)
    np.testing.assert_allclose(saliency(model, x[0], 0), np.abs(kernel[:, 0]).reshape(4, 3), rtol=1e-6)
    with pytest.raises(ValueError, match="out of range"):
        saliency(model, x, class_index=2)


@pytest.mark.parametrize("shape", [(6, 4), (5, 5, 2)])
def test_integrated_gradients_are_complete(shape):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input(shape), keras.layers.Flatten(),
                              keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)])
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2,) + shape).astype("float32")
    baseline = rng.normal(size=shape).astype("float32") * 0.1
    attributions = integrated_gradients(model, x, class_index=1, baseline=baseline, steps=128)
    delta = model.predict(x, verbose=0)[:, 1] - model.predict(baseline[None], verbose=0)[0, 1]
    totals = attributions.reshape(2, -1).sum(axis=1)
    np.testing.assert_allclose(totals, delta, rtol=1e-2, atol=1e-4)
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(model, x, 0, steps=0)


def test_resize_linear_matches_numpy_interp_and_keras_bilinear():
    line = np.array([0.0, 2.0, 1.0, 5.0])
    centres = (np.arange(10) + 0.5) * 4 / 10 - 0.5
    np.testing.assert_allclose(resize_linear(line, (10,)), np.interp(centres, np.arange(4), line))
    image = np.random.default_rng(4).normal(size=(5, 7, 2))
    expected = keras.ops.convert_to_numpy(keras.ops.image.resize(image[None], (11, 13), "bilinear", antialias=False))[0]
    np.testing.assert_allclose(resize_linear(image, (11, 13)), expected, atol=1e-5)
