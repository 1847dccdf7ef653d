"""Tests for biocnn.losses: golden values, NumPy references, gradients, round trips, `get`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from biocnn import losses
from biocnn.losses import CrossEntropy, MulticlassHinge

# CS231n multi-class SVM example, margin 1, worked by hand:
#   scores [3.2, 5.1, -1.7], y=0: max(0, 5.1-3.2+1)=2.9, max(0, -1.7-3.2+1)=max(0,-3.9)=0 -> 2.9
#   scores [1.3, 4.9, 2.0], y=1: max(0, 1.3-4.9+1)=0,   max(0, 2.0-4.9+1)=0              -> 0.0
#   scores [2.2, 2.5, -3.1], y=2: max(0, 2.2+3.1+1)=6.3, max(0, 2.5+3.1+1)=6.6           -> 12.9
#   mean = (2.9 + 0 + 12.9) / 3 = 15.8 / 3 = 5.2666...
SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]], dtype="float32")
LABELS = np.array([0, 1, 2])
PER_SAMPLE = np.array([2.9, 0.0, 12.9])
ONE_HOT = np.eye(3, dtype="float32")[LABELS]


def numpy_hinge(scores, labels, margin):
    out = np.zeros(len(scores))
    for i, (s, y) in enumerate(zip(scores.astype("float64"), labels)):
        for j in range(len(s)):
            if j != y:
                out[i] += max(0.0, s[j] - s[y] + margin)
    return out


# ------------------------------------------------------------------ MulticlassHinge


def test_hinge_golden_values():
    per_sample = MulticlassHinge(reduction="none")(LABELS, SCORES)
    np.testing.assert_allclose(np.asarray(per_sample), PER_SAMPLE, atol=1e-5)
    assert float(MulticlassHinge()(LABELS, SCORES)) == pytest.approx(15.8 / 3, abs=1e-5)


@pytest.mark.parametrize(
    "labels", [LABELS, LABELS[:, None], ONE_HOT], ids=["int", "int_col", "onehot"]
)
def test_hinge_label_formats_agree(labels):
    assert float(MulticlassHinge()(labels, SCORES)) == pytest.approx(15.8 / 3, abs=1e-5)


def test_hinge_matches_numpy_loop_with_margin():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(16, 5)).astype("float32")
    labels = rng.integers(0, 5, size=16)
    reference = numpy_hinge(scores, labels, margin=0.7)
    assert reference.min() >= 0 and (reference > 0).sum() > 4  # the example exercises the hinge
    got = MulticlassHinge(margin=0.7, reduction="none")(labels, scores)
    np.testing.assert_allclose(np.asarray(got), reference, rtol=1e-5, atol=1e-5)
    mean = float(MulticlassHinge(margin=0.7)(labels, scores))
    assert mean == pytest.approx(reference.mean(), rel=1e-5)
    assert float(MulticlassHinge(margin=0.7, reduction="sum")(labels, scores)) == pytest.approx(
        reference.sum(), rel=1e-5
    )


def test_hinge_per_pixel_scores():
    # A (2, 3, 4) batch of score vectors with per-position labels behaves like 6 samples.
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(2, 3, 4)).astype("float32")
    labels = rng.integers(0, 4, size=(2, 3))
    reference = numpy_hinge(scores.reshape(6, 4), labels.reshape(6), 1.0).reshape(2, 3)
    got = MulticlassHinge(reduction="none")(labels, scores)
    np.testing.assert_allclose(np.asarray(got), reference, rtol=1e-5, atol=1e-5)


def test_hinge_differs_from_keras_categorical_hinge():
    # Third sample: both wrong classes violate the margin (6.3 and 6.6). Weston-Watkins sums them
    # (12.9); CategoricalHinge keeps only the largest wrong score: max(0, 2.5 - (-3.1) + 1) = 6.6.
    ours = float(MulticlassHinge()(ONE_HOT[2:], SCORES[2:]))
    keras_value = float(keras.losses.CategoricalHinge()(ONE_HOT[2:], SCORES[2:]))
    assert ours == pytest.approx(12.9, abs=1e-5)
    assert keras_value == pytest.approx(6.6, abs=1e-5)


def test_hinge_gradient_hand_derived_and_finite_differences():
    # dL_i/ds_j = 1[s_j - s_y + 1 > 0] for j != y; dL_i/ds_y = -(number of violators); / N.
    expected = np.array([[-1, 1, 0], [0, 0, 0], [1, 1, -2]], dtype="float64") / 3
    s = tf.constant(SCORES)
    with tf.GradientTape() as tape:
        tape.watch(s)
        loss = MulticlassHinge()(LABELS, s)
    grad = tape.gradient(loss, s).numpy()
    np.testing.assert_allclose(grad, expected, atol=1e-6)

    rng = np.random.default_rng(2)
    scores = rng.normal(size=(4, 3))
    labels = rng.integers(0, 3, size=4)
    eps = 1e-4
    numeric = np.zeros_like(scores)
    for idx in np.ndindex(scores.shape):
        plus, minus = scores.copy(), scores.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric[idx] = (
            numpy_hinge(plus, labels, 0.5).mean() - numpy_hinge(minus, labels, 0.5).mean()
        ) / (2 * eps)
    s = tf.constant(scores, dtype="float32")
    with tf.GradientTape() as tape:
        tape.watch(s)
        loss = MulticlassHinge(margin=0.5)(labels, s)
    np.testing.assert_allclose(tape.gradient(loss, s).numpy(), numeric, atol=1e-3)


def test_hinge_config_and_serialize_round_trip():
    loss = MulticlassHinge(margin=2.5, reduction="sum", name="svm")
    config = loss.get_config()
    assert config == {"name": "svm", "reduction": "sum", "margin": 2.5}
    clone = MulticlassHinge.from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(loss)
    assert serialized["registered_name"] == "biocnn>MulticlassHinge"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(restored, MulticlassHinge) and restored.get_config() == config
    assert float(restored(LABELS, SCORES)) == pytest.approx(float(loss(LABELS, SCORES)))


def test_hinge_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"margin must be a positive number, got -1"):
        MulticlassHinge(margin=-1)
    with pytest.raises(ValueError, match=r"at least 2 classes"):
        MulticlassHinge()(np.array([0, 1]), np.zeros((2, 1), "float32"))
    with pytest.raises(ValueError, match=r"cannot match labels of shape \(2, 4\)"):
        MulticlassHinge()(np.zeros((2, 4)), np.zeros((2, 3), "float32"))


def _separable_data(n=48, classes=3, features=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    centres = 3.0 * rng.normal(size=(classes, features))
    x = (centres[labels] + rng.normal(size=(n, features))).astype("float32")
    return x, labels


def test_hinge_trains_and_survives_keras_save(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = _separable_data()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.05),
                  loss=losses.get("multiclass_hinge", margin=1.5))
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]

    path = tmp_path / "hinge.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.loss, MulticlassHinge) and loaded.loss.margin == 1.5
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    expected = model.evaluate(x, y, verbose=0)
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-6)


def test_compile_with_plain_string_does_not_resolve_custom_loss():
    # Documented finding (module docstring): Keras 3 resolves compile(loss="...") only among
    # its built-in losses. If this test starts failing, Keras changed and the docs need updating.
    x, y = _separable_data(n=8)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="biocnn>MulticlassHinge")
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        model.fit(x, y, epochs=1, verbose=0)


# ------------------------------------------------------------------ CrossEntropy


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_cross_entropy_binary_probabilities_and_logits():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(10, 1)).astype("float32")
    probs = _sigmoid(logits.astype("float64"))
    labels = rng.integers(0, 2, size=10).astype("float64")
    reference = -np.mean(labels * np.log(probs[:, 0]) + (1 - labels) * np.log(1 - probs[:, 0]))
    for y in (labels, labels[:, None]):
        expected = pytest.approx(reference, rel=1e-4)
        assert float(CrossEntropy()(y, probs.astype("float32"))) == expected
        assert float(CrossEntropy(from_logits=True)(y, logits)) == expected
    # Rank-1 predictions are one probability per sample.
    rank1 = float(CrossEntropy()(labels, probs[:, 0].astype("float32")))
    assert rank1 == pytest.approx(reference, rel=1e-4)


def test_cross_entropy_categorical_and_sparse_agree_with_numpy():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(12, 4)).astype("float32")
    probs = _softmax(logits.astype("float64"))
    labels = rng.integers(0, 4, size=12)
    one_hot = np.eye(4)[labels]
    reference = -np.mean(np.log(probs[np.arange(12), labels]))
    values = {
        "onehot_probs": CrossEntropy()(one_hot, probs.astype("float32")),
        "onehot_logits": CrossEntropy(from_logits=True)(one_hot, logits),
        "sparse_probs": CrossEntropy()(labels, probs.astype("float32")),
        "sparse_col_logits": CrossEntropy(from_logits=True)(labels[:, None], logits),
    }
    for name, value in values.items():
        assert float(value) == pytest.approx(reference, rel=1e-4), name


def test_cross_entropy_label_smoothing_sparse_equals_one_hot():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(6, 3)).astype("float32")
    labels = rng.integers(0, 3, size=6)
    smoothed = np.eye(3)[labels] * 0.8 + 0.2 / 3
    reference = -np.mean(np.sum(smoothed * np.log(_softmax(logits.astype("float64"))), axis=-1))
    loss = CrossEntropy(from_logits=True, label_smoothing=0.2)
    assert float(loss(labels, logits)) == pytest.approx(reference, rel=1e-4)
    assert float(loss(np.eye(3)[labels], logits)) == pytest.approx(reference, rel=1e-4)


def test_cross_entropy_per_pixel_sparse_labels():
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    labels = rng.integers(0, 4, size=(2, 3, 3))
    probs = _softmax(logits.astype("float64"))
    picked = np.take_along_axis(probs, labels[..., None], axis=-1)[..., 0]
    got = CrossEntropy(from_logits=True)(labels, logits)
    assert float(got) == pytest.approx(-np.mean(np.log(picked)), rel=1e-4)


def test_cross_entropy_config_round_trip_and_errors():
    loss = CrossEntropy(from_logits=True, label_smoothing=0.1, name="ce")
    config = loss.get_config()
    assert config == {"name": "ce", "reduction": "sum_over_batch_size", "from_logits": True,
                      "label_smoothing": 0.1}
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert isinstance(restored, CrossEntropy) and restored.get_config() == config
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\), got 1.5"):
        CrossEntropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"cannot match labels of shape \(4, 2\)"):
        CrossEntropy()(np.zeros((4, 2)), np.full((4, 3), 1 / 3, "float32"))


# ------------------------------------------------------------------ get


EXPECTED_TYPES = {
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
    "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
    "cross_entropy": CrossEntropy,
    "crossentropy": CrossEntropy,
    "hinge": MulticlassHinge,
    "mean_squared_error": keras.losses.MeanSquaredError,
    "mse": keras.losses.MeanSquaredError,
    "multiclass_hinge": MulticlassHinge,
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
}


def test_names_are_the_documented_set():
    assert set(losses.NAMES) == set(EXPECTED_TYPES)


@pytest.mark.parametrize("name", losses.NAMES)
def test_get_resolves_every_name(name):
    loss = losses.get(name)
    assert type(loss) is EXPECTED_TYPES[name]


def test_get_normalises_names_and_passes_kwargs():
    assert isinstance(losses.get("Cross-Entropy"), CrossEntropy)
    assert isinstance(losses.get("multiclass hinge"), MulticlassHinge)
    loss = losses.get("cross_entropy", from_logits=True)
    assert loss.from_logits is True
    uniform = float(loss(np.array([1]), np.zeros((1, 2), "float32")))
    assert uniform == pytest.approx(np.log(2), rel=1e-5)
    mse = float(losses.get("MSE")(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]])))
    assert mse == pytest.approx(5.0)  # (1 + 9) / 2


def test_get_passes_through_instances_callables_and_dicts():
    instance = MulticlassHinge(margin=3.0)
    assert losses.get(instance) is instance
    assert losses.get(keras.losses.mean_absolute_error) is keras.losses.mean_absolute_error
    restored = losses.get(keras.losses.serialize(instance))
    assert isinstance(restored, MulticlassHinge) and restored.margin == 3.0


def test_get_unknown_name_suggests_closest():
    message = (r"Unknown loss 'multiclas_hinge'\. Did you mean 'multiclass_hinge'\? "
               r"Valid names: binary_crossentropy, ")
    with pytest.raises(ValueError, match=message):
        losses.get("multiclas_hinge")
    with pytest.raises(ValueError, match=r"Unknown loss 'zzz'\. Valid names:"):
        losses.get("zzz")


def test_get_rejects_kwargs_without_name_and_bad_types():
    message = r"keyword arguments \['margin'\] can only be used with a loss name"
    with pytest.raises(ValueError, match=message):
        losses.get(MulticlassHinge(), margin=2.0)
    with pytest.raises(TypeError, match=r"expected a loss name .* got 3 of type int"):
        losses.get(3)
