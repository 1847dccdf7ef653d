"""MixUp (Zhang et al., ICLR 2018): train on convex combinations of pairs of examples.

``x = lam * x_i + (1 - lam) * x_j`` and ``y = lam * y_i + (1 - lam) * y_j`` with
``lam ~ Beta(alpha, alpha)``. It changes the labels, so unlike the other augmentations it is
not a step inside the model but a transform of ``(x, y)`` training batches: in ``tf.data``
(``ds.map(mixup.batch_transform)``) or as ``biocnn.training.fit(..., batch_transform=...)``.
"""

import numbers

import keras
from keras import ops

from biocnn.augment.base import is_integer_dtype, per_sample

__all__ = ["MixUp"]


@keras.saving.register_keras_serializable(package="biocnn")
class MixUp(keras.layers.Layer):
    """Mix every sample of a batch with a random partner from the same batch.

    Each sample ``i`` draws its own ``lam_i ~ Beta(alpha, alpha)``; the partners are a random
    permutation of the batch (``partner[i] = j``; a sample may draw itself, which leaves it
    unchanged). Inputs of any rank are mixed, so are labels of any shape: one-hot or soft
    labels ``(batch, classes)``, one-hot masks ``(batch, *spatial, classes)``. Integer labels
    are turned into one-hot with ``num_classes`` first (a trailing axis of size 1 is dropped),
    so mixed labels always sum to 1 over the class axis.

    Call it on ``(x, y)`` (or a dict ``{"image": x, "label": y}``) and get the same structure
    back. ``training=True`` mixes; otherwise, and with ``alpha=0``, ``x`` is returned
    unchanged (with ``alpha=0`` integer labels still become one-hot, so that the label format
    of the training batches does not depend on the strength).

    Args:
        alpha: the Beta distribution's parameter (default 0.2; Zhang et al. use 0.1 to 0.4);
            larger mixes more, 0 is the identity.
        num_classes: the number of classes; needed for integer labels.
        seed: int or None, seeds ``self.seed_generator``.
        **kwargs: base layer arguments such as ``name``.

    Returns:
        ``(x, y)`` (or the dict) with ``x`` in the compute dtype and ``y`` as float one-hot/soft
        labels.

    Raises:
        ValueError: a negative ``alpha``, integer labels without ``num_classes``, inputs that
            are not an ``(x, y)`` pair or a dict with "image" and "label", or ``x`` and ``y``
            with different batch sizes.

    Example:
        >>> import numpy as np
        >>> mixup = MixUp(alpha=0.4, num_classes=3, seed=1)
        >>> x, y = mixup((np.random.rand(8, 28, 28, 1), np.arange(8) % 3), training=True)
        >>> print(x.shape, y.shape)
        (8, 28, 28, 1) (8, 3)
    """

    def __init__(self, alpha=0.2, num_classes=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or alpha < 0:
            raise ValueError(f"MixUp: alpha must be a non-negative number (e.g. 0.2), got {alpha!r}.")
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2
        ):
            raise ValueError(f"MixUp: num_classes must be an integer >= 2 or None, got {num_classes!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"MixUp: seed must be an int or None, got {seed!r}.")
        self.alpha = float(alpha)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    # -- structure ---------------------------------------------------------------------------

    @staticmethod
    def _unpack(data):
        if isinstance(data, dict):
            if "image" not in data or "label" not in data:
                raise ValueError(
                    "MixUp: a dict input needs the keys 'image' and 'label', got keys "
                    f"{sorted(data)}."
                )
            return data["image"], data["label"]
        if isinstance(data, (tuple, list)) and len(data) == 2:
            return data
        raise ValueError(
            "MixUp changes labels, so it takes a pair (x, y) or a dict {'image': x, 'label': y}; "
            f"got {type(data).__name__}. In tf.data use ds.map(mixup.batch_transform)."
        )

    @staticmethod
    def _pack(data, x, y):
        if isinstance(data, dict):
            return dict(data, image=x, label=y)
        return (x, y)

    # -- draw, then apply --------------------------------------------------------------------

    def get_random_transformation(self, data, training=True):
        """Draw ``{"lam": (batch,), "partner": (batch,) int}`` for a batch.

        Args:
            data: ``x``, ``(x, y)`` or the dict; only the batch size of ``x`` is used.
            training: when False nothing is drawn.

        Returns:
            The dict, or None when not training.
        """
        if not training:
            return None
        x = self._unpack(data)[0] if isinstance(data, (dict, tuple, list)) else data
        batch = ops.shape(x)[0]
        if self.alpha == 0.0:
            lam = ops.ones((batch,), "float32")
        else:
            lam = keras.random.beta((batch,), self.alpha, self.alpha, seed=self.seed_generator)
        partner = keras.random.shuffle(ops.arange(batch, dtype="int32"), seed=self.seed_generator)
        return {"lam": lam, "partner": partner}

    def transform(self, x, transformation):
        """``lam * x + (1 - lam) * x[partner]`` for a batch ``x`` of any rank."""
        x = ops.cast(ops.convert_to_tensor(x), self.compute_dtype)
        if transformation is None:
            return x
        lam = ops.cast(per_sample(transformation["lam"], len(x.shape)), x.dtype)
        return lam * x + (1.0 - lam) * ops.take(x, transformation["partner"], axis=0)

    def one_hot(self, y):
        """Integer labels as float one-hot (float labels are returned as they are)."""
        y = ops.convert_to_tensor(y)
        if not is_integer_dtype(y.dtype):
            return ops.cast(y, self.compute_dtype)
        if self.num_classes is None:
            raise ValueError(
                "MixUp: integer labels need num_classes to become one-hot before mixing, e.g. "
                "MixUp(alpha=0.2, num_classes=2); or pass one-hot labels."
            )
        if len(y.shape) >= 2 and y.shape[-1] == 1:
            y = ops.squeeze(y, -1)
        return ops.one_hot(ops.cast(y, "int32"), self.num_classes, dtype=self.compute_dtype)

    def transform_labels(self, y, transformation):
        """Mixed one-hot labels: ``lam * y + (1 - lam) * y[partner]`` after :meth:`one_hot`."""
        y = self.one_hot(y)
        if transformation is None:
            return y
        lam = ops.cast(per_sample(transformation["lam"], len(y.shape)), y.dtype)
        return lam * y + (1.0 - lam) * ops.take(y, transformation["partner"], axis=0)

    def call(self, data, training=None):
        x, y = self._unpack(data)
        if not training:
            return self._pack(data, ops.cast(x, self.compute_dtype), y)
        if x.shape[0] is not None and y.shape[0] is not None and x.shape[0] != y.shape[0]:
            raise ValueError(
                f"MixUp: x and y have different batch sizes, {x.shape[0]} and {y.shape[0]}."
            )
        transformation = self.get_random_transformation(x, training=True)
        return self._pack(data, self.transform(x, transformation), self.transform_labels(y, transformation))

    def batch_transform(self, x, y):
        """``(x, y) -> mixed (x, y)`` in training mode: for ``tf.data.Dataset.map`` and
        ``biocnn.training.fit(..., batch_transform=mixup.batch_transform)``."""
        return self((x, y), training=True)

    def get_config(self):
        config = super().get_config()
        config.update({"alpha": self.alpha, "num_classes": self.num_classes, "seed": self.seed})
        return config
