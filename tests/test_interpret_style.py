"""Gram matrices and style/content losses against NumPy; style transfer and Deep Dream steps."""

import keras
import numpy as np
import pytest

from biocnn.interpret import (
    content_loss, deep_dream, dream_step, gram_matrix, layer_objective, style_loss, style_transfer,
)


@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 4, 6, 3), (1, 3, 4, 2, 5)])
def test_gram_matrix_and_style_loss_match_numpy(shape):
    rng = np.random.default_rng(0)
    f, a = rng.normal(size=shape).astype("float32"), rng.normal(size=(1,) + shape[1:]).astype("float32")
    n, c = shape[0], shape[-1]
    m = int(np.prod(shape[1:-1]))
    gram = np.stack([fi.reshape(m, c).T @ fi.reshape(m, c) for fi in f])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gram_matrix(f)), gram, rtol=1e-4, atol=1e-4)
    target = a.reshape(m, c).T @ a.reshape(m, c)
    expected = ((gram - target) ** 2).sum(axis=(1, 2)) / (4 * c ** 2 * m ** 2)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(style_loss(f, a)), expected, rtol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(content_loss(f, a)),
                               0.5 * ((f - a) ** 2).reshape(n, -1).sum(axis=1), rtol=1e-5)


def test_style_loss_names_mismatched_channels():
    with pytest.raises(ValueError, match="3 channels, style features 4"):
        style_loss(np.zeros((1, 2, 2, 3), "float32"), np.zeros((1, 2, 2, 4), "float32"))


def test_style_transfer_lowers_its_loss_with_a_random_vgg():
    # Random weights: this exercises the optimisation only, not a real stylisation.
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    losses = []
    out = style_transfer(rng.uniform(size=(32, 32, 1)), rng.uniform(size=(40, 40, 3)), steps=4,
                         learning_rate=0.01, history=losses, style_layers=("block1_conv1", "block2_conv1"))
    assert out.shape == (32, 32, 3) and 0 <= out.min() and out.max() <= 1
    assert losses[-1][0] < losses[0][0]
    with pytest.raises(ValueError, match="at least 32"):
        style_transfer(np.zeros((28, 28, 1)), np.zeros((28, 28, 1)))


@pytest.mark.parametrize("rank", [1, 2])
def test_a_dream_step_raises_the_target_activation(rank):
    keras.utils.set_random_seed(1)
    conv = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D}[rank]
    model = keras.Sequential([keras.Input((12,) * rank + (1,)), conv(4, 3, activation="relu", name="c"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    x = np.random.default_rng(1).uniform(size=(2,) + (12,) * rank + (1,)).astype("float32")
    before = layer_objective(model, x, "c", 2)
    stepped, reported = dream_step(model, x, "c", channel=2, step_size=0.01)
    np.testing.assert_allclose(reported, before, rtol=1e-6)
    assert np.all(layer_objective(model, stepped, "c", 2) > before)
    jittered, _ = dream_step(model, x, "c", channel=2, step_size=0.01, jitter=1, octave_shape=(6,) * rank,
                             rng=np.random.default_rng(0))
    assert np.all(layer_objective(model, jittered, "c", 2) > before)
    dreamed = deep_dream(model, x[0], layer="c", steps=3, octaves=2, step_size=0.01)
    assert layer_objective(model, dreamed[None], "c")[0] > layer_objective(model, x[:1], "c")[0]
    with pytest.raises(ValueError, match="out of range"):
        dream_step(model, x, "c", channel=4)
