"""The training recipes beside the schedules: range test, flip TTA, class weights."""

import keras
import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from biocnn import class_balance, lr_finder, tta


def test_class_weights_equal_sklearn_balanced():
    y = np.array([0] * 7 + [1] * 2 + [2] * 11)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    assert class_balance.class_weights(y, 3) == pytest.approx(dict(enumerate(expected)))


def test_class_weights_refuse_a_missing_class():
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have no training sample.*\[2, 0, 1\]"):
        class_balance.class_weights([0, 0, 2], 3)


def test_flip_tta_is_the_mean_over_numpy_flips():
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((5, 6, 2)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    x = np.random.default_rng(1).normal(size=(4, 5, 6, 2)).astype("float32")
    views = [x, x[:, ::-1], x[:, :, ::-1], x[:, ::-1, ::-1]]
    expected = np.mean([net.predict(np.ascontiguousarray(v), verbose=0) for v in views], axis=0)
    np.testing.assert_allclose(tta.predict_flips(net, x), expected, rtol=1e-6)
    assert len(tta.flip_views(3)) == 8


def test_flip_tta_refuses_sequences():
    net = keras.Sequential([keras.Input((8, 4)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="reverse-complement"):
        tta.predict_flips(net, np.zeros((1, 8, 4)))


def test_suggestion_is_a_tenth_of_the_rate_at_the_lowest_loss():
    assert lr_finder.suggest_learning_rate([1e-3, 1e-2, 1e-1, 1.0], [2.0, 1.0, np.nan, 0.5]) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no finite loss"):
        lr_finder.suggest_learning_rate([1e-3], [np.inf])


def test_range_test_restores_weights_and_stops_when_the_loss_explodes():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")
    net = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                            keras.layers.Dense(2, activation="softmax")])
    before = [w.copy() for w in net.get_weights()]
    result = lr_finder.lr_range_test(net, x, y, min_lr=1e-4, max_lr=1e3, steps=120, batch_size=32)
    for a, b in zip(before, net.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(result.learning_rates) < 120  # a rate of 1e3 diverges before the end
    ratios = result.learning_rates[1:] / result.learning_rates[:-1]
    np.testing.assert_allclose(ratios, (1e3 / 1e-4) ** (1 / 119), rtol=1e-9)
    assert 1e-4 < result.suggestion < 10
    assert result.smoothed.min() < result.losses[0]  # the loss fell somewhere in the sweep
