"""MedicalNet's 3D ResNets (Chen, Ma and Zheng, 2019, "Med3D"), built from biocnn's ResNet, for its weights.

MedicalNet (github.com/Tencent/MedicalNet, ``models/resnet.py``) pre-trained 3D ResNets on 23
segmentation datasets. Its network is torchvision's ResNet in 3D with three differences, which
:func:`medicalnet_resnet` applies to :func:`biocnn.models.resnet` (same layer names, so the
``"medicalnet"`` layout of :func:`~biocnn.transfer.torch_weights.import_torch_weights` fits):

* conv4_x and conv5_x keep the resolution: stride 1 with dilation 2 and 4 in their 3x3x3
  convolutions (output stride 8 instead of 32);
* ResNet-18/34 use the parameter-free shortcut "A" (subsampling, zero channels) where the shape
  changes; ResNet-50 and deeper the 1x1 convolution and batch norm ("B"), as MONAI's
  ``get_medicalnet_pretrained_resnet_args`` also says;
* PyTorch's symmetric padding (:func:`~biocnn.transfer.torch_weights.torch_padding`).

The result is the feature extractor: volumes ``(D, H, W, C)`` -> globally averaged features
(512 for ResNet-18/34, 2048 for ResNet-50); MedicalNet's segmentation head ``conv_seg`` is not
built. MedicalNet's ResNet-10 and -200 have no biocnn depth.
"""

import re

import keras

from biocnn.models.resnet import resnet as zoo_resnet
from biocnn.transfer.layers import ZeroChannelShortcut
from biocnn.transfer.torch_weights import torch_padding
from biocnn.utils import did_you_mean

__all__ = ["MEDICALNET_DEPTHS", "medicalnet_resnet"]

#: depth -> MedicalNet's shortcut type for its published weights.
MEDICALNET_DEPTHS = {18: "A", 34: "A", 50: "B", 101: "B", 152: "B"}
_DILATION = {4: 2, 5: 4}


def medicalnet_resnet(depth=18, input_shape=(None, None, None, 1), shortcut=None, width_multiplier=1.0, name=None):
    """MedicalNet's 3D ResNet as a biocnn feature extractor (random weights; load them with
    ``import_torch_weights(model, "resnet_18_23dataset.pth", layout="medicalnet")``).

    Args:
        depth: 18, 34, 50, 101 or 152.
        input_shape: ``(D, H, W, C)`` volumes (MedicalNet's weights take C = 1).
        shortcut: ``"A"`` or ``"B"``; default MedicalNet's for the depth (:data:`MEDICALNET_DEPTHS`).
        width_multiplier: scales every convolution's filters (for small tests; 1 for the weights).
        name: the model name and layer prefix (default ``medicalnet_resnet{depth}``).

    Returns:
        keras.Model: volumes -> ``(N, features)``.

    Raises:
        ValueError: unknown depth or shortcut.

    Example:
        >>> m = medicalnet_resnet(18, (16, 16, 16, 1), width_multiplier=0.125)
        >>> print(m.output_shape)
        (None, 64)
    """
    if depth not in MEDICALNET_DEPTHS:
        raise ValueError(f"medicalnet_resnet: depth must be one of {', '.join(map(str, MEDICALNET_DEPTHS))}, got {depth!r}.")
    shortcut = shortcut or MEDICALNET_DEPTHS[depth]
    if shortcut not in ("A", "B"):
        raise ValueError(f"medicalnet_resnet: shortcut must be 'A' or 'B', got {shortcut!r}.{did_you_mean(str(shortcut), ('A', 'B'))}")
    name = name or f"medicalnet_resnet{depth}"
    full = zoo_resnet(tuple(input_shape), 1, depth=depth, stem="imagenet", head="logits",
                             width_multiplier=width_multiplier, name=name)
    features = keras.Model(full.inputs[0], full.get_layer(f"{name}_pool").output, name=name)
    block = re.compile(re.escape(name) + r"_conv(\d)_block(\d+)_(\d)_(conv|bn)")

    def clone(layer):
        config = layer.get_config()
        match = block.fullmatch(layer.name)
        if match and match[4] == "conv" and int(match[1]) in _DILATION:
            config["strides"] = (1, 1, 1)
            if tuple(config["kernel_size"]) == (3, 3, 3):
                config["dilation_rate"] = (_DILATION[int(match[1])],) * 3
        return type(layer).from_config(config)

    def call(layer, *args, **kwargs):
        match = block.fullmatch(layer.name)
        if shortcut == "A" and match and match[3] == "0":
            if match[4] == "bn":
                return args[0]
            stride = 2 if int(match[1]) == 3 else 1  # conv3_x halves the resolution; conv4_x and conv5_x dilate
            out = layer.filters
            return ZeroChannelShortcut(out, stride, name=layer.name.replace("_0_conv", "_0_shortcut"))(args[0])
        return layer(*args, **kwargs)

    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    rebuilt = keras.models.clone_model(features, input_tensors=inputs, clone_function=clone, call_function=call)
    return torch_padding(keras.Model(rebuilt.inputs[0], rebuilt.outputs[0], name=name))
