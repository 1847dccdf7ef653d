"""EfficientNet-Lite0/1/2 (Tan and Le, 2019; the "Lite" variants of the TensorFlow TPU repository).

The reference architecture of ``efficientnet_lite_builder.py``, layer for layer, so that the
published ImageNet weights (see :mod:`biocnn.transfer.imagenet`) give the published network:

* a 3x3 stride-2 stem of 32 filters and a 1x1 head of 1280 filters, **not** scaled with the
  width (``fix_head_stem``), and the first and last stages' repeats not scaled with the depth;
* 7 stages of mobile inverted bottlenecks (MBConv): optional 1x1 expansion, depthwise k x k,
  1x1 projection, residual addition when the stride is 1 and the channels are kept;
  **no squeeze-and-excitation**, ReLU6 everywhere, TensorFlow ``"same"`` padding, batch
  normalisation with epsilon 1e-3 and momentum 0.99;
* filters rounded to multiples of 8 (``round_filters``), repeats rounded up (``round_repeats``);
* global average pooling, dropout, a 1000-way Dense layer.

* stochastic depth on the residual blocks (the reference's ``drop_connect``, ``survival_prob``
  0.8, i.e. ``drop_connect_rate`` 0.2): block ``i`` of all ``n`` blocks (0-based, repeats
  counted) drops its branch with rate ``drop_connect_rate * i / n`` in training, before the
  addition, a :class:`~biocnn.models.zoo_layers.StochasticDepth` layer; at inference, and in a
  frozen backbone, it is the identity, so the outputs do not depend on it.

Inputs are expected as ``(x - 127) / 128`` of 0..255 RGB (``ImageNetPreprocessing("lite")``);
:func:`efficientnet_lite` itself takes the network's input.

Layer names, with ``name`` as prefix: ``_stem_conv/_stem_bn/_stem_act``; for stage ``s`` (1..7)
and block letter ``l`` (a, b, ...): ``_block{s}{l}_expand_conv/_expand_bn/_expand_act`` (not in
stage 1, whose expansion ratio is 1), ``_block{s}{l}_dwconv/_dwconv_bn/_dwconv_act``,
``_block{s}{l}_project_conv/_project_bn``, ``_block{s}{l}_drop`` (stochastic depth) and
``_block{s}{l}_add`` (when residual; no ``_drop`` with rate 0);
``_top_conv/_top_bn/_top_act``; then ``_pool``, ``_dropout``, ``_logits``, ``_probs`` (with the top).
"""

import dataclasses
import math
import string

import keras
from keras import layers

from biocnn.layers import BatchNormalization
from biocnn.models import blocks as zoo
from biocnn.models.zoo_layers import StochasticDepth

__all__ = ["DROP_CONNECT_RATE", "LITE_VARIANTS", "STAGES", "LiteVariant", "efficientnet_lite", "lite_variant", "round_filters", "round_repeats"]


@dataclasses.dataclass(frozen=True)
class LiteVariant:
    """The coefficients of one EfficientNet-Lite network (``efficientnet_lite_params``)."""

    width: float
    depth: float
    resolution: int
    dropout: float


#: name -> coefficients, as the reference's ``efficientnet_lite_params``.
LITE_VARIANTS = {
    "efficientnet_lite0": LiteVariant(1.0, 1.0, 224, 0.2),
    "efficientnet_lite1": LiteVariant(1.0, 1.1, 240, 0.2),
    "efficientnet_lite2": LiteVariant(1.1, 1.2, 260, 0.3),
}

#: The stages of EfficientNet-B0 (the reference's ``blocks_args``):
#: (repeats, kernel, stride, expansion ratio, input filters, output filters).
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_FILTERS = 32
TOP_FILTERS = 1280
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
#: The reference's ``survival_prob`` 0.8 (``efficientnet_lite_builder.efficientnet_lite``) as a drop rate.
DROP_CONNECT_RATE = 0.2
_DIVISOR = 8


def round_filters(filters, width):
    """The reference's ``round_filters``: ``filters * width`` to a multiple of 8, at most 10 % less.

    Example:
        >>> print(round_filters(112, 1.1), round_filters(40, 1.1))
        120 48
    """
    scaled = filters * width
    rounded = max(_DIVISOR, int(scaled + _DIVISOR / 2) // _DIVISOR * _DIVISOR)
    if rounded < 0.9 * scaled:
        rounded += _DIVISOR
    return int(rounded)


def round_repeats(repeats, depth):
    """The reference's ``round_repeats``: ``ceil(repeats * depth)``.

    Example:
        >>> print(round_repeats(4, 1.2))
        5
    """
    return int(math.ceil(depth * repeats))


def lite_variant(name):
    """The :class:`LiteVariant` of ``"efficientnet_lite0"`` ... (``-`` or ``_``, any case).

    Raises:
        ValueError: unknown name, listing the valid ones.

    Example:
        >>> print(lite_variant("EfficientNet-Lite2").resolution)
        260
    """
    key = str(name).lower().replace("-", "_")
    if key.replace("_", "") in {k.replace("_", "") for k in LITE_VARIANTS}:
        key = next(k for k in LITE_VARIANTS if k.replace("_", "") == key.replace("_", ""))
    return LITE_VARIANTS[zoo.look_up("variant", key, LITE_VARIANTS, where="efficientnet_lite")]


def _conv_bn(x, filters, kernel, strides, name, act=True, depthwise=False):
    """Convolution (no bias) -> batch norm [-> ReLU6]: ``name_conv`` (depthwise: ``name``), ``name_bn``, ``name_act``."""
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, strides, padding="same", use_bias=False, name=name)(x)
    else:
        x = layers.Conv2D(filters, kernel, strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    if act:
        x = layers.ReLU(6.0, name=f"{name}_act")(x)
    return x


def _mbconv(x, kernel, stride, expansion, filters_out, drop_rate, name):
    """One mobile inverted bottleneck without squeeze-and-excitation."""
    filters_in = x.shape[-1]
    y = x
    if expansion != 1:
        y = _conv_bn(y, filters_in * expansion, 1, 1, f"{name}_expand")
    y = _conv_bn(y, None, kernel, stride, f"{name}_dwconv", depthwise=True)
    y = _conv_bn(y, filters_out, 1, 1, f"{name}_project", act=False)
    if stride == 1 and filters_in == filters_out:
        if drop_rate:
            y = StochasticDepth(drop_rate, name=f"{name}_drop")(y)
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def efficientnet_lite(variant="efficientnet_lite0", input_shape=None, include_top=False, pooling="avg",
                      num_classes=1000, dropout=None, drop_connect_rate=DROP_CONNECT_RATE, name=None):
    """An EfficientNet-Lite network (random weights; see :mod:`biocnn.transfer.imagenet` for ImageNet).

    Args:
        variant: ``"efficientnet_lite0"``, ``"efficientnet_lite1"`` or ``"efficientnet_lite2"``.
        input_shape: ``(H, W, C)``; default the variant's resolution with 3 channels. Any size
            of at least 32 works (the network reduces by 32).
        include_top: add pooling, dropout and the ``num_classes`` softmax classifier.
        pooling: without the top, ``"avg"``, ``"max"`` or None (the last feature map).
        num_classes: outputs of the top (1000 for ImageNet).
        dropout: dropout before the top's Dense layer (default: the variant's, 0.2 or 0.3).
        drop_connect_rate: float in [0, 1), the stochastic depth of the last block (default
            0.2, the reference's); block ``i`` of ``n`` gets ``drop_connect_rate * i / n``, on
            the residual blocks only. 0 adds no stochastic depth layers. Training only.
        name: the model's name and its layers' prefix (default ``variant``).

    Returns:
        keras.Model: ``(N, H, W, C)`` -> features ``(N, 1280)``, a feature map, or probabilities.

    Raises:
        ValueError: unknown variant or pooling, a bad ``input_shape`` or ``drop_connect_rate``.

    Example:
        >>> m = efficientnet_lite("efficientnet_lite0", (64, 64, 3))
        >>> print(m.output_shape, m.count_params())
        (None, 1280) 3413024
    """
    coefficients = lite_variant(variant)
    key = next(k for k, v in LITE_VARIANTS.items() if v == coefficients)
    name = name or key
    if input_shape is None:
        input_shape = (coefficients.resolution, coefficients.resolution, 3)
    if zoo.rank_of(input_shape, ranks=(2,), where=name) != 2:
        raise ValueError(f"{name}: input_shape must be (height, width, channels), got {input_shape!r}.")
    if not include_top:
        zoo.look_up("pooling", pooling, ("avg", "max", None), where=name)
    drop_connect_rate = zoo.check_rate(drop_connect_rate, "drop_connect_rate", where=name)
    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    x = _conv_bn(inputs, STEM_FILTERS, 3, 2, f"{name}_stem")
    last = len(STAGES) - 1
    repeats = [r if i in (0, last) else round_repeats(r, coefficients.depth)  # fix_head_stem: first, last kept
               for i, (r, *_) in enumerate(STAGES)]
    block, total = 0, sum(repeats)
    for index, ((_, kernel, stride, expansion, _, filters_out), count) in enumerate(zip(STAGES, repeats)):
        filters_out = round_filters(filters_out, coefficients.width)
        for r in range(count):
            x = _mbconv(x, kernel, stride if r == 0 else 1, expansion, filters_out,
                        drop_connect_rate * float(block) / total,  # the reference's per-block rate
                        f"{name}_block{index + 1}{string.ascii_lowercase[r]}")
            block += 1
    x = _conv_bn(x, TOP_FILTERS, 1, 1, f"{name}_top")
    if include_top:
        x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
        rate = coefficients.dropout if dropout is None else float(dropout)
        if rate:
            x = layers.Dropout(rate, name=f"{name}_dropout")(x)
        x = zoo.output_head(x, int(num_classes), "softmax", name)
    elif pooling is not None:
        x = zoo.global_pool(2, pooling, name=f"{name}_pool")(x)
    return keras.Model(inputs, x, name=name)
