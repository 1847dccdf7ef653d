"""VGG-11, -13, -16 and -19 (Simonyan and Zisserman, 2015, configurations A, B, D, E).

Five stages of 3x3 convolutions ('same', stride 1) with 64, 128, 256, 512, 512 filters, each
stage closed by a 2x2 stride-2 pool, then fully connected layers of 4096, 4096 and the output.
With a 224x224x3 input and 1000 classes VGG-16 has 138,357,544 parameters and VGG-19
143,667,240 (convolutions with bias, as the original). ``batch_norm=True`` inserts
``BatchNormalization`` between each convolution and its activation (keeping the convolution's
bias, as torchvision's ``vgg16_bn``: 138,365,992 trainable parameters).

The pools pad ('same'): on the even sizes of the paper (224 -> 112 -> ... -> 7) this changes
nothing, and small inputs still work (28 -> 14 -> 7 -> 4 -> 2 -> 1). The same code builds 1D
and 3D VGGs (3-wide and 3x3x3 kernels); scale 3D ones down with ``width_multiplier``.
"""

import keras

from biocnn.models import blocks
from biocnn.models.registry import options_of, register

__all__ = ["vgg", "vgg11", "vgg13", "vgg16", "vgg19", "CONFIGS"]

#: depth -> convolutions per stage (the paper's configurations A, B, D, E).
CONFIGS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
FILTERS = (64, 128, 256, 512, 512)
KERNEL_SIZE = 3


def vgg(
    input_shape,
    num_classes,
    depth=16,
    batch_norm=False,
    activation="relu",
    dropout=0.5,
    width_multiplier=1.0,
    pooling="max",
    fc_units=4096,
    head="softmax",
    name="vgg",
):
    """The VGG builder; :func:`vgg11`, :func:`vgg13`, :func:`vgg16`, :func:`vgg19` call it.

    Layers, with ``name`` as prefix (as in ``keras.applications``): for stage ``s`` in 1..5
    and convolution ``i``: ``_block{s}_conv{i}``, ``_block{s}_conv{i}_bn`` (when
    ``batch_norm``), ``_block{s}_conv{i}_act``; ``_block{s}_pool``; then ``_flatten``,
    ``_fc1``, ``_fc1_act``, ``_dropout1``, ``_fc2``, ``_fc2_act``, ``_dropout2``, ``_logits``
    and ``_probs``. The last convolutional feature map is ``_block5_conv{n}_act``.

    Args:
        input_shape: tuple of int, channels last (rank 1, 2 or 3), e.g. ``(224, 224, 3)``.
        num_classes: int, number of outputs.
        depth: 11, 13, 16 or 19 (weight layers).
        batch_norm: bool, batch normalisation after every convolution. Default False.
        activation: hidden activation, one of ``blocks.HIDDEN_ACTIVATIONS`` (``"maxout"``
            makes every convolution and fc layer a maxout unit).
        dropout: float in [0, 1), dropout after fc1 and fc2. Default 0.5 (the paper's).
        width_multiplier: positive float scaling every conv's filters and ``fc_units``.
        pooling: ``"max"`` (default) or ``"avg"`` for the five pooling layers.
        fc_units: int, width of fc1 and fc2 before ``width_multiplier``. Default 4096.
        head: ``"softmax"`` (default), ``"sigmoid"``, ``"regression"`` or ``"logits"``/None.
        name: str, the model name and the prefix of every layer name.

    Returns:
        keras.Model: the VGG network.

    Raises:
        ValueError: for an unknown ``depth`` (listing 11, 13, 16, 19), an unsupported
            ``input_shape``, bad ``num_classes``, an unknown ``activation``/``pooling``/
            ``head``, or a bad ``dropout``/``width_multiplier``/``fc_units``.

    Example:
        >>> model = vgg((32, 32, 3), 10, depth=11, width_multiplier=0.125, fc_units=512)
        >>> print(model.output_shape, model.get_layer("vgg_block5_pool").output.shape)
        (None, 10) (None, 1, 1, 64)
    """
    blocks.look_up("depth", depth, CONFIGS, where=name)
    rank, num_classes, activation, dropout, width, head = blocks.check_model_options(
        input_shape, num_classes, activation=activation, dropout=dropout, width_multiplier=width_multiplier,
        pooling=pooling, head=head, where=name, pools=blocks.POOL)
    fc_units = blocks.check_positive_int(fc_units, "fc_units", where=name)

    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    x = inputs
    for stage, (convs, filters) in enumerate(zip(CONFIGS[depth], FILTERS), start=1):
        for i in range(1, convs + 1):
            x = blocks.conv_unit(
                x, rank, blocks.scaled(filters, width), KERNEL_SIZE, activation,
                f"{name}_block{stage}_conv{i}", batch_norm=batch_norm, padding="same",
            )
        x = blocks.pool(rank, pooling, 2, padding="same", name=f"{name}_block{stage}_pool")(x)
    x = blocks.dense_classifier(x, (1, 2), blocks.scaled(fc_units, width), activation, dropout,
                                num_classes, head, name)
    return keras.Model(inputs, x, name=name)


@register("vgg11")
@options_of(vgg, fixed=("depth",), name="vgg11")
def vgg11(input_shape, num_classes, **options):
    """VGG-11 (configuration A): :func:`vgg` with ``depth=11``; options as :func:`vgg`.

    Example:
        >>> print(vgg11((32, 32, 3), 10, width_multiplier=0.125).count_params() > 0)
        True
    """
    return vgg(input_shape, num_classes, depth=11, **{"name": "vgg11", **options})


@register("vgg13")
@options_of(vgg, fixed=("depth",), name="vgg13")
def vgg13(input_shape, num_classes, **options):
    """VGG-13 (configuration B): :func:`vgg` with ``depth=13``; options as :func:`vgg`.

    Example:
        >>> print(vgg13((32, 32, 3), 10, width_multiplier=0.125).output_shape)
        (None, 10)
    """
    return vgg(input_shape, num_classes, depth=13, **{"name": "vgg13", **options})


@register("vgg16")
@options_of(vgg, fixed=("depth",), name="vgg16")
def vgg16(input_shape, num_classes, **options):
    """VGG-16 (configuration D): :func:`vgg` with ``depth=16``; options as :func:`vgg`.

    138,357,544 parameters at 224x224x3 with 1000 classes.

    Example:
        >>> print(vgg16((32, 32, 3), 10, width_multiplier=0.125).output_shape)
        (None, 10)
    """
    return vgg(input_shape, num_classes, depth=16, **{"name": "vgg16", **options})


@register("vgg19")
@options_of(vgg, fixed=("depth",), name="vgg19")
def vgg19(input_shape, num_classes, **options):
    """VGG-19 (configuration E): :func:`vgg` with ``depth=19``; options as :func:`vgg`.

    Example:
        >>> print(vgg19((32, 32, 3), 10, width_multiplier=0.125).output_shape)
        (None, 10)
    """
    return vgg(input_shape, num_classes, depth=19, **{"name": "vgg19", **options})
