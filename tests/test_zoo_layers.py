"""The zoo's own layers against independent references: TensorFlow's LRN, NumPy, Maxout."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from biocnn.layers import Maxout
from biocnn.models.zoo_layers import ChannelMaxout, LocalResponseNormalization


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _lrn_numpy(a, size=5, k=2.0, alpha=1e-4, beta=0.75):
    # The paper's sum, written as a loop over channels, clipped at the edges.
    out = np.empty_like(a)
    channels, half = a.shape[-1], size // 2
    for i in range(channels):
        lo, hi = max(0, i - half), min(channels - 1, i + half)
        out[..., i] = a[..., i] / (k + alpha * np.sum(a[..., lo : hi + 1] ** 2, axis=-1)) ** beta
    return out


def test_lrn_matches_tensorflow_with_the_papers_constants():
    x = np.random.default_rng(0).normal(scale=30.0, size=(2, 5, 6, 11)).astype("float32")
    expected = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    np.testing.assert_allclose(_numpy(LocalResponseNormalization()(x)), expected.numpy(), rtol=1e-5)


@pytest.mark.parametrize("shape", [(3, 7, 4), (2, 3, 4, 5, 9)])
def test_lrn_matches_numpy_in_1d_and_3d(shape):
    x = np.random.default_rng(1).normal(scale=20.0, size=shape).astype("float32")
    layer = LocalResponseNormalization(size=3, k=1.0, alpha=1e-3, beta=0.5)
    np.testing.assert_allclose(_numpy(layer(x)), _lrn_numpy(x, 3, 1.0, 1e-3, 0.5), rtol=1e-5)


def test_lrn_config_round_trip_and_errors():
    layer = LocalResponseNormalization(size=7, k=1.5, alpha=2e-4, beta=0.5, name="lrn")
    config = layer.get_config()
    assert {k: config[k] for k in ("size", "k", "alpha", "beta")} == {"size": 7, "k": 1.5, "alpha": 2e-4, "beta": 0.5}
    assert LocalResponseNormalization.from_config(config).get_config() == config
    with pytest.raises(ValueError, match=r"size must be odd.*got 4; use 3 or 5"):
        LocalResponseNormalization(size=4)
    with pytest.raises(ValueError, match=r"alpha must be a non-negative number, got -1"):
        LocalResponseNormalization(alpha=-1)


def test_channel_maxout_after_dense_equals_maxout():
    x = np.random.default_rng(2).normal(size=(4, 6)).astype("float32")
    maxout = Maxout(5, pieces=3)
    expected = _numpy(maxout(x))
    dense = keras.layers.Dense(15)
    dense.build((None, 6))
    dense.set_weights(maxout.get_weights())
    np.testing.assert_allclose(_numpy(ChannelMaxout(3)(dense(x))), expected, rtol=1e-6)


@pytest.mark.parametrize("shape", [(2, 6), (2, 5, 6), (2, 3, 4, 6), (1, 2, 3, 4, 6)])
def test_channel_maxout_matches_numpy_in_every_rank(shape):
    x = np.random.default_rng(3).normal(size=shape).astype("float32")
    expected = x.reshape(shape[:-1] + (3, 2)).max(axis=-1)
    np.testing.assert_array_equal(_numpy(ChannelMaxout(2)(x)), expected)


def test_channel_maxout_errors_and_config():
    with pytest.raises(ValueError, match=r"last axis must be a known multiple of pieces=2.*\(None, 5\).*units \* 2"):
        ChannelMaxout(2)(keras.Input((5,)))
    with pytest.raises(ValueError, match=r"pieces must be a positive integer, got 0"):
        ChannelMaxout(0)
    assert ChannelMaxout(4, name="m").get_config()["pieces"] == 4
