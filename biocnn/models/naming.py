"""Finding layers by their role, for code that works on any zoo model (transfer, Grad-CAM).

Every zoo model names its layers ``f"{model.name}_..."`` (see each constructor's docstring),
and :func:`last_conv_layer_name` finds the last convolutional feature map by a rule that holds
for all of them: the last layer, in the model's (topological) layer order, whose output still
has spatial axes and which is not a pooling, dropout or padding layer, nor a read-out (a layer
whose name ends in ``_readout``, such as seqnet's 1x1 convolution of its positional bins). That
is the block output
``{name}_conv5_block{n}_out`` of a ResNet (as in keras.applications), ``{name}_final_act`` of a
wide ResNet, ``{name}_block5_conv{n}_act`` of a VGG, ``{name}_conv5_act`` of AlexNet,
``{name}_conv2_act`` of LeNet-5 and of seqnet, and ``{name}_concat`` of Kim's CNN.
"""

import keras

from biocnn.models import blocks

__all__ = ["last_conv_layer_name", "READOUT_SUFFIX"]

#: A layer named ``..._readout`` reads the feature map out (it is not a feature map itself).
READOUT_SUFFIX = "_readout"

_SKIPPED = tuple(
    {cls for table in (blocks.MAX_POOL, blocks.AVG_POOL) for cls in table.values()}
) + (
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
    keras.layers.ZeroPadding1D,
    keras.layers.ZeroPadding2D,
    keras.layers.ZeroPadding3D,
    keras.layers.InputLayer,
)


def last_conv_layer_name(model):
    """The name of the layer that outputs the model's last convolutional feature map.

    Args:
        model: a functional ``keras.Model`` with a fixed-rank input ``(batch, *spatial,
            channels)``, e.g. one from :func:`biocnn.models.create`.

    Returns:
        str: the layer's name, e.g. ``"resnet18_conv5_block2_out"``.

    Raises:
        ValueError: if the model has no layer with a spatial output (an MLP), naming the model.

    Example:
        >>> from biocnn import models
        >>> print(last_conv_layer_name(models.create("lenet5", (28, 28, 1), 10)))
        lenet5_conv2_act
    """
    rank = len(model.inputs[0].shape) - 2
    for layer in reversed(model.layers):
        if isinstance(layer, _SKIPPED) or layer.name.endswith(READOUT_SUFFIX):
            continue
        outputs = keras.tree.flatten(layer.output)
        if len(outputs) == 1 and rank >= 1 and len(outputs[0].shape) == rank + 2:
            return layer.name
    raise ValueError(
        f"last_conv_layer_name: model {model.name!r} has no layer with a spatial output "
        f"(an MLP or another network without convolutions); Grad-CAM and feature maps need "
        f"a convolutional model."
    )
