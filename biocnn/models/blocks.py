"""Rank tables and small helpers shared by every network in :mod:`biocnn.models`.

A network is written once for 1D sequences, 2D images and 3D volumes (channels last): it
takes ``rank`` and looks its layer classes up in the tables below, e.g. ``CONV[rank]`` is
``keras.layers.Conv1D``, ``Conv2D`` or ``Conv3D``.
"""

import numbers

from keras import layers

from biocnn import layers as biocnn_layers
from biocnn.models.zoo_layers import ChannelMaxout, StochasticDepth
from biocnn.utils import did_you_mean

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
    "HIDDEN_ACTIVATIONS",
    "MAXOUT_PIECES",
    "HEADS",
    "STEMS",
    "SMALL_INPUT_MAX",
    "check_activation",
    "check_rate",
    "check_positive_int",
    "check_width",
    "scaled",
    "resolve_stem",
    "resolve_head",
    "FROM_HEAD",
    "conv_unit",
    "dense_unit",
    "output_head",
    "stochastic_depth_rates",
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
    hint = did_you_mean(str(value), [str(v) for v in valid])
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


# --------------------------------------------------------------------------------------------
# Options shared by the zoo: activation, dropout, width, stem, head
# --------------------------------------------------------------------------------------------

#: Maxout units take the maximum over this many affine maps (Goodfellow et al. used 2 to 5).
MAXOUT_PIECES = 2

#: Hidden activations a zoo model accepts: :data:`biocnn.layers.ACTIVATIONS` and ``"maxout"``.
HIDDEN_ACTIVATIONS = tuple(biocnn_layers.ACTIVATIONS) + ("maxout",)

#: Output heads: class probabilities (softmax), independent probabilities (sigmoid, for
#: multi-label or one-output binary), linear outputs (regression), raw scores (logits).
HEADS = ("softmax", "sigmoid", "regression", "logits")

#: Stems of networks designed for 224-px images: the original one, or one for small inputs.
STEMS = ("auto", "imagenet", "small")

#: ``stem="auto"`` picks the small-input stem when some spatial axis is at most this long.
SMALL_INPUT_MAX = 64


def _activation_key(name):
    if not isinstance(name, str):
        return name
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def check_activation(name, where="", maxout=True, why_not_maxout=""):
    """Check a hidden-layer activation name and return it in canonical form.

    Args:
        name: str, one of :data:`HIDDEN_ACTIVATIONS` (case-insensitive, ``-`` read as ``_``).
        where: str, a prefix naming the model for the message.
        maxout: bool, whether ``"maxout"`` applies to this model.
        why_not_maxout: str, the reason given when ``maxout`` is False.

    Returns:
        str: the canonical name, e.g. ``"leaky_relu"``.

    Raises:
        ValueError: for an unknown name (with a did-you-mean and the valid names), or
            ``"maxout"`` where it does not apply (with the reason).

    Example:
        >>> print(check_activation("Leaky-ReLU"))
        leaky_relu
    """
    valid = HIDDEN_ACTIVATIONS if maxout else tuple(biocnn_layers.ACTIVATIONS)
    key = _activation_key(name)
    if key == "maxout" and not maxout:
        prefix = f"{where}: " if where else ""
        raise ValueError(
            f"{prefix}activation 'maxout' does not apply here{': ' + why_not_maxout if why_not_maxout else ''}. "
            f"Valid options: {', '.join(repr(v) for v in sorted(valid))}."
        )
    return look_up("activation", key, valid, where=where)


def check_rate(rate, argument="dropout", where=""):
    """Check a dropout rate in [0, 1) and return it as a float.

    Args:
        rate: float in [0, 1); 0 means no dropout layer.
        argument: str, the argument's name for the message.
        where: str, a prefix naming the model for the message.

    Returns:
        float: ``rate``.

    Raises:
        ValueError: if ``rate`` is not a number in [0, 1).

    Example:
        >>> print(check_rate(0.5))
        0.5
    """
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}{argument} must be a rate in [0, 1) (0 for none), got {rate!r}.")
    return float(rate)


def check_positive_int(value, argument, where=""):
    """Check that the option ``argument`` is a positive int and return it.

    Args:
        value: the value received.
        argument: str, the option's name for the message (e.g. ``"fc_units"``).
        where: str, a prefix naming the model for the message.

    Returns:
        int: ``value``.

    Raises:
        ValueError: if ``value`` is not a positive int.

    Example:
        >>> print(check_positive_int(4096, "fc_units"))
        4096
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}{argument} must be a positive int, got {value!r}.")
    return int(value)


def check_width(width_multiplier, where=""):
    """Check a width multiplier (a positive number scaling every hidden layer's width).

    Args:
        width_multiplier: positive number; 1.0 is the published width.
        where: str, a prefix naming the model for the message.

    Returns:
        float: ``width_multiplier``.

    Raises:
        ValueError: if it is not a positive number.

    Example:
        >>> print(check_width(0.25))
        0.25
    """
    if (
        isinstance(width_multiplier, bool)
        or not isinstance(width_multiplier, numbers.Real)
        or not width_multiplier > 0
    ):
        prefix = f"{where}: " if where else ""
        raise ValueError(
            f"{prefix}width_multiplier must be a positive number (1.0 for the published "
            f"widths, e.g. 0.25 for a quarter), got {width_multiplier!r}."
        )
    return float(width_multiplier)


def scaled(channels, width_multiplier):
    """``channels * width_multiplier`` rounded to an int, at least 1.

    Example:
        >>> print(scaled(64, 0.25), scaled(6, 0.1))
        16 1
    """
    return max(1, int(round(channels * width_multiplier)))


def resolve_stem(stem, input_shape, where="", imagenet_min=1):
    """The stem to build: ``"imagenet"`` or ``"small"``; ``"auto"`` looks at the input size.

    Args:
        stem: ``"auto"``, ``"imagenet"`` (the published stem, for inputs of about 224) or
            ``"small"`` (a stride-1 stem without pooling, for 28-64 px inputs).
        input_shape: tuple, channels last.
        where: str, a prefix naming the model for the message.
        imagenet_min: int, the smallest size along a spatial axis the imagenet stem fits.

    Returns:
        str: for ``stem="auto"``, ``"small"`` when some spatial axis is at most
        :data:`SMALL_INPUT_MAX` (64) long or shorter than ``imagenet_min``, else
        ``"imagenet"``; an explicit choice unchanged.

    Raises:
        ValueError: for an unknown stem (did-you-mean), or ``stem="imagenet"`` on an input
            with a spatial axis shorter than ``imagenet_min``.

    Example:
        >>> print(resolve_stem("auto", (28, 28, 1)), resolve_stem("auto", (224, 224, 3)))
        small imagenet
    """
    look_up("stem", stem, STEMS, where=where)
    smallest = min(input_shape[:-1])
    if stem == "auto":
        return "small" if smallest <= SMALL_INPUT_MAX or smallest < imagenet_min else "imagenet"
    if stem == "imagenet" and smallest < imagenet_min:
        prefix = f"{where}: " if where else ""
        raise ValueError(
            f"{prefix}stem='imagenet' needs at least {imagenet_min} values along every spatial "
            f"axis, but input_shape {tuple(input_shape)} has {smallest}. Use stem='small' "
            f"(or 'auto'), or resize the input."
        )
    return stem


class _FromHead:
    def __repr__(self):
        return "<from head>"


#: Default of the legacy ``output_activation`` option of lenet5 and mlp: use ``head``.
FROM_HEAD = _FromHead()

_LEGACY_OUTPUT = {"softmax": "softmax", "sigmoid": "sigmoid", "linear": "regression", None: "logits"}


def resolve_head(head, output_activation=FROM_HEAD, where=""):
    """The output head: one of :data:`HEADS`; None means ``"logits"``.

    ``output_activation`` is the older spelling used by lenet5 and mlp, still accepted:
    ``"softmax"``, ``"sigmoid"``, ``"linear"`` (regression) or None (logits).

    Args:
        head: one of :data:`HEADS` or None.
        output_activation: the legacy option, or :data:`FROM_HEAD` (not given).
        where: str, a prefix naming the model for the message.

    Returns:
        str: one of :data:`HEADS`.

    Raises:
        ValueError: for an unknown head or output activation (did-you-mean), or both options
            given with different meanings.

    Example:
        >>> print(resolve_head(None), resolve_head("softmax", output_activation=None))
        logits logits
    """
    head = "logits" if head is None else look_up("head", head, HEADS, where=where)
    if output_activation is FROM_HEAD:
        return head
    legacy = _LEGACY_OUTPUT[look_up("output_activation", output_activation, _LEGACY_OUTPUT, where)]
    if head not in ("softmax", legacy):
        prefix = f"{where}: " if where else ""
        raise ValueError(
            f"{prefix}head={head!r} and output_activation={output_activation!r} disagree; "
            f"give only head (output_activation is the older spelling of it)."
        )
    return legacy


#: Why residual networks refuse ``activation="maxout"``.
RESIDUAL_NO_MAXOUT = (
    "a maxout unit doubles the channels of the convolution before it, which breaks the "
    "residual shapes; use 'relu', 'leaky_relu', 'tanh' or 'sigmoid'"
)


def check_model_options(input_shape, num_classes, *, activation, dropout, width_multiplier, pooling, head, where,
                        pools=GLOBAL_POOL, residual=False, ranks=RANKS, output_activation=FROM_HEAD,
                        stochastic_depth=0.0):
    """Check the options every network of the zoo shares, and return them.

    Args:
        input_shape, num_classes, activation, dropout, width_multiplier, pooling, head: the
            network's options.
        where: the network's name, for the messages.
        pools: the valid ``pooling`` values (:data:`GLOBAL_POOL` or :data:`POOL`).
        residual: refuse ``activation="maxout"`` (:data:`RESIDUAL_NO_MAXOUT`).
        ranks: the ranks the network supports.
        output_activation: the older spelling of ``head`` (see :func:`resolve_head`).
        stochastic_depth: a residual network's option, checked here to be a rate in [0, 1)
            (see :func:`stochastic_depth_rates`); not returned: the network passes it on.

    Returns:
        ``(rank, num_classes, activation, dropout, width_multiplier, head)``, each as checked.

    Raises:
        ValueError: an unsupported ``input_shape``, bad ``num_classes``, an unknown (or, for
            residual networks, maxout) activation, a bad ``dropout``, ``width_multiplier`` or
            ``stochastic_depth``, an unknown ``pooling`` or ``head``.

    Example:
        >>> check_model_options((32, 32, 3), 10, activation="relu", dropout=0, width_multiplier=1,
        ...                     pooling="avg", head="softmax", where="net")
        (2, 10, 'relu', 0.0, 1.0, 'softmax')
    """
    rank = rank_of(input_shape, ranks, where=where)
    num_classes = check_num_classes(num_classes, where=where)
    activation = check_activation(activation, where=where, maxout=not residual,
                                  why_not_maxout=RESIDUAL_NO_MAXOUT if residual else "")
    dropout = check_rate(dropout, where=where)
    check_rate(stochastic_depth, "stochastic_depth", where=where)
    width = check_width(width_multiplier, where=where)
    look_up("pooling", pooling, pools, where=where)
    head = resolve_head(head, output_activation, where=where)
    return rank, num_classes, activation, dropout, width, head


def stochastic_depth_rates(rate, count):
    """Huang et al.'s (2016) linear rule: block ``l`` of ``L`` drops its branch with ``l / L * rate``.

    The first block drops least, the last one with ``rate`` itself (the paper's ``1 - p_L``).

    Args:
        rate: float in [0, 1), the last block's rate (0: no stochastic depth).
        count: int, the number of residual blocks ``L``.

    Returns:
        list of ``count`` floats.

    Example:
        >>> print(stochastic_depth_rates(0.5, 4))
        [0.125, 0.25, 0.375, 0.5]
    """
    return [rate * level / count for level in range(1, count + 1)]


def residual(x, y, stride, project, name, drop_rate=0.0, drop_name=None):
    """``y`` plus the shortcut of the block input ``x``: ``x`` itself where the block keeps the
    shape (identity), else ``project()``, a strided 1x1 convolution of the block's choosing
    (projection; ResNet's of ``x``, the wide ResNet's of ``x`` pre-activated).

    With ``drop_rate`` > 0 the branch ``y`` first goes through a
    :class:`~biocnn.models.zoo_layers.StochasticDepth` layer (training only): each sample's
    branch is dropped with that rate, and the block is then its shortcut alone.

    Args:
        x: the block's input.
        y: the block's residual branch.
        stride: the block's stride.
        project: ``() -> tensor``, the projection shortcut, called only where the shape changes.
        name: the name of the ``Add`` layer.
        drop_rate: float in [0, 1), the block's stochastic depth (0: no layer).
        drop_name: the name of the StochasticDepth layer (default ``f"{name}_drop"``).

    Returns:
        The sum.

    Example:
        >>> x = keras.Input((8, 8, 4))
        >>> y = conv(2, 8, 3, strides=2, padding="same")(x)
        >>> print(residual(x, y, 2, lambda: conv(2, 8, 1, strides=2)(x), "add").shape)
        (None, 4, 4, 8)
    """
    shortcut = project() if stride != 1 or x.shape[-1] != y.shape[-1] else x
    if drop_rate:
        y = StochasticDepth(drop_rate, name=drop_name or f"{name}_drop")(y)
    return layers.Add(name=name)([shortcut, y])


def conv_unit(x, rank, filters, kernel_size, activation, name, batch_norm=False, **conv_kwargs):
    """Convolution -> optional batch norm -> activation, named ``name``, ``name_bn``, ``name_act``.

    With ``activation="maxout"`` the convolution has ``filters * MAXOUT_PIECES`` outputs and
    the activation is a :class:`~biocnn.models.zoo_layers.ChannelMaxout`, so the unit still has
    ``filters`` outputs, each the maximum of ``MAXOUT_PIECES`` convolutions.

    Args:
        x: the input tensor (channels last).
        rank: int, 1, 2 or 3.
        filters: int, output channels.
        kernel_size: int or tuple.
        activation: a name from :data:`HIDDEN_ACTIVATIONS`.
        name: str, the convolution's name and the prefix of the others.
        batch_norm: bool, add ``BatchNormalization`` between convolution and activation.
        **conv_kwargs: passed to the Keras convolution (``strides``, ``padding``, ...).

    Returns:
        The output tensor.

    Example:
        >>> x = keras.Input((16, 16, 3))
        >>> print(conv_unit(x, 2, 8, 3, "maxout", "c1", padding="same").shape)
        (None, 16, 16, 8)
    """
    maxout = _activation_key(activation) == "maxout"
    x = conv(rank, filters * (MAXOUT_PIECES if maxout else 1), kernel_size, name=name, **conv_kwargs)(x)
    if batch_norm:
        x = biocnn_layers.BatchNormalization(name=f"{name}_bn")(x)
    if maxout:
        return ChannelMaxout(MAXOUT_PIECES, name=f"{name}_act")(x)
    return _activation_layer(activation, f"{name}_act")(x)


def dense_unit(x, units, activation, name, **dense_kwargs):
    """Dense -> activation, named ``name`` and ``name_act``; maxout as in :func:`conv_unit`.

    Args:
        x: the input tensor.
        units: int, output units.
        activation: a name from :data:`HIDDEN_ACTIVATIONS`.
        name: str, the Dense layer's name and the activation's prefix.
        **dense_kwargs: passed to ``keras.layers.Dense``.

    Returns:
        The output tensor.

    Example:
        >>> print(dense_unit(keras.Input((10,)), 4, "relu", "fc1").shape)
        (None, 4)
    """
    maxout = _activation_key(activation) == "maxout"
    x = layers.Dense(units * (MAXOUT_PIECES if maxout else 1), name=name, **dense_kwargs)(x)
    if maxout:
        return ChannelMaxout(MAXOUT_PIECES, name=f"{name}_act")(x)
    return _activation_layer(activation, f"{name}_act")(x)


def dense_classifier(x, fc_numbers, units, activation, dropout, num_classes, head, name):
    """Flatten, then ``fc{n}`` Dense units (each followed by dropout when ``dropout``), then the head.

    The classifier of AlexNet (``fc6``, ``fc7``), VGG and Basset (``fc1``, ``fc2``); layer names
    ``{name}_flatten``, ``{name}_fc{n}``, ``{name}_dropout{n}``. ``units`` is one width for every
    layer or one per layer.
    """
    x = layers.Flatten(name=f"{name}_flatten")(x)
    widths = [units] * len(fc_numbers) if isinstance(units, numbers.Integral) else list(units)
    for n, width in zip(fc_numbers, widths):
        x = dense_unit(x, width, activation, f"{name}_fc{n}")
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_dropout{n}")(x)
    return output_head(x, num_classes, head, name)


def output_head(x, num_classes, head, name, **dense_kwargs):
    """The output layers: Dense ``name_logits``, then ``name_probs`` for softmax/sigmoid heads.

    Args:
        x: the feature vector tensor.
        num_classes: int, the number of outputs.
        head: one of :data:`HEADS` (already checked, e.g. by :func:`resolve_head`).
        name: str, the model name (the layers' prefix).
        **dense_kwargs: passed to the Dense layer (e.g. ``kernel_constraint``).

    Returns:
        The model's output tensor: probabilities (softmax, sigmoid), or the Dense outputs
        themselves (regression values or logits).

    Example:
        >>> print(output_head(keras.Input((10,)), 3, "softmax", "net").shape)
        (None, 3)
    """
    x = layers.Dense(num_classes, name=f"{name}_logits", **dense_kwargs)(x)
    if head in ("softmax", "sigmoid"):
        x = _activation_layer(head, f"{name}_probs")(x)
    return x


def _activation_layer(name, layer_name):
    # `activation` (the public helper) is shadowed by the argument of the same name above.
    return biocnn_layers.activation(name, name=layer_name)
