"""2D -> 3D inflation (Carreira and Zisserman, 2017, "I3D"): a 2D network's weights for volumes.

:func:`inflate` rebuilds a 2D functional Keras model layer by layer with the 3D counterpart
of each layer, and fills the 3D weights from the 2D ones:

==========================================  ================================================
2D layer                                    3D layer
==========================================  ================================================
Conv2D (k x k, stride s)                    Conv3D (t x k x k, stride 1 x s x s); kernel
                                            ``"repeat"``: the 2D kernel at every depth / t;
                                            ``"centre"``: the 2D kernel at depth t // 2, zeros
                                            elsewhere; 'valid' convolutions get depth padding
                                            (t // 2 each side) so the depth is kept
DepthwiseConv2D (k x k, stride s)           :class:`~biocnn.transfer.layers.DepthwiseConv3D`
                                            (t x k x k, stride 1 x s x s), filled and padded
                                            as Conv3D; a dilated one: a grouped Conv3D (one
                                            group per channel; the same result, many times
                                            slower on CPU; models saved with it still load)
Max/AveragePooling2D (p, stride s)          Max/AveragePooling3D (1 x p x p, stride 1 x s x s)
GlobalAverage/MaxPooling2D                  GlobalAverage/MaxPooling3D
ZeroPadding2D, Cropping2D, UpSampling2D     their 3D forms, nothing added along depth
Resizing (h, w)                             :class:`~biocnn.data.preprocess.SpatialResize`: each slice
Reshape (1, 1, C) (squeeze-and-excitation)  Reshape (1, 1, 1, C)
anything else (BatchNormalization,          the same layer (channel ``axis`` 3 becomes -1),
activations, Add, Concatenate, Dense,       weights unchanged
StochasticDepth, ...)
SeparableConv2D, Flatten                    NotImplementedError (Flatten would change the
                                            inputs of the Dense layer after it)
==========================================  ================================================

With ``depth_stride=True`` the convolutions and poolings stride the depth as they stride the
height (and poolings pool it). With the centre option and an unstrided depth, a volume that is
constant along depth gives, on every slice, exactly the 2D network's output on one slice.
"""

import warnings

import keras
import numpy as np
from keras import layers

from biocnn.transfer.channels import as_functional
from biocnn.transfer.layers import DepthwiseConv3D
from biocnn.data.preprocess import SpatialResize
from biocnn.utils import did_you_mean

__all__ = ["INFLATE_MODES", "inflate"]

#: How a k x k kernel becomes t x k x k.
INFLATE_MODES = ("repeat", "centre")

_NOT_3D = (layers.SeparableConv2D, layers.Flatten)
_POOLS = {layers.MaxPooling2D: layers.MaxPooling3D, layers.AveragePooling2D: layers.AveragePooling3D}
_GLOBAL = {layers.GlobalAveragePooling2D: layers.GlobalAveragePooling3D,
           layers.GlobalMaxPooling2D: layers.GlobalMaxPooling3D}


def _pair(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def _last_axis(config):
    # 2D configs name the channel axis 3 (keras.applications' bn_axis); in 3D it is 4, i.e. -1.
    axis = config.get("axis")
    if axis == 3:
        config["axis"] = -1
    elif isinstance(axis, (list, tuple)):
        config["axis"] = [-1 if a == 3 else a for a in axis]
    return config


def _layer_3d(layer, depth, depth_stride):
    """The 3D counterpart of one 2D layer (not yet built), or the layer's copy."""
    config = layer.get_config()
    if isinstance(layer, _NOT_3D):
        raise NotImplementedError(
            f"inflate: layer '{layer.name}' ({type(layer).__name__}) has no 3D counterpart here "
            "(Flatten would change the inputs of the Dense layer after it; a separable convolution is not mapped). "
            "Use global pooling instead of Flatten, or a backbone without it."
        )
    if isinstance(layer, layers.DepthwiseConv2D):
        config = _with_depth(config, depth, depth_stride)
        if config["dilation_rate"] != (1, 1, 1):
            return layers.Conv3D.from_config(_as_grouped(config, layer.kernel.shape[2]))
        return DepthwiseConv3D.from_config(config)
    if isinstance(layer, layers.Conv2D):
        return layers.Conv3D.from_config(_with_depth(config, depth, depth_stride))
    if type(layer) in _POOLS:
        pool, strides = _pair(config["pool_size"]), _pair(config["strides"] or config["pool_size"])
        config.update(pool_size=((pool[0] if depth_stride else 1), *pool),
                      strides=((strides[0] if depth_stride else 1), *strides))
        return _POOLS[type(layer)].from_config(config)
    if type(layer) in _GLOBAL:
        return _GLOBAL[type(layer)].from_config(config)
    if isinstance(layer, layers.ZeroPadding2D):
        return layers.ZeroPadding3D(((0, 0), *config["padding"]), name=layer.name)
    if isinstance(layer, layers.Cropping2D):
        return layers.Cropping3D(((0, 0), *config["cropping"]), name=layer.name)
    if isinstance(layer, layers.UpSampling2D):
        return layers.UpSampling3D((1, *_pair(config["size"])), name=layer.name)
    if isinstance(layer, layers.Resizing):
        methods = {"bilinear": "linear", "nearest": "nearest"}
        if config["interpolation"] not in methods:
            raise NotImplementedError(f"inflate: Resizing '{layer.name}' interpolates {config['interpolation']!r}; "
                                      "only bilinear and nearest have a 3D counterpart.")
        return SpatialResize((config["height"], config["width"]), method=methods[config["interpolation"]],
                             name=layer.name)
    if isinstance(layer, layers.Reshape):
        target = tuple(config["target_shape"])
        if len(target) != 3 or target[:2] != (1, 1):
            raise NotImplementedError(f"inflate: Reshape '{layer.name}' to {target} has no 3D counterpart.")
        return layers.Reshape((1, *target), name=layer.name)
    return type(layer).from_config(_last_axis(config))


def _with_depth(config, depth, depth_stride):
    """A 2D convolution's config with the depth axis added to its kernel, strides and dilation."""
    strides = _pair(config["strides"])
    config.update(kernel_size=(depth, *_pair(config["kernel_size"])),
                  strides=((strides[0] if depth_stride else 1), *strides),
                  dilation_rate=(1, *_pair(config["dilation_rate"])))
    return config


def _as_grouped(config, channels):
    """A 3D depthwise config as a Conv3D's with one group per input channel (computes the same)."""
    renamed = {"depthwise_initializer": "kernel_initializer", "depthwise_regularizer": "kernel_regularizer",
               "depthwise_constraint": "kernel_constraint"}
    grouped = {renamed.get(key, key): value for key, value in config.items() if key != "depth_multiplier"}
    return {**grouped, "filters": channels * config["depth_multiplier"], "groups": channels}


def _kernel_3d(kernel, depth, mode):
    if mode == "repeat":
        return np.repeat(kernel[None], depth, axis=0) / depth
    inflated = np.zeros((depth, *kernel.shape), kernel.dtype)
    inflated[depth // 2] = kernel
    return inflated


def _warn_if_depth_collapses(model_3d, input_depth):
    """Warn when a strided depth leaves the network's last feature maps one slice deep."""
    maps = [layer for layer in model_3d.layers if len(layer.output.shape) == 5]
    if maps and maps[-1].output.shape[1] == 1:
        warnings.warn(
            f"inflate: with depth_stride=True the {input_depth} slices shrink to 1 by layer '{maps[-1].name}', "
            "so the top layers see one depth position, fed mostly by the first slices (an inflated ImageNet "
            "EfficientNet-Lite0 gave the same features for every AdrenalMNIST3D volume this way: "
            "pipelines/results/transfer_imagenet/adrenal_features.csv). Keep the depth unstrided, or give deeper volumes.",
            stacklevel=3)


def _kernel_depth(layer, depth, pointwise_depth):
    """The depth of one layer's inflated kernel: ``pointwise_depth`` for a 1 x 1 convolution if given."""
    pointwise = (isinstance(layer, layers.Conv2D) and not isinstance(layer, layers.DepthwiseConv2D)
                 and _pair(layer.kernel_size) == (1, 1))
    return pointwise_depth if pointwise and pointwise_depth is not None else depth


def _check_depth(argument, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1 or value % 2 == 0:
        raise ValueError(f"inflate: {argument} must be an odd positive int (the kernel's centre slice must exist), "
                         f"got {value!r}.")


def inflate(model_2d, depth=3, mode="repeat", depth_stride=False, input_depth=None, name=None, pointwise_depth=None):
    """A 2D functional model and its weights -> the I3D-inflated 3D model.

    See the module docstring for the layer table.

    Args:
        model_2d: a flat functional keras.Model on ``(H, W, C)`` inputs, e.g. a
            :func:`biocnn.transfer.backbone`, a :func:`biocnn.transfer.classifier`,
            ``keras.applications.ResNet50(weights=...)`` or a 2D biocnn zoo model.
        depth: odd int >= 1, the depth ``t`` of every inflated kernel (1 x 1 kernels too, unless
            ``pointwise_depth`` says otherwise).
        mode: ``"repeat"`` (I3D: tile the 2D kernel over t and divide by t) or ``"centre"``
            (the 2D kernel at the centre depth, zeros elsewhere).
        depth_stride: stride (and pool) the depth like the height; default: depth unstrided.
        input_depth: the volumes' depth D, or None for any.
        name: the 3D model's name (default ``{model_2d.name}_3d``).
        pointwise_depth: odd int >= 1, the depth of the 1 x 1 convolutions' kernels (I3D keeps
            them 1 x 1 x 1: ``pointwise_depth=1``; in a MobileNet or EfficientNet they hold most
            of the arithmetic, so this cuts its cost about threefold at ``depth=3``); default:
            ``depth``, like every other convolution.

    Returns:
        keras.Model on ``(D, H, W, C)`` volumes.

    Raises:
        ValueError: a bad ``depth`` or ``mode``, or a model that is not 2D.
        NotImplementedError: a layer without a 3D counterpart (named in the message).

    Example:
        >>> net = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(4, 3, padding="same"),
        ...                         keras.layers.GlobalAveragePooling2D()])
        >>> print(inflate(net, depth=3).output_shape)
        (None, 4)
    """
    if mode not in INFLATE_MODES:
        raise ValueError(f"inflate: unknown mode {mode!r}.{did_you_mean(mode, INFLATE_MODES)} Valid: {', '.join(INFLATE_MODES)}.")
    _check_depth("depth", depth)
    if pointwise_depth is not None:
        _check_depth("pointwise_depth", pointwise_depth)
    model_2d = as_functional(model_2d)
    shape = tuple(model_2d.inputs[0].shape[1:])
    if len(shape) != 3:
        raise ValueError(f"inflate: model_2d must take 2D inputs (H, W, C), got input shape {shape}.")
    inputs = keras.Input((input_depth, *shape), name=model_2d.inputs[0].name)

    def clone(layer):
        if not isinstance(layer, keras.layers.Layer):
            return layer  # an op (e.g. slicing): rank-agnostic
        if isinstance(layer, keras.Model):
            raise NotImplementedError(f"inflate: nested model '{layer.name}'; inflate a flat model.")
        return _layer_3d(layer, _kernel_depth(layer, depth, pointwise_depth), depth_stride)

    def call(layer, *args, **kwargs):
        if (isinstance(layer, (layers.Conv3D, DepthwiseConv3D)) and layer.padding == "valid" and layer.kernel_size[0] > 1
                and not getattr(layer, "_depth_padded", False)):
            half = layer.kernel_size[0] // 2
            pad = layers.ZeroPadding3D(((half, half), (0, 0), (0, 0)), name=f"{layer.name}_depth_pad")
            args = (pad(args[0]),) + args[1:]
        return layer(*args, **kwargs)

    model_3d = keras.models.clone_model(model_2d, input_tensors=inputs, clone_function=clone, call_function=call)
    model_3d = keras.Model(model_3d.inputs[0], model_3d.outputs[0], name=name or f"{model_2d.name}_3d")
    if depth_stride and input_depth and input_depth > 1:
        _warn_if_depth_collapses(model_3d, input_depth)
    for layer in model_2d.layers:
        if not layer.weights:
            continue
        weights = layer.get_weights()
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D)):  # (k, k, C, M) -> (t, k, k, C, M)
            kernel = weights[0]
            if isinstance(layer, layers.DepthwiseConv2D) and not isinstance(model_3d.get_layer(layer.name), DepthwiseConv3D):
                kernel = kernel.reshape(*kernel.shape[:2], 1, -1)  # grouped: (k, k, 1, C * M)
            weights = [_kernel_3d(kernel, model_3d.get_layer(layer.name).kernel_size[0], mode), *weights[1:]]
        model_3d.get_layer(layer.name).set_weights(weights)
    return model_3d
