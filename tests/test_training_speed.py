"""fit's several training steps per call into TensorFlow: same batches, same weights."""

import numpy as np
import pytest

import biocnn  # noqa: F401  (first: it sets TensorFlow's defaults)
import keras
import tensorflow as tf
from biocnn import training


@pytest.mark.parametrize("samples, batch, expected", [
    (100, 10, 10),   # 10 steps per epoch: all in one call
    (3178, 64, 50),  # 50 steps: all in one call
    (6400, 64, 50),  # 100 steps: the largest divisor up to 64
    (67, 1, 1),      # 67 steps, a prime above 64: one step per call
    (256, 16, 16),   # 16 steps
])
def test_steps_per_execution_of_arrays_divides_the_epoch(samples, batch, expected):
    assert training.steps_per_execution(np.zeros((samples, 2)), batch) == expected


def test_steps_per_execution_of_datasets():
    assert training.steps_per_execution(tf.data.Dataset.range(5).batch(2), 2) == 3
    assert training.steps_per_execution(tf.data.Dataset.range(40).batch(2), 2) == 20  # 20 batches: one call
    assert training.steps_per_execution(tf.data.Dataset.range(200).batch(2), 2) == 50  # 100: a divisor
    assert training.steps_per_execution(tf.data.Dataset.range(5).repeat(), 2) == 1  # infinite
    assert training.steps_per_execution(tf.data.Dataset.range(5).filter(lambda v: v > 1), 2) == 1  # unknown


def _train(x, y, monkeypatch, limit, dataset):
    monkeypatch.setattr(training, "MAX_STEPS_PER_EXECUTION", limit)
    training.set_seed(1)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dropout(0.3),
                              keras.layers.Dense(2, activation="softmax")])
    data = (tf.data.Dataset.from_tensor_slices((x, y)).batch(8), None) if dataset else (x, y)
    result = training.fit(model, *data, config=training.TrainingConfig(epochs=3, batch_size=8), verbose=0)
    return model, result


@pytest.mark.parametrize("dataset", [False, True])
def test_several_steps_per_call_train_exactly_as_one(monkeypatch, dataset):
    # 40 samples in batches of 8: 5 steps per epoch, all in one call; 37 samples as a dataset:
    # 5 batches a pass, repeated by fit and cut into epochs of 5 steps (one call each).
    n = 37 if dataset else 40
    x = np.random.default_rng(0).random((n, 6)).astype("float32")
    y = np.arange(n) % 2
    one, one_result = _train(x, y, monkeypatch, 1, dataset)
    many, many_result = _train(x, y, monkeypatch, 16, dataset)
    assert many.optimizer.iterations.numpy() == one.optimizer.iterations.numpy() == 15
    np.testing.assert_array_equal(many_result.history["loss"], one_result.history["loss"])
    for a, b in zip(one.get_weights(), many.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_callback_with_batch_hooks_sees_every_batch():
    class Count(keras.callbacks.Callback):
        batches = []

        def on_train_batch_end(self, batch, logs=None):
            Count.batches.append(batch)

    x = np.zeros((40, 6), "float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2, activation="softmax")])
    training.fit(model, x, np.arange(40) % 2, config=training.TrainingConfig(epochs=1, batch_size=8),
                 callbacks=[Count()], verbose=0)
    assert Count.batches == [0, 1, 2, 3, 4]


def test_a_dataset_of_known_length_is_one_stream_of_reshuffled_epochs():
    # fit repeats a finite dataset (one iterator for all epochs): every epoch is still one full,
    # freshly shuffled pass, as Keras's new iterator per epoch would give.
    ds = tf.data.Dataset.range(12).shuffle(12, seed=3, reshuffle_each_iteration=True).batch(4)
    train, steps = training._training_batches(ds, None, training.TrainingConfig(batch_size=4), 0, None)
    assert steps == 3
    batches = [b.numpy() for b in train.take(3 * steps)]
    epochs = [np.concatenate(batches[e * steps:(e + 1) * steps]) for e in range(3)]
    for epoch in epochs:
        assert sorted(epoch.tolist()) == list(range(12))
    assert len({tuple(e) for e in epochs}) == 3
