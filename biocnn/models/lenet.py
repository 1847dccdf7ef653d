"""LeNet-5 (LeCun et al., 1998) for 1D sequences, 2D images and 3D volumes.

The layout is the original one: conv(6, 5) - pool 2 - conv(16, 5) - pool 2 - flatten -
dense 120 - dense 84 - dense ``num_classes``. On a 32x32x1 image with ``'valid'`` padding and
10 classes it has the classic 61,706 parameters. The modern defaults (ReLU, max pooling) can
be switched back to the original's ``activation="tanh"`` and ``pooling="avg"``.
"""

import itertools

import keras

from biocnn.models import blocks
from biocnn.models.registry import register
from biocnn.utils import conv_output_size

__all__ = ["lenet5", "min_valid_size"]

FILTERS = (6, 16)
KERNEL_SIZE = 5
POOL_SIZE = 2
UNITS = (120, 84)
PADDINGS = ("auto", "valid", "same")


def _valid_output_size(size):
    """Size along one axis after the two conv-pool stages with 'valid' padding; None if < 1."""
    try:
        for _ in FILTERS:
            size = conv_output_size(size, KERNEL_SIZE)
            # Keras' 'valid' pooling drops a trailing row that does not fill a window, while
            # conv_output_size insists on exact tiling: pool the part the windows cover.
            size = conv_output_size(size - size % POOL_SIZE, POOL_SIZE, S=POOL_SIZE)
    except ValueError:  # the window no longer fits
        return None
    return size


def min_valid_size():
    """Smallest size along a spatial axis for which LeNet-5's 'valid' layout fits (16).

    Returns:
        int: 16 (16 -> conv 12 -> pool 6 -> conv 2 -> pool 1).

    Example:
        >>> print(min_valid_size())
        16
    """
    return next(size for size in itertools.count(1) if _valid_output_size(size) is not None)


def _resolve_padding(padding, input_shape, name):
    blocks.look_up("padding", padding, PADDINGS, where=name)
    minimum = min_valid_size()
    small = [(axis, size) for axis, size in enumerate(input_shape[:-1]) if size < minimum]
    if padding == "auto":
        return "same" if small else "valid"
    if padding == "valid" and small:
        axis, size = small[0]
        raise ValueError(
            f"{name}: padding='valid' needs at least {minimum} values along every spatial axis "
            f"(conv {KERNEL_SIZE} - pool {POOL_SIZE} - conv {KERNEL_SIZE} - pool {POOL_SIZE}), "
            f"but spatial axis {axis} of input_shape {tuple(input_shape)} has {size}. Use "
            f"padding='auto' or 'same', or resize the input to at least {minimum}."
        )
    return padding


@register("lenet5", ranks=(1, 2, 3))
def lenet5(
    input_shape,
    num_classes,
    activation="relu",
    pooling="max",
    padding="auto",
    dropout=0.0,
    width_multiplier=1.0,
    head="softmax",
    output_activation=blocks.FROM_HEAD,
    name="lenet5",
):
    """LeNet-5 for any rank and any input size.

    Layers, with ``name`` as prefix: ``_input``, ``_conv1``, ``_conv1_act``, ``_pool1``,
    ``_conv2``, ``_conv2_act``, ``_pool2``, ``_flatten``, ``_fc1``, ``_fc1_act``
    (``_dropout1``), ``_fc2``, ``_fc2_act`` (``_dropout2``), ``_logits`` (Dense, no activation)
    and ``_probs`` (softmax or sigmoid; absent for the regression and logits heads). The last
    convolutional feature map is ``_conv2_act``.

    Args:
        input_shape: tuple of int, channels last without the batch axis: ``(length, channels)``,
            ``(height, width, channels)`` or ``(depth, height, width, channels)``.
        num_classes: int, number of outputs.
        activation: str, hidden activation, one of ``blocks.HIDDEN_ACTIVATIONS``: ``"relu"``
            (default), ``"tanh"``/``"sigmoid"`` as in the original, ``"leaky_relu"``, or
            ``"maxout"`` (every convolution and hidden Dense layer becomes a maxout unit of
            ``blocks.MAXOUT_PIECES`` pieces).
        pooling: ``"max"`` (default) or ``"avg"`` (the original's subsampling).
        padding: ``"auto"`` (default): ``'valid'`` convolutions as in the original when every
            spatial axis has at least 16 values, ``'same'`` convolutions and pooling otherwise,
            so any input size works. ``"valid"`` or ``"same"`` force one.
        dropout: float in [0, 1), dropout after each hidden Dense layer (0: none, the original).
        width_multiplier: positive float scaling the filters (6, 16) and units (120, 84).
        head: ``"softmax"`` (default), ``"sigmoid"``, ``"regression"`` (linear outputs) or
            ``"logits"``/None (raw scores, for hinge losses or ``from_logits=True``).
        output_activation: the older spelling of ``head``, still accepted: ``"softmax"``,
            ``"sigmoid"``, ``"linear"`` or None (raw scores).
        name: str, the model name and the prefix of every layer name.

    Returns:
        keras.Model: the LeNet-5 model.

    Raises:
        ValueError: for an unsupported ``input_shape``, a bad ``num_classes``, an unknown
            ``activation``/``pooling``/``padding``/``head``, a bad ``dropout`` or
            ``width_multiplier``, or ``padding="valid"`` on an input smaller than 16 along
            some spatial axis (the message names the axis and the minimum).

    Example:
        >>> model = lenet5((32, 32, 1), 10, padding="valid")
        >>> print(model.output_shape, model.count_params())
        (None, 10) 61706
    """
    rank, num_classes, activation, dropout, width, head = blocks.check_model_options(
        input_shape, num_classes, activation=activation, dropout=dropout, width_multiplier=width_multiplier,
        pooling=pooling, head=head, where=name, pools=blocks.POOL, output_activation=output_activation)
    padding = _resolve_padding(padding, input_shape, name)

    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    x = inputs
    for i, filters in enumerate(FILTERS, start=1):
        x = blocks.conv_unit(
            x, rank, blocks.scaled(filters, width), KERNEL_SIZE, activation, f"{name}_conv{i}",
            padding=padding,
        )
        x = blocks.pool(rank, pooling, POOL_SIZE, padding=padding, name=f"{name}_pool{i}")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    for i, units in enumerate(UNITS, start=1):
        x = blocks.dense_unit(x, blocks.scaled(units, width), activation, f"{name}_fc{i}")
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout{i}")(x)
    x = blocks.output_head(x, num_classes, head, name)
    return keras.Model(inputs, x, name=name)
