"""Rank tables and small helpers shared by every network in :mod:`biocnn.models`.

A network is written once for 1D sequences, 2D images and 3D volumes (channels last): it
takes ``rank`` and looks its layer classes up in the tables below, e.g. ``CONV[rank]`` is
``keras.layers.Conv1D``, ``Conv2D`` or ``Conv3D``.
"""

import difflib
import numbers

import keras
from keras import layers

from biocnn import layers as biocnn_layers

__all__ = [
    "RANKS",
    "CONV",
    "MAX_POOL",
    "AVG_POOL",
    "GLOBAL_AVG_POOL",
    "GLOBAL_MAX_POOL",
    "POOL",
    "GLOBAL_POOL",
    "look_up",
    "rank_of",
    "check_rank",
    "check_num_classes",
    "conv",
    "pool",
    "global_pool",
    "activation",
]

RANKS = (1, 2, 3)

CONV = {1: layers.Conv1D, 2: layers.Conv2D, 3: layers.Conv3D}
MAX_POOL = {1: layers.MaxPooling1D, 2: layers.MaxPooling2D, 3: layers.MaxPooling3D}
AVG_POOL = {1: layers.AveragePooling1D, 2: layers.AveragePooling2D, 3: layers.AveragePooling3D}
GLOBAL_AVG_POOL = {
    1: layers.GlobalAveragePooling1D,
    2: layers.GlobalAveragePooling2D,
    3: layers.GlobalAveragePooling3D,
}
GLOBAL_MAX_POOL = {
    1: layers.GlobalMaxPooling1D,
    2: layers.GlobalMaxPooling2D,
    3: layers.GlobalMaxPooling3D,
}
POOL = {"max": MAX_POOL, "avg": AVG_POOL}
GLOBAL_POOL = {"max": GLOBAL_MAX_POOL, "avg": GLOBAL_AVG_POOL}

def look_up(argument, value, valid, where=""):
    """Return ``value`` if it is one of ``valid``, else raise a did-you-mean ValueError.

    Args:
        argument: str, the argument's name, for the message (e.g. ``"pooling"``).
        value: the value received.
        valid: iterable of the accepted values.
        where: str, a prefix naming the function or model, e.g. ``"lenet5"``.

    Returns:
        ``value``, unchanged.

    Raises:
        ValueError: naming the argument, echoing ``value``, suggesting the closest valid value
            and listing all of them.

    Example:
        >>> print(look_up("pooling", "max", ("max", "avg")))
        max
    """
    valid = list(valid)
    if value in valid:
        return value
    prefix = f"{where}: " if where else ""
    close = difflib.get_close_matches(str(value), [str(v) for v in valid], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    options = ", ".join(repr(v) for v in sorted(valid, key=str))
    raise ValueError(f"{prefix}unknown {argument} {value!r}.{hint} Valid options: {options}.")


def check_rank(rank, ranks=RANKS, where=""):
    """Check that ``rank`` (number of spatial axes) is one of ``ranks``.

    Args:
        rank: int, 1 (sequences), 2 (images) or 3 (volumes).
        ranks: tuple of int, the ranks accepted by the caller.
        where: str, a prefix naming the caller for the message.

    Returns:
        int: ``rank``.

    Raises:
        ValueError: if ``rank`` is not one of ``ranks``.

    Example:
        >>> print(check_rank(2))
        2
    """
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or rank not in ranks:
        prefix = f"{where}: " if where else ""
        raise ValueError(
            f"{prefix}rank must be one of {tuple(ranks)} (number of spatial axes: 1 for "
            f"sequences, 2 for images, 3 for volumes), got {rank!r}."
        )
    return int(rank)


def rank_of(input_shape, ranks=RANKS, where="", allow_none=False):
    """Number of spatial axes of a channels-last ``input_shape`` (without the batch axis).

    Args:
        input_shape: tuple or list of positive ints, e.g. ``(40, 4)`` for a one-hot DNA
            sequence, ``(28, 28, 1)`` for a grayscale image, ``(16, 16, 16, 1)`` for a volume.
        ranks: tuple of int, the ranks the caller supports.
        where: str, a prefix naming the caller (e.g. the model) for the messages.
        allow_none: bool, accept None (unknown size) for spatial axes.

    Returns:
        int: ``len(input_shape) - 1``.

    Raises:
        ValueError: if ``input_shape`` is not a sequence of positive ints (None allowed on
            spatial axes when ``allow_none``) or its rank is not in ``ranks``; the message
            lists the supported ranks and, where it helps, the shape with a channel axis added.

    Example:
        >>> print(rank_of((28, 28, 1)))
        2
    """
    prefix = f"{where}: " if where else ""
    if not isinstance(input_shape, (tuple, list)):
        raise ValueError(
            f"{prefix}input_shape must be a tuple of ints (channels last, no batch axis), "
            f"e.g. (28, 28, 1); got {input_shape!r}."
        )
    shape = tuple(input_shape)
    for axis, size in enumerate(shape):
        spatial = axis < len(shape) - 1
        if size is None and allow_none and spatial:
            continue
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            need = "a positive int or None" if allow_none and spatial else "a positive int"
            raise ValueError(
                f"{prefix}input_shape[{axis}] must be {need}, got {size!r} in input_shape "
                f"{shape}. Give a fixed size (channels last, no batch axis), e.g. (28, 28, 1)."
            )
    rank = len(shape) - 1
    if rank not in ranks:
        supported = ", ".join(f"{r}D" for r in ranks)
        hint = ""
        if rank + 1 in ranks:
            hint = (
                f" If the last axis of {shape} is spatial, add a channel axis: "
                f"{shape + (1,)}."
            )
        raise ValueError(
            f"{prefix}input_shape {shape} has {rank} spatial axes ({len(shape)} axes, the last "
            f"is channels); supported: {supported} (input_shape of length "
            f"{', '.join(str(r + 1) for r in ranks)}).{hint}"
        )
    return rank


def check_num_classes(num_classes, where=""):
    """Check that ``num_classes`` is a positive int and return it.

    Args:
        num_classes: int >= 1 (1 for a single sigmoid or regression output).
        where: str, a prefix naming the caller for the message.

    Returns:
        int: ``num_classes``.

    Raises:
        ValueError: if ``num_classes`` is not a positive int.

    Example:
        >>> print(check_num_classes(10))
        10
    """
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, numbers.Integral)
        or num_classes < 1
    ):
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}num_classes must be a positive int, got {num_classes!r}.")
    return int(num_classes)


def conv(rank, filters, kernel_size, **kwargs):
    """A ``Conv1D``/``Conv2D``/``Conv3D`` layer for ``rank``; other arguments go to Keras.

    Args:
        rank: int, 1, 2 or 3.
        filters: int, number of output channels.
        kernel_size: int or tuple, as for the Keras layer.
        **kwargs: passed to the Keras layer (``strides``, ``padding``, ``name``, ...).

    Returns:
        keras.layers.Layer: the convolution layer.

    Raises:
        ValueError: if ``rank`` is not 1, 2 or 3.

    Example:
        >>> layer = conv(3, 8, 3, padding="same")
        >>> print(layer(keras.ops.zeros((1, 8, 8, 8, 1))).shape)
        (1, 8, 8, 8, 8)
    """
    return CONV[check_rank(rank, where="conv")](filters, kernel_size, **kwargs)


def pool(rank, kind="max", pool_size=2, **kwargs):
    """A max or average pooling layer for ``rank``.

    Args:
        rank: int, 1, 2 or 3.
        kind: ``"max"`` or ``"avg"``.
        pool_size: int or tuple, window size (strides default to it, as in Keras).
        **kwargs: passed to the Keras layer (``strides``, ``padding``, ``name``, ...).

    Returns:
        keras.layers.Layer: the pooling layer.

    Raises:
        ValueError: if ``rank`` or ``kind`` is not valid.

    Example:
        >>> print(pool(1, "avg")(keras.ops.zeros((1, 40, 4))).shape)
        (1, 20, 4)
    """
    table = POOL[look_up("pooling", kind, POOL, where="pool")]
    return table[check_rank(rank, where="pool")](pool_size, **kwargs)


def global_pool(rank, kind="avg", **kwargs):
    """A global max or average pooling layer for ``rank`` (spatial axes -> one vector).

    Args:
        rank: int, 1, 2 or 3.
        kind: ``"avg"`` or ``"max"``.
        **kwargs: passed to the Keras layer (``name``, ``keepdims``, ...).

    Returns:
        keras.layers.Layer: the global pooling layer.

    Raises:
        ValueError: if ``rank`` or ``kind`` is not valid.

    Example:
        >>> print(global_pool(2)(keras.ops.zeros((1, 7, 7, 16))).shape)
        (1, 16)
    """
    table = GLOBAL_POOL[look_up("global pooling", kind, GLOBAL_POOL, where="global_pool")]
    return table[check_rank(rank, where="global_pool")](**kwargs)


def activation(name, layer_name=None, where=""):
    """The activation layer called ``name``, from :func:`biocnn.layers.activation`.

    Args:
        name: str, one of ``biocnn.layers.ACTIVATIONS`` (``"relu"``, ``"leaky_relu"`` with the
            lecture's slope 0.1, ``"tanh"``, ``"sigmoid"``, ``"softmax"``, ``"linear"``,
            ``"custom_relu"``).
        layer_name: str or None, the layer's name.
        where: str, a prefix naming the caller for the message.

    Returns:
        keras.layers.Layer.

    Raises:
        ValueError: if ``name`` is not a known activation (with a did-you-mean).

    Example:
        >>> print(activation("relu")(keras.ops.zeros((2, 3))).shape)
        (2, 3)
    """
    try:
        return biocnn_layers.activation(name, name=layer_name)
    except ValueError as error:
        raise ValueError(f"{where}: {error}" if where else str(error)) from None
