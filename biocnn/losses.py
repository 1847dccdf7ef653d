"""Losses: the Weston-Watkins multi-class hinge, one self-dispatching cross-entropy, and `get`.

* :class:`MulticlassHinge` is the multi-class SVM loss of the lecture,
  ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin)``, averaged over the batch. Keras'
  ``CategoricalHinge`` is a different loss: it keeps only the largest wrong score.
* :class:`CrossEntropy` picks binary, categorical or sparse categorical cross-entropy from the
  static shapes of the labels and the predictions, and calls Keras' own functions for the maths.
* :func:`get` resolves a loss from a name (``"cross_entropy"``, ``"multiclass_hinge"``, ...),
  an instance, a callable or a serialised config dict, and suggests the closest name on a typo.

Compiling with a name
---------------------
Keras 3.15 ``Model.compile(loss="...")`` resolves a plain string only through
``keras.losses.get``, which looks it up in a fixed table of Keras' *built-in* losses; the
custom-object registry is not consulted for strings. So for the losses registered here no plain
string works -- not ``loss="biocnn>MulticlassHinge"``, not ``loss="MulticlassHinge"``, not
``loss="multiclass_hinge"``, not even inside ``keras.saving.custom_object_scope``: ``compile``
accepts them and the first ``fit`` raises ``ValueError: Could not interpret loss identifier``.
A serialised config dict does not work either, because ``compile`` reads a dict as a mapping
from output names to losses. (Keras' own ``loss="hinge"`` is the *binary* hinge, not this loss.)
The public way is to pass an instance, which :func:`get` builds from a name:
``model.compile(loss=biocnn.losses.get("multiclass_hinge"))``; biocnn's training entry point
resolves loss names through :func:`get` in the same way.

Models compiled with these losses save to ``.keras`` and load again without ``custom_objects``
once :mod:`biocnn` has been imported (the classes are registered under the package ``biocnn``).

Example:
    >>> import numpy as np
    >>> scores = np.array([[3.2, 5.1, -1.7]], dtype="float32")
    >>> round(float(MulticlassHinge()(np.array([0]), scores)), 4)
    2.9
    >>> round(float(get("cross_entropy", from_logits=True)(np.array([1]), np.zeros((1, 2)))), 4)
    0.6931
"""

import numbers

import keras
from keras import ops

from biocnn.utils import did_you_mean

__all__ = ["CrossEntropy", "MulticlassHinge", "NAMES", "get"]


def _static_rank_and_classes(y_pred, who):
    rank = len(y_pred.shape)
    if rank < 1:
        raise ValueError(
            f"{who}: y_pred must have at least one axis (the class axis last), got a scalar."
        )
    return rank, y_pred.shape[-1]


def _label_kind(y_true, y_pred, who):
    """'dense' when y_true has y_pred's shape (one-hot or 0/1 per output), else 'sparse'.

    Decided from static shapes only, so the same choice is made at trace time and at run time.
    """
    pred_rank, n_classes = _static_rank_and_classes(y_pred, who)
    true_rank = len(y_true.shape)
    if true_rank == pred_rank and y_true.shape[-1] == n_classes and n_classes != 1:
        return "dense"
    if true_rank == pred_rank - 1 or (true_rank == pred_rank and y_true.shape[-1] == 1):
        return "sparse"
    raise ValueError(
        f"{who}: cannot match labels of shape {tuple(y_true.shape)} to predictions of shape "
        f"{tuple(y_pred.shape)}. Expected integer labels of shape {tuple(y_pred.shape[:-1])} "
        f"(or with a trailing 1), or one-hot labels of shape {tuple(y_pred.shape)}."
    )


def _sparse_labels(y_true, y_pred):
    """Integer class indices with y_pred's shape minus the class axis."""
    if len(y_true.shape) == len(y_pred.shape):
        y_true = ops.squeeze(y_true, axis=-1)
    return ops.cast(y_true, "int32")


@keras.saving.register_keras_serializable(package="biocnn")
class MulticlassHinge(keras.losses.Loss):
    """Weston-Watkins multi-class hinge (multi-class SVM) loss.

    For raw class scores ``s`` (one row per sample, classes on the last axis) and true class
    ``y``, the per-sample loss is ``sum over j != y of max(0, s_j - s_y + margin)``; every wrong
    class whose score is not at least ``margin`` below the true score contributes. With the
    default ``reduction`` the per-sample losses are averaged over the batch. Extra leading axes
    (e.g. one score vector per pixel) are treated like more samples.

    Args:
        margin: float > 0, the required gap between the true score and every wrong score.
            Default 1.0.
        reduction: Keras reduction of the per-sample losses (``"sum_over_batch_size"``,
            ``"sum"``, ``"mean"``, ``"none"``, ...). Default ``"sum_over_batch_size"``.
        name: name of the loss. Default ``"multiclass_hinge"``.

    Call arguments:
        y_true: integer labels of shape ``(N,)`` or ``(N, 1)``, or one-hot labels ``(N, C)``.
        y_pred: raw (unnormalised) scores of shape ``(N, C)``, ``C >= 2``.
        sample_weight: optional per-sample weights.

    Returns:
        A scalar loss (or per-sample losses with ``reduction="none"``).

    Raises:
        ValueError: if ``margin`` is not a positive number, if there are fewer than 2 classes, or
            if the label shape matches neither integer nor one-hot labels.

    Example:
        >>> import numpy as np
        >>> scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0]], dtype="float32")
        >>> loss = MulticlassHinge(reduction="none")(np.array([0, 1]), scores)
        >>> print(loss.shape, np.round(np.asarray(loss), 4))
        (2,) [2.9 0. ]
    """

    def __init__(self, margin=1.0, reduction="sum_over_batch_size", name="multiclass_hinge"):
        if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not margin > 0:
            raise ValueError(
                f"MulticlassHinge: margin must be a positive number, got {margin!r}."
            )
        super().__init__(name=name, reduction=reduction)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        _, n_classes = _static_rank_and_classes(y_pred, "MulticlassHinge")
        if n_classes is None or n_classes < 2:
            raise ValueError(
                "MulticlassHinge: y_pred needs a known class axis (last) with at least 2 "
                f"classes, got y_pred of shape {tuple(y_pred.shape)}. For a single output use "
                "a binary loss such as keras.losses.Hinge."
            )
        if _label_kind(y_true, y_pred, "MulticlassHinge") == "dense":
            one_hot = ops.cast(y_true, y_pred.dtype)
        else:
            one_hot = ops.one_hot(_sparse_labels(y_true, y_pred), n_classes, dtype=y_pred.dtype)
        true_score = ops.sum(y_pred * one_hot, axis=-1, keepdims=True)
        # The true class would add max(0, margin) = margin; the mask removes it exactly.
        margins = ops.relu(y_pred - true_score + self.margin) * (1.0 - one_hot)
        return ops.sum(margins, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update({"margin": self.margin})
        return config


@keras.saving.register_keras_serializable(package="biocnn")
class CrossEntropy(keras.losses.Loss):
    """Cross-entropy that chooses binary, categorical or sparse categorical from the shapes.

    The choice is made from static shapes, per call:

    1. ``y_pred`` has a last axis of size 1 (or has rank 1): **binary** cross-entropy, labels
       0/1 of shape ``(N,)`` or ``(N, 1)``;
    2. otherwise, labels with the same rank and last axis size as ``y_pred`` are **one-hot**:
       categorical cross-entropy;
    3. otherwise labels are **integer** class indices (``y_pred``'s shape without the class axis,
       or with a trailing 1): sparse categorical cross-entropy. With ``label_smoothing > 0`` they
       are converted to one-hot first, since Keras' sparse loss does not smooth.

    The maths is Keras' ``binary_crossentropy`` / ``categorical_crossentropy`` /
    ``sparse_categorical_crossentropy``.

    Args:
        from_logits: bool, whether ``y_pred`` are logits (True) or probabilities (False).
        label_smoothing: float in ``[0, 1)``; 0 disables smoothing.
        name: name of the loss. Default ``"cross_entropy"``.
        reduction: Keras reduction; default ``"sum_over_batch_size"``.

    Returns:
        A scalar loss (or per-sample losses with ``reduction="none"``).

    Raises:
        ValueError: if ``label_smoothing`` is outside ``[0, 1)``, if ``y_pred``'s class axis is
            not statically known, or if the label shape fits none of the three cases.

    Example:
        >>> import numpy as np
        >>> probs = np.array([[0.25, 0.75]], dtype="float32")
        >>> sparse = CrossEntropy()(np.array([1]), probs)
        >>> one_hot = CrossEntropy()(np.array([[0.0, 1.0]]), probs)
        >>> print(round(float(sparse), 4), round(float(one_hot), 4))
        0.2877 0.2877
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, name="cross_entropy",
                 reduction="sum_over_batch_size"):
        if (isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real)
                or not 0.0 <= label_smoothing < 1.0):
            raise ValueError(
                f"CrossEntropy: label_smoothing must be a number in [0, 1), got "
                f"{label_smoothing!r}."
            )
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        rank, n_classes = _static_rank_and_classes(y_pred, "CrossEntropy")
        if rank == 1 or n_classes == 1:
            if rank == 1:
                y_pred = ops.expand_dims(y_pred, -1)
            if len(y_true.shape) == len(y_pred.shape) - 1:
                y_true = ops.expand_dims(y_true, -1)
            return keras.losses.binary_crossentropy(
                y_true, y_pred, from_logits=self.from_logits,
                label_smoothing=self.label_smoothing,
            )
        if n_classes is None:
            raise ValueError(
                "CrossEntropy: the class axis (last) of y_pred must be known statically to "
                f"choose binary/categorical/sparse, got y_pred of shape {tuple(y_pred.shape)}."
            )
        if _label_kind(y_true, y_pred, "CrossEntropy") == "dense":
            return keras.losses.categorical_crossentropy(
                y_true, y_pred, from_logits=self.from_logits,
                label_smoothing=self.label_smoothing,
            )
        labels = _sparse_labels(y_true, y_pred)
        if self.label_smoothing > 0:
            return keras.losses.categorical_crossentropy(
                ops.one_hot(labels, n_classes, dtype=y_pred.dtype), y_pred,
                from_logits=self.from_logits, label_smoothing=self.label_smoothing,
            )
        return keras.losses.sparse_categorical_crossentropy(
            labels, y_pred, from_logits=self.from_logits
        )

    def get_config(self):
        config = super().get_config()
        config.update({"from_logits": self.from_logits, "label_smoothing": self.label_smoothing})
        return config


_CONSTRUCTORS = {
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

#: Names accepted by :func:`get` (case-insensitive; ``-`` and spaces read as ``_``).
NAMES = tuple(sorted(_CONSTRUCTORS))


def _normalise(name):
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def get(identifier, **kwargs):
    """Resolve a loss from a name, an instance, a callable or a serialised config dict.

    Args:
        identifier: one of

            * a name from :data:`NAMES` (case-insensitive, ``-`` and spaces read as ``_``):
              ``cross_entropy``/``crossentropy`` -> :class:`CrossEntropy`;
              ``binary_crossentropy``, ``categorical_crossentropy``,
              ``sparse_categorical_crossentropy`` -> the Keras loss classes;
              ``mse``/``mean_squared_error`` -> ``keras.losses.MeanSquaredError``;
              ``multiclass_hinge``/``hinge`` -> :class:`MulticlassHinge` (note: Keras' own
              ``"hinge"`` is the binary hinge);
            * a ``keras.losses.Loss`` instance or any callable ``f(y_true, y_pred)``, returned
              unchanged;
            * a dict from ``keras.losses.serialize``, deserialised (registered biocnn losses
              included).
        **kwargs: constructor arguments, only with a name, e.g.
            ``get("cross_entropy", from_logits=True)``.

    Returns:
        A ``keras.losses.Loss`` instance, or the callable passed in.

    Raises:
        ValueError: on an unknown name (the message suggests the closest valid name and lists
            all of them), or when ``kwargs`` are given with a non-name identifier.
        TypeError: if ``identifier`` is none of the above.

    Example:
        >>> loss = get("Multiclass-Hinge", margin=2.0)
        >>> print(type(loss).__name__, loss.margin)
        MulticlassHinge 2.0
    """
    if isinstance(identifier, str):
        key = _normalise(identifier)
        if key not in _CONSTRUCTORS:
            hint = did_you_mean(key, NAMES)
            raise ValueError(
                f"Unknown loss '{identifier}'.{hint} Valid names: {', '.join(NAMES)}."
            )
        return _CONSTRUCTORS[key](**kwargs)
    if kwargs:
        raise ValueError(
            f"get: keyword arguments {sorted(kwargs)} can only be used with a loss name; got "
            f"identifier of type {type(identifier).__name__}. Configure the instance yourself "
            "or pass a name such as 'cross_entropy'."
        )
    if isinstance(identifier, dict):
        return keras.losses.deserialize(identifier)
    if isinstance(identifier, keras.losses.Loss) or callable(identifier):
        return identifier
    raise TypeError(
        "get: expected a loss name (one of " + ", ".join(NAMES) + "), a keras.losses.Loss, "
        f"a callable or a config dict; got {identifier!r} of type {type(identifier).__name__}."
    )
