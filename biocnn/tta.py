"""Test-time augmentation by flips: average a classifier's probabilities over mirrored inputs.

For microscopy and volumes, whose classes do not depend on orientation, predicting on every
combination of flips of the spatial axes (4 views in 2D, 8 in 3D) and averaging is a cheap,
common gain (it is what MedMNIST-style and Kaggle pipelines call TTA). Sequences use their own
test-time augmentation, the reverse complement (``--rc-average``), not flips.
"""

import itertools

import numpy as np

__all__ = ["flip_views", "predict_flips"]


def flip_views(rank):
    """Every subset of the ``rank`` spatial axes (1-based, after the batch axis).

    Example:
        >>> flip_views(2)
        [(), (1,), (2,), (1, 2)]
    """
    axes = range(1, rank + 1)
    return [combo for r in range(rank + 1) for combo in itertools.combinations(axes, r)]


def predict_flips(model, x, *, batch_size=256):
    """Mean of ``model``'s outputs over every flip combination of the spatial axes of ``x``.

    Args:
        model: a Keras classifier taking ``(N, *spatial, C)`` (2D or 3D).
        x: the inputs, channels last.
        batch_size: prediction batch size.

    Returns:
        ``(N, K)`` float array: the mean of the model's outputs over the views.

    Raises:
        ValueError: for inputs without at least two spatial axes (use reverse-complement
            averaging for sequences).

    Example:
        >>> import keras, numpy as np
        >>> net = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.GlobalAveragePooling2D(),
        ...                         keras.layers.Dense(2, activation="softmax")])
        >>> predict_flips(net, np.ones((3, 4, 4, 1), "float32")).shape
        (3, 2)
    """
    x = np.asarray(x)
    rank = x.ndim - 2
    if rank < 2:
        raise ValueError(f"predict_flips: inputs of shape {x.shape} have {rank} spatial axis; flips are for "
                         f"images and volumes (N, *spatial, C). For sequences use reverse-complement averaging.")
    views = flip_views(rank)
    total = None
    for axes in views:
        view = np.flip(x, axis=axes) if axes else x
        out = np.asarray(model.predict(np.ascontiguousarray(view), batch_size=batch_size, verbose=0), dtype="float64")
        total = out if total is None else total + out
    return total / len(views)
