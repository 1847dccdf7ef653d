"""MixUp: the convex combination with the drawn lambda and partner, labels that sum to 1."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from biocnn import augment

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("shape", [(16, 20, 4), (16, 6, 6, 1), (16, 3, 4, 5, 2)])
def test_mixup_is_the_convex_combination_with_the_drawn_lambda(shape):
    x = RNG.random(shape).astype("float32")
    y = RNG.integers(0, 3, size=16)
    mixup = augment.MixUp(alpha=0.4, num_classes=3, seed=0)
    t = mixup.get_random_transformation((x, y))
    lam, partner = np.asarray(t["lam"]), np.asarray(t["partner"])
    assert np.all((lam >= 0) & (lam <= 1)) and np.unique(lam).size == 16  # one lambda per sample
    assert sorted(partner.tolist()) == list(range(16))  # a permutation of the batch
    x_mix, y_mix = mixup.transform(x, t), mixup.transform_labels(y, t)
    view = (-1,) + (1,) * (len(shape) - 1)
    np.testing.assert_allclose(x_mix, lam.reshape(view) * x + (1 - lam.reshape(view)) * x[partner], atol=1e-6)
    one_hot = np.eye(3)[y]
    np.testing.assert_allclose(y_mix, lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[partner], atol=1e-6)
    np.testing.assert_allclose(np.asarray(y_mix).sum(axis=-1), 1.0, atol=1e-6)


def test_lambda_follows_beta_alpha_alpha():
    mixup = augment.MixUp(alpha=0.2, seed=1)
    lam = np.asarray(mixup.get_random_transformation(np.zeros((4000, 1)))["lam"])
    # Beta(0.2, 0.2): mean 1/2, variance 1 / (4 (2 alpha + 1)) = 0.1786, mostly near 0 or 1.
    assert abs(lam.mean() - 0.5) < 0.02 and abs(lam.var() - 0.1786) < 0.01
    assert np.mean((lam < 0.1) | (lam > 0.9)) > 0.6


def test_labels_one_hot_soft_trailing_one_and_segmentation_masks_all_sum_to_one():
    mixup = augment.MixUp(alpha=1.0, num_classes=4, seed=2)
    x = RNG.random((8, 5, 5, 1)).astype("float32")
    for y in (RNG.integers(0, 4, size=(8, 1)), np.eye(4, dtype="float32")[RNG.integers(0, 4, 8)],
              RNG.integers(0, 4, size=(8, 5, 5))):
        _, y_mix = mixup((x, y), training=True)
        assert y_mix.shape[-1] == 4 and y_mix.shape[0] == 8
        np.testing.assert_allclose(np.asarray(y_mix).sum(axis=-1), 1.0, atol=1e-6)


def test_identity_outside_training_and_for_alpha_zero_same_seed_same_draw():
    x, y = RNG.random((6, 10, 4)).astype("float32"), RNG.integers(0, 2, size=6)
    mixup = augment.MixUp(alpha=0.3, num_classes=2, seed=5)
    x_out, y_out = mixup((x, y))
    np.testing.assert_array_equal(x_out, x)
    np.testing.assert_array_equal(y_out, y)
    x_out, y_out = augment.MixUp(alpha=0.0, num_classes=2, seed=5)((x, y), training=True)
    np.testing.assert_array_equal(x_out, x)
    np.testing.assert_array_equal(y_out, np.eye(2)[y])
    a = augment.MixUp(alpha=0.3, num_classes=2, seed=5)({"image": x, "label": y}, training=True)
    b = augment.MixUp(alpha=0.3, num_classes=2, seed=5)({"image": x, "label": y}, training=True)
    np.testing.assert_array_equal(a["image"], b["image"])
    assert not np.array_equal(a["image"], x)


def test_batch_transform_in_tf_data_and_config_round_trips():
    x, y = RNG.random((12, 6, 6, 1)).astype("float32"), RNG.integers(0, 3, size=12)
    mixup = augment.MixUp(alpha=0.4, num_classes=3, seed=0, name="mix")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4).map(mixup.batch_transform)
    batches = list(ds.as_numpy_iterator())
    assert [b[1].shape for b in batches] == [(4, 3)] * 3
    assert not np.array_equal(np.concatenate([b[0] for b in batches]), x)
    config = mixup.get_config()
    assert augment.MixUp.from_config(config).get_config() == config


def test_keras_file_round_trip(tmp_path):
    x_in, y_in = keras.Input((6, 6, 1)), keras.Input((3,))
    mixup = augment.MixUp(alpha=0.4, seed=3)
    model = keras.Model([x_in, y_in], list(mixup((x_in, y_in))))
    model.save(tmp_path / "mixup.keras")
    loaded = keras.models.load_model(tmp_path / "mixup.keras")
    restored = [layer for layer in loaded.layers if isinstance(layer, augment.MixUp)][0]
    assert restored.get_config() == mixup.get_config()
    x, y = RNG.random((4, 6, 6, 1)).astype("float32"), np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    np.testing.assert_array_equal(loaded.predict([x, y], verbose=0)[0], x)


def test_mixup_errors_say_what_to_do():
    with pytest.raises(ValueError, match="integer labels need num_classes"):
        augment.MixUp()((np.zeros((2, 3), "float32"), np.array([0, 1])), training=True)
    with pytest.raises(ValueError, match="takes a pair \\(x, y\\)"):
        augment.MixUp()(np.zeros((2, 3), "float32"), training=True)
    with pytest.raises(ValueError, match="alpha must be a non-negative number"):
        augment.MixUp(alpha=-1)
    with pytest.raises(ValueError, match="different batch sizes, 2 and 3"):
        augment.MixUp(num_classes=2)((np.zeros((2, 3), "float32"), np.array([0, 1, 1])), training=True)
