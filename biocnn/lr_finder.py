"""The learning-rate range test (Smith 2017): ``--lr auto``.

Train from the model's current weights for a few hundred steps while the learning rate grows
exponentially from ``min_lr`` to ``max_lr``, record the (smoothed) training loss at each step,
stop once the loss explodes, put the weights back, and suggest a rate: one tenth of the rate at
the lowest smoothed loss (Smith's and fastai's rule of thumb: the minimum is already at the edge
of divergence). The optimizer is :class:`biocnn.optimizers.MomentumSGD`, as in training.
"""

import dataclasses

import numpy as np

from biocnn import losses as losses_module
from biocnn.optimizers import MomentumSGD

__all__ = ["LRRangeResult", "lr_range_test", "suggest_learning_rate"]


@dataclasses.dataclass
class LRRangeResult:
    """What :func:`lr_range_test` returns.

    Attributes:
        learning_rates: the rate of each step taken.
        losses: the training loss of each step (raw).
        smoothed: the exponentially smoothed, bias-corrected loss.
        suggestion: the suggested learning rate.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float


def _smooth(losses, beta):
    average, out = 0.0, []
    for i, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta**i))
    return np.asarray(out)


def suggest_learning_rate(learning_rates, smoothed, *, factor=0.1):
    """One ``factor`` of the rate where the smoothed loss is lowest.

    Args:
        learning_rates: increasing rates, one per step.
        smoothed: the smoothed loss at each rate (NaN/inf ignored).
        factor: fraction of the best rate to suggest (0.1 by default).

    Returns:
        float.

    Raises:
        ValueError: if no finite loss was recorded.

    Example:
        >>> suggest_learning_rate([0.001, 0.01, 0.1, 1.0], [1.0, 0.6, 0.3, 5.0])
        0.010000000000000002
    """
    smoothed = np.asarray(smoothed, dtype="float64")
    finite = np.isfinite(smoothed)
    if not finite.any():
        raise ValueError("The learning-rate range test recorded no finite loss: the inputs or labels may hold "
                         "NaN, or min_lr is already too large.")
    best = int(np.argmin(np.where(finite, smoothed, np.inf)))
    return float(np.asarray(learning_rates)[best] * factor)


def lr_range_test(model, x, y, *, loss="cross_entropy", min_lr=1e-5, max_lr=1.0, steps=100, batch_size=64,
                  momentum=0.9, weight_decay=5e-4, beta=0.9, divergence=4.0, seed=0):
    """Run the range test on ``model`` and suggest a learning rate; the weights are restored.

    Args:
        model: a Keras model (compiled or not; it is recompiled for the test and the caller's
            optimizer state is not used).
        x, y: training arrays (integer labels for cross-entropy).
        loss: a loss name from ``biocnn.losses``.
        min_lr, max_lr: the range, swept exponentially over ``steps`` steps.
        steps: the most steps; batches are drawn by a seeded permutation, cycling the data.
        batch_size: the mini-batch size training will use (the best rate depends on it).
        momentum, weight_decay: MomentumSGD's settings, as in training.
        beta: smoothing of the recorded loss.
        divergence: stop when the smoothed loss exceeds this times its minimum.
        seed: the batch order.

    Returns:
        An :class:`LRRangeResult`.

    Raises:
        ValueError: for an empty range or too few steps.

    Example:
        >>> import keras, numpy as np
        >>> x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32"); y = (x[:, 0] > 0).astype(int)
        >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        >>> result = lr_range_test(net, x, y, steps=40, batch_size=32)
        >>> 1e-5 < result.suggestion < 1.0
        True
    """
    if not 0 < min_lr < max_lr:
        raise ValueError(f"lr_range_test: need 0 < min_lr < max_lr, got min_lr={min_lr}, max_lr={max_lr}.")
    if steps < 5:
        raise ValueError(f"lr_range_test: steps must be at least 5, got {steps}.")
    x, y = np.asarray(x), np.asarray(y)
    saved = [w.copy() for w in model.get_weights()]
    optimizer = MomentumSGD(learning_rate=min_lr, momentum=momentum, weight_decay=weight_decay)
    model.compile(optimizer=optimizer, loss=losses_module.get(loss))
    rates = min_lr * (max_lr / min_lr) ** (np.arange(steps) / (steps - 1))
    order = np.random.default_rng(seed).permutation(len(x))
    losses, taken = [], []
    try:
        for step, rate in enumerate(rates):
            optimizer.learning_rate.assign(rate)
            start = (step * batch_size) % len(x)
            index = order[np.arange(start, start + batch_size) % len(x)]
            value = float(np.asarray(model.train_on_batch(x[index], y[index])))
            losses.append(value)
            taken.append(rate)
            smoothed = _smooth(losses, beta)
            if not np.isfinite(value) or smoothed[-1] > divergence * np.nanmin(smoothed):
                break
    finally:
        model.set_weights(saved)
    smoothed = _smooth(losses, beta)
    return LRRangeResult(np.asarray(taken), np.asarray(losses), smoothed,
                         suggest_learning_rate(taken, smoothed))
