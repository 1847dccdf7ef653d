"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012) for 1D sequences, 2D images and 3D volumes.

The single-tower network with the paper's widths: five convolutions (96, 256, 384, 384, 256
filters; 11/4, 5, 3, 3, 3), ReLU, local response normalisation after the first two, overlapping
3/2 max pooling after the first, second and fifth, then two fully connected layers of 4096 with
dropout 0.5. On a 227x227x3 image with 1000 classes it has 62,378,344 parameters (the paper's
two GPUs split conv2, conv4 and conv5 into two groups, which saves about 1.4 M of them; this
is the ungrouped count quoted as "62.3 M"). The input must be 227, not the paper's stated 224,
for conv1 to give 55x55.

``stem="small"`` (chosen automatically up to 64 px) replaces conv1 by a 5x5 stride-1
convolution and pads the pools, so 28-64 px inputs keep spatial maps to the end (28 -> 14 ->
7 -> 4). It builds for 1D and 3D as well; in 3D the widths make it large, so scale it down
with ``width_multiplier``.
"""

import keras

from biocnn.models import blocks
from biocnn.models.registry import register
from biocnn.models.zoo_layers import LocalResponseNormalization

__all__ = ["alexnet", "IMAGENET_MIN_SIZE"]

# (filters, kernel, stride) of conv1..conv5 and whether a pool follows, as in the paper.
CONVS = ((96, 11, 4), (256, 5, 1), (384, 3, 1), (384, 3, 1), (256, 3, 1))
POOL_AFTER = (1, 2, 5)
LRN_AFTER = (1, 2)
POOL_SIZE, POOL_STRIDE = 3, 2
SMALL_CONV1 = (96, 5, 1)


def _imagenet_output_size(size):
    """Size along one axis after the imagenet stem's conv1 and the three 'valid' 3/2 pools."""
    size = (size - CONVS[0][1]) // CONVS[0][2] + 1
    for _ in POOL_AFTER:
        size = (size - POOL_SIZE) // POOL_STRIDE + 1
        if size < 1:
            return 0
    return size


#: The smallest size along a spatial axis for which the imagenet stem fits (67).
IMAGENET_MIN_SIZE = next(s for s in range(CONVS[0][1], 1000) if _imagenet_output_size(s) >= 1)


@register("alexnet", ranks=(1, 2, 3))
def alexnet(
    input_shape,
    num_classes,
    activation="relu",
    lrn=True,
    dropout=0.5,
    width_multiplier=1.0,
    pooling="max",
    stem="auto",
    fc_units=4096,
    head="softmax",
    name="alexnet",
):
    """AlexNet for any rank.

    Layers, with ``name`` as prefix: ``_input``; for ``i`` in 1..5 ``_conv{i}``,
    ``_conv{i}_act``, then ``_lrn1``/``_lrn2`` (when ``lrn``) and ``_pool1``/``_pool2``/
    ``_pool5``; ``_flatten``; ``_fc6``, ``_fc6_act``, ``_dropout6``, ``_fc7``, ``_fc7_act``,
    ``_dropout7`` (dropouts absent when ``dropout`` is 0); ``_logits`` and ``_probs``. The last
    convolutional feature map is ``_conv5_act``.

    Args:
        input_shape: tuple of int, channels last (rank 1, 2 or 3), e.g. ``(227, 227, 3)``.
        num_classes: int, number of outputs.
        activation: hidden activation, one of ``blocks.HIDDEN_ACTIVATIONS``: ``"relu"``
            (default, the paper's), ``"tanh"`` (for the paper's Figure 1 comparison),
            ``"leaky_relu"``, ``"sigmoid"``, ``"maxout"`` (every convolution and fc layer a
            maxout unit of ``blocks.MAXOUT_PIECES`` pieces).
        lrn: bool, local response normalisation after conv1 and conv2 (``size=5, k=2,
            alpha=1e-4, beta=0.75``). Default True, as in the paper.
        dropout: float in [0, 1), dropout after fc6 and fc7. Default 0.5, as in the paper.
        width_multiplier: positive float scaling every conv's filters and ``fc_units``.
        pooling: ``"max"`` (default) or ``"avg"`` for the three pooling layers.
        stem: ``"auto"`` (default), ``"imagenet"`` (conv1 11x11 stride 4, 'valid' pools; needs
            at least 67 values per axis) or ``"small"`` (conv1 5x5 stride 1, 'same' pools).
        fc_units: int, width of fc6 and fc7 before ``width_multiplier``. Default 4096.
        head: ``"softmax"`` (default), ``"sigmoid"``, ``"regression"`` or ``"logits"``/None.
        name: str, the model name and the prefix of every layer name.

    Returns:
        keras.Model: AlexNet.

    Raises:
        ValueError: for an unsupported ``input_shape``, bad ``num_classes``, an unknown
            ``activation``/``pooling``/``stem``/``head``, a bad ``dropout``,
            ``width_multiplier`` or ``fc_units``, or ``stem="imagenet"`` on a small input.

    Example:
        >>> model = alexnet((28, 28, 1), 2, width_multiplier=0.25)
        >>> print(model.output_shape, model.get_layer("alexnet_pool5").output.shape)
        (None, 2) (None, 4, 4, 64)
    """
    rank, num_classes, activation, dropout, width, head = blocks.check_model_options(
        input_shape, num_classes, activation=activation, dropout=dropout, width_multiplier=width_multiplier,
        pooling=pooling, head=head, where=name, pools=blocks.POOL)
    stem = blocks.resolve_stem(stem, input_shape, where=name, imagenet_min=IMAGENET_MIN_SIZE)
    fc_units = blocks.check_positive_int(fc_units, "fc_units", where=name)

    convs = CONVS if stem == "imagenet" else (SMALL_CONV1,) + CONVS[1:]
    pool_padding = "valid" if stem == "imagenet" else "same"
    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    x = inputs
    for i, (filters, kernel, stride) in enumerate(convs, start=1):
        padding = "valid" if (i == 1 and stem == "imagenet") else "same"
        x = blocks.conv_unit(
            x, rank, blocks.scaled(filters, width), kernel, activation, f"{name}_conv{i}",
            strides=stride, padding=padding,
        )
        if lrn and i in LRN_AFTER:
            x = LocalResponseNormalization(name=f"{name}_lrn{i}")(x)
        if i in POOL_AFTER:
            x = blocks.pool(
                rank, pooling, POOL_SIZE, strides=POOL_STRIDE, padding=pool_padding,
                name=f"{name}_pool{i}",
            )(x)
    x = blocks.dense_classifier(x, (6, 7), blocks.scaled(fc_units, width), activation, dropout,
                                num_classes, head, name)
    return keras.Model(inputs, x, name=name)
