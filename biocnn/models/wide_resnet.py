"""Wide residual networks WRN-d-k (Zagoruyko and Komodakis, 2016) for every rank.

A 3x3 convolution with 16 filters, then three groups (conv2, conv3, conv4) of
``n = (d - 4) / 6`` pre-activation blocks with ``16k``, ``32k`` and ``64k`` filters (stride 2
at the start of conv3 and conv4), then batch norm, ReLU, global average pooling and one Dense
layer. A block is BN - ReLU - conv3x3 - [dropout] - BN - ReLU - conv3x3 plus the shortcut; where
the shape changes the shortcut is a 1x1 convolution of the block's pre-activated input, as in
the authors' code. ``stochastic_depth=p`` (off by default) adds ResNet's stochastic depth:
block ``l`` of ``L`` drops its branch in training with rate ``l / L * p``. Convolutions have no bias. WRN-28-10 on 32x32x3 with 10 classes has
36,479,194 parameters (the paper's "36.5 M").
"""

import keras

from biocnn.layers import BatchNormalization
from biocnn.models import blocks
from biocnn.models.registry import register
from biocnn.models.resnet import BN_EPSILON

__all__ = ["wide_resnet", "group_widths"]

BASE_WIDTHS = (16, 32, 64)
STEM_FILTERS = 16


def _bn_act(x, activation, name, suffix):
    x = BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn{suffix}")(x)
    return blocks.activation(activation, f"{name}_act{suffix}")(x)


def _conv3(rank, filters, strides, name):
    return blocks.conv(rank, filters, 3, strides=strides, padding="same", use_bias=False, name=name)


def _block(x, rank, filters, stride, activation, dropout, drop_rate, name):
    """A pre-activation block; its output (the addition) is ``name_out``."""
    o1 = _bn_act(x, activation, name, 1)
    y = _conv3(rank, filters, stride, f"{name}_conv1")(o1)
    y = _bn_act(y, activation, name, 2)
    if dropout:
        y = keras.layers.Dropout(dropout, name=f"{name}_dropout")(y)
    y = _conv3(rank, filters, 1, f"{name}_conv2")(y)
    return blocks.residual(x, y, stride, lambda: blocks.conv(
        rank, filters, 1, strides=stride, padding="same", use_bias=False, name=f"{name}_shortcut")(o1), f"{name}_out",
        drop_rate=drop_rate, drop_name=f"{name}_drop")


def group_widths(widen_factor, width_multiplier=1.0):
    """Filters of the stem and the three groups: ``(16, 16k, 32k, 64k)`` times the multiplier.

    Example:
        >>> print(group_widths(10))
        (16, 160, 320, 640)
    """
    widths = (STEM_FILTERS,) + tuple(w * widen_factor for w in BASE_WIDTHS)
    return tuple(blocks.scaled(w, width_multiplier) for w in widths)


@register("wide_resnet")
def wide_resnet(
    input_shape,
    num_classes,
    depth=28,
    widen_factor=10,
    dropout=0.0,
    activation="relu",
    width_multiplier=1.0,
    pooling="avg",
    head="softmax",
    stochastic_depth=0.0,
    name="wide_resnet",
):
    """WRN-``depth``-``widen_factor``; the default is WRN-28-10.

    Layers, with ``name`` as prefix: ``_conv1``; for group ``g`` in 2..4 and block ``b`` from
    1: ``_conv{g}_block{b}_bn1``, ``_act1``, ``_conv1``, ``_bn2``, ``_act2``, ``_dropout``
    (when ``dropout`` > 0), ``_conv2``, ``_shortcut`` (where the shape changes), ``_drop`` (with
    ``stochastic_depth``) and the output
    ``_conv{g}_block{b}_out`` (the addition); then ``_final_bn``, ``_final_act`` (the last
    convolutional feature map), ``_pool`` (global), ``_logits`` and ``_probs``.

    Args:
        input_shape: tuple of int, channels last (rank 1, 2 or 3), e.g. ``(32, 32, 3)``.
        num_classes: int, number of outputs.
        depth: int ``6n + 4`` (10, 16, 22, 28, 40, ...): convolutions plus the output layer.
        widen_factor: positive int ``k``, the width of the groups relative to ResNet's.
        dropout: float in [0, 1), dropout between the two convolutions of each block (the
            paper uses 0.3 on some runs). Default 0.
        activation: ``"relu"`` (default), ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"``
            (``"maxout"`` does not apply).
        width_multiplier: positive float scaling every convolution's filters (stem included),
            e.g. to shrink a model for tests; 1.0 is the paper's.
        pooling: the global pooling, ``"avg"`` (default, the paper's) or ``"max"``.
        head: ``"softmax"`` (default), ``"sigmoid"``, ``"regression"`` or ``"logits"``/None.
        stochastic_depth: float in [0, 1), the last block's stochastic-depth rate (block
            ``l`` of ``L``: ``l / L * stochastic_depth``, training only). Default 0 (none).
        name: str, the model name and the prefix of every layer name.

    Returns:
        keras.Model: the wide ResNet.

    Raises:
        ValueError: for a ``depth`` that is not ``6n + 4`` with ``n >= 1`` (the message lists
            valid depths), a bad ``widen_factor``, ``input_shape``, ``num_classes``,
            ``dropout``, ``width_multiplier`` or ``stochastic_depth``, or an unknown/inapplicable ``activation``,
            ``pooling`` or ``head``.

    Example:
        >>> model = wide_resnet((32, 32, 3), 10, depth=10, widen_factor=2)
        >>> print(model.get_layer("wide_resnet_final_act").output.shape)
        (None, 8, 8, 128)
    """
    depth = blocks.check_positive_int(depth, "depth", where=name)
    if (depth - 4) % 6 or depth < 10:
        lower = max(10, depth - (depth - 4) % 6)
        nearest = f"{lower} or {lower + 6}" if lower < depth else f"{lower}"
        raise ValueError(
            f"{name}: depth must be 6n + 4 with n >= 1 blocks per group (10, 16, 22, 28, 34, "
            f"40, ...), got {depth}; try {nearest}."
        )
    widen_factor = blocks.check_positive_int(widen_factor, "widen_factor", where=name)
    rank, num_classes, activation, dropout, width, head = blocks.check_model_options(
        input_shape, num_classes, activation=activation, dropout=dropout, width_multiplier=width_multiplier,
        pooling=pooling, head=head, where=name, residual=True, stochastic_depth=stochastic_depth)
    per_group = (depth - 4) // 6
    drop_rates = iter(blocks.stochastic_depth_rates(float(stochastic_depth), 3 * per_group))
    stem_filters, *widths = group_widths(widen_factor, width)

    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    x = _conv3(rank, stem_filters, 1, f"{name}_conv1")(inputs)
    for group, (filters, stride) in enumerate(zip(widths, (1, 2, 2)), start=2):
        for b in range(1, per_group + 1):
            x = _block(
                x, rank, filters, stride if b == 1 else 1, activation, dropout, next(drop_rates),
                f"{name}_conv{group}_block{b}",
            )
    x = BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_final_bn")(x)
    x = blocks.activation(activation, f"{name}_final_act")(x)
    x = blocks.global_pool(rank, pooling, name=f"{name}_pool")(x)
    x = blocks.output_head(x, num_classes, head, name)
    return keras.Model(inputs, x, name=name)
