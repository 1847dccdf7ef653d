"""ResNet-18, -34, -50, -101 and -152 (He et al., 2016), residual or plain, for every rank.

One builder, :func:`resnet`, takes the depth; the named constructors hand it their depth.
The layout is the lecture's table: a stem (7x7 stride-2 convolution and 3x3 stride-2 max
pooling), four stages conv2_x .. conv5_x with 64, 128, 256, 512 filters, downsampling by
stride 2 in the first block of conv3_x, conv4_x and conv5_x, global average pooling and one
Dense layer. ResNet-18/34 use basic blocks (two 3x3 convolutions), ResNet-50/101/152
bottleneck blocks (1x1, 3x3, 1x1 with 4x expansion), with the stride on the 3x3 convolution
("ResNet v1.5", as torchvision and keras.applications). Convolutions have no bias and are
followed by batch normalisation, so at 224x224x3 with 1000 classes the parameter counts are
torchvision's: 11,689,512 (ResNet-18), 21,797,672 (34), 25,557,032 (50), 44,549,160 (101),
60,192,808 (152).

Shortcuts are identities, or a 1x1 convolution with batch normalisation ("projection", option
B of the paper) where the shape changes. ``plain=True`` drops every shortcut (and so every
projection): the same stack of convolutions without the additions, the "plain" network of the
paper's Figure 4 that trains worse as it gets deeper.

``stochastic_depth=p`` (Huang et al., 2016) drops, in training, each sample's residual branch
of block ``l`` of ``L`` with rate ``l / L * p`` (a ``_drop`` layer before the addition); 0, the
default, builds the network without it.

``stem="small"`` (chosen automatically up to 64 px) is a 3x3 stride-1 convolution without
pooling, so 28-64 px inputs keep 4x4 to 8x8 maps in conv5_x (28 -> 28 -> 14 -> 7 -> 4).
"""

import keras

from biocnn.layers import BatchNormalization
from biocnn.models import blocks
from biocnn.models.registry import options_of, register

__all__ = ["resnet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "DEPTHS"]

#: depth -> (block kind, blocks per stage conv2_x..conv5_x), the paper's Table 1.
DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
STAGE_FILTERS = (64, 128, 256, 512)
EXPANSION = {"basic": 1, "bottleneck": 4}
STEM_FILTERS = 64
BN_EPSILON = 1e-5  # torchvision's


def _conv_bn(x, rank, filters, kernel_size, strides, name, activation=None):
    """Convolution (no bias) -> BatchNormalization [-> activation]: ``name_conv/_bn/_act``."""
    x = blocks.conv(
        rank, filters, kernel_size, strides=strides, padding="same", use_bias=False,
        name=f"{name}_conv",
    )(x)
    x = BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    if activation is not None:
        x = blocks.activation(activation, f"{name}_act")(x)
    return x


def _block(x, rank, kind, filters, stride, activation, plain, drop_rate, name):
    """A basic or bottleneck block; its output layer is ``name_out``."""
    out_channels = filters * EXPANSION[kind]
    if kind == "basic":
        y = _conv_bn(x, rank, filters, 3, stride, f"{name}_1", activation)
        y = _conv_bn(y, rank, out_channels, 3, 1, f"{name}_2")
    else:
        y = _conv_bn(x, rank, filters, 1, 1, f"{name}_1", activation)
        y = _conv_bn(y, rank, filters, 3, stride, f"{name}_2", activation)
        y = _conv_bn(y, rank, out_channels, 1, 1, f"{name}_3")
    if not plain:
        y = blocks.residual(x, y, stride, lambda: _conv_bn(x, rank, out_channels, 1, stride, f"{name}_0"),
                            f"{name}_add", drop_rate=drop_rate, drop_name=f"{name}_drop")
    return blocks.activation(activation, f"{name}_out")(y)


def resnet(
    input_shape,
    num_classes,
    depth=50,
    plain=False,
    activation="relu",
    dropout=0.0,
    width_multiplier=1.0,
    pooling="avg",
    stem="auto",
    head="softmax",
    stochastic_depth=0.0,
    name="resnet",
):
    """The ResNet builder; :func:`resnet18` ... :func:`resnet152` call it.

    Layers, with ``name`` as prefix (the ``keras.applications`` scheme): the stem
    ``_conv1_conv``, ``_conv1_bn``, ``_conv1_act`` and ``_pool1`` (imagenet stem only); for
    stage ``s`` in 2..5 and block ``b`` from 1: ``_conv{s}_block{b}_{i}_conv/_bn/_act`` for
    the block's convolutions ``i`` = 1, 2 (, 3), the projection ``_conv{s}_block{b}_0_conv/_bn``
    where the shape changes, ``_conv{s}_block{b}_drop`` (with ``stochastic_depth``),
    ``_conv{s}_block{b}_add`` and the block's output
    ``_conv{s}_block{b}_out`` (without ``_0_*`` and ``_add`` when ``plain``); then ``_pool``
    (global), ``_dropout`` (when ``dropout`` > 0), ``_logits`` and ``_probs``. The last
    convolutional feature map is ``_conv5_block{n}_out`` (n = 2, 3, 3, 3, 3 blocks for depth
    18, 34, 50, 101, 152).

    Args:
        input_shape: tuple of int, channels last (rank 1, 2 or 3), e.g. ``(224, 224, 3)``.
        num_classes: int, number of outputs.
        depth: 18, 34, 50, 101 or 152.
        plain: bool, drop every shortcut (the paper's plain baseline of the same depth).
        activation: ``"relu"`` (default), ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"``, ...
            (``"maxout"`` does not apply: it would change the residual shapes).
        dropout: float in [0, 1), dropout before the output layer. Default 0 (the paper's).
        width_multiplier: positive float scaling every convolution's filters.
        pooling: the global pooling before the output layer, ``"avg"`` (default, the paper's)
            or ``"max"``.
        stem: ``"auto"`` (default: ``"small"`` up to 64 px, else ``"imagenet"``),
            ``"imagenet"`` (7x7 stride 2 + 3x3 stride-2 max pool) or ``"small"`` (3x3 stride 1).
        head: ``"softmax"`` (default), ``"sigmoid"``, ``"regression"`` or ``"logits"``/None.
        stochastic_depth: float in [0, 1), the last block's stochastic-depth rate (block
            ``l`` of ``L``: ``l / L * stochastic_depth``, training only). Default 0 (none).
        name: str, the model name and the prefix of every layer name.

    Returns:
        keras.Model: the ResNet.

    Raises:
        ValueError: for an unknown ``depth`` (listing the valid ones), an unsupported
            ``input_shape``, bad ``num_classes``, an unknown or inapplicable ``activation``,
            an unknown ``pooling``/``stem``/``head``, a bad ``dropout``/``width_multiplier``/
            ``stochastic_depth``, or ``stochastic_depth`` with ``plain`` (no branch to drop).

    Example:
        >>> model = resnet((32, 32, 3), 10, depth=18, width_multiplier=0.25)
        >>> print(model.get_layer("resnet_conv5_block2_out").output.shape)
        (None, 4, 4, 128)
    """
    blocks.look_up("depth", depth, DEPTHS, where=name)
    rank, num_classes, activation, dropout, width, head = blocks.check_model_options(
        input_shape, num_classes, activation=activation, dropout=dropout, width_multiplier=width_multiplier,
        pooling=pooling, head=head, where=name, residual=True, stochastic_depth=stochastic_depth)
    if plain and stochastic_depth:
        raise ValueError(f"{name}: stochastic_depth={stochastic_depth!r} drops residual branches, and plain=True "
                         "has none; use stochastic_depth=0 or plain=False.")
    stem = blocks.resolve_stem(stem, input_shape, where=name)
    kind, counts = DEPTHS[depth]
    drop_rates = iter(blocks.stochastic_depth_rates(float(stochastic_depth), sum(counts)))

    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    if stem == "imagenet":
        x = _conv_bn(inputs, rank, blocks.scaled(STEM_FILTERS, width), 7, 2, f"{name}_conv1", activation)
        x = blocks.pool(rank, "max", 3, strides=2, padding="same", name=f"{name}_pool1")(x)
    else:
        x = _conv_bn(inputs, rank, blocks.scaled(STEM_FILTERS, width), 3, 1, f"{name}_conv1", activation)
    for stage, (count, filters) in enumerate(zip(counts, STAGE_FILTERS), start=2):
        for b in range(1, count + 1):
            stride = 2 if (b == 1 and stage > 2) else 1
            x = _block(
                x, rank, kind, blocks.scaled(filters, width), stride, activation, plain, next(drop_rates),
                f"{name}_conv{stage}_block{b}",
            )
    x = blocks.global_pool(rank, pooling, name=f"{name}_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = blocks.output_head(x, num_classes, head, name)
    return keras.Model(inputs, x, name=name)


@register("resnet18")
@options_of(resnet, fixed=("depth",), name="resnet18")
def resnet18(input_shape, num_classes, **options):
    """ResNet-18 (basic blocks 2-2-2-2): :func:`resnet` with ``depth=18``; options as there.

    Example:
        >>> model = resnet18((224, 224, 3), 1000)
        >>> print(sum(int(keras.ops.size(w)) for w in model.trainable_weights))
        11689512
    """
    return resnet(input_shape, num_classes, depth=18, **{"name": "resnet18", **options})


@register("resnet34")
@options_of(resnet, fixed=("depth",), name="resnet34")
def resnet34(input_shape, num_classes, **options):
    """ResNet-34 (basic blocks 3-4-6-3): :func:`resnet` with ``depth=34``; options as there.

    Example:
        >>> print(resnet34((28, 28, 1), 2, width_multiplier=0.125).output_shape)
        (None, 2)
    """
    return resnet(input_shape, num_classes, depth=34, **{"name": "resnet34", **options})


@register("resnet50")
@options_of(resnet, fixed=("depth",), name="resnet50")
def resnet50(input_shape, num_classes, **options):
    """ResNet-50 (bottlenecks 3-4-6-3): :func:`resnet` with ``depth=50``; options as there.

    Example:
        >>> print(resnet50((28, 28, 1), 2, width_multiplier=0.125).output_shape)
        (None, 2)
    """
    return resnet(input_shape, num_classes, depth=50, **{"name": "resnet50", **options})


@register("resnet101")
@options_of(resnet, fixed=("depth",), name="resnet101")
def resnet101(input_shape, num_classes, **options):
    """ResNet-101 (bottlenecks 3-4-23-3): :func:`resnet` with ``depth=101``; options as there.

    Example:
        >>> print(resnet101((28, 28, 1), 2, width_multiplier=0.125).output_shape)
        (None, 2)
    """
    return resnet(input_shape, num_classes, depth=101, **{"name": "resnet101", **options})


@register("resnet152")
@options_of(resnet, fixed=("depth",), name="resnet152")
def resnet152(input_shape, num_classes, **options):
    """ResNet-152 (bottlenecks 3-8-36-3): :func:`resnet` with ``depth=152``; options as there.

    Example:
        >>> print(resnet152((28, 28, 1), 2, width_multiplier=0.125).output_shape)
        (None, 2)
    """
    return resnet(input_shape, num_classes, depth=152, **{"name": "resnet152", **options})
