"""Layers the transfer backbones put inside the graph: ImageNet preprocessing, a ones channel.

* :class:`ImageNetPreprocessing` applies a keras.applications family's input preprocessing to
  raw intensities, so a saved model takes raw images (0..255, or [0, 1] with ``input_scale=255``).
* :class:`AppendOnes` appends a channel of ones; a channel-adapted first convolution uses it to
  carry the preprocessing's per-channel offsets (see :mod:`biocnn.transfer.channels`).
* :class:`TileChannels` repeats the input channels cyclically (grey -> RGB).

Resizing inside the model is :class:`biocnn.data.preprocess.SpatialResize`, the one resize of the
readers and exports.
* :class:`ZeroChannelShortcut` is the parameter-free residual shortcut of MedicalNet's ResNet-18/34.
* :class:`DepthwiseConv3D`: ``keras.layers.DepthwiseConv2D`` in 3D (Keras has none), which
  :func:`~biocnn.transfer.inflate` makes of a depthwise convolution.

All are registered under the package ``biocnn`` and round-trip through ``.keras`` files.
"""

import numbers

import keras
from keras import ops

from biocnn.utils import did_you_mean

__all__ = ["PREPROCESSING_MODES", "ImageNetPreprocessing", "AppendOnes", "TileChannels", "ZeroChannelShortcut",
           "DepthwiseConv3D"]

_MEAN = (0.485, 0.456, 0.406)  # ImageNet RGB mean and standard deviation on [0, 1]
_STD = (0.229, 0.224, 0.225)
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)

#: mode -> what the network sees, from RGB intensities ``x`` in 0..255:
PREPROCESSING_MODES = {
    "caffe": "BGR channel order, minus the ImageNet BGR means (VGG, ResNet v1)",
    "torch": "x / 255, minus the ImageNet RGB mean, divided by its standard deviation (DenseNet, ConvNeXt, EfficientNetV2-B*)",
    "tf": "x / 127.5 - 1, in [-1, 1] (ResNet v2, MobileNetV2/V3)",
    "tf128": "x / 128 - 1 (EfficientNetV2-S)",
    "lite": "(x - 127) / 128 (EfficientNet-Lite)",
    "none": "x unchanged (the network has its own preprocessing layers, or the caller preprocesses)",
}


@keras.saving.register_keras_serializable(package="biocnn")
class ImageNetPreprocessing(keras.layers.Layer):
    """A keras.applications family's preprocessing, inside the model.

    The input is first multiplied by ``input_scale`` (1 for raw 8-bit intensities 0..255; 255
    for images already scaled to [0, 1]), then transformed as :data:`PREPROCESSING_MODES` says.
    ``"caffe"`` and ``"torch"`` are per RGB channel and need 3 channels; ``"tf"``, ``"tf128"``,
    ``"lite"`` and ``"none"`` take any number.

    Args:
        mode: one of :data:`PREPROCESSING_MODES`.
        input_scale: positive float, multiplies the input first.
        **kwargs: base layer arguments (``name``, ``dtype``).

    Raises:
        ValueError: unknown mode (did-you-mean), a non-positive ``input_scale``, or a
            per-channel mode on an input without 3 channels.

    Example:
        >>> import numpy as np
        >>> y = ImageNetPreprocessing("tf")(np.full((1, 2, 2, 3), 255.0, "float32"))
        >>> print(y.shape, float(y[0, 0, 0, 0]))
        (1, 2, 2, 3) 1.0
    """

    def __init__(self, mode="caffe", input_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ValueError(
                f"ImageNetPreprocessing: unknown mode {mode!r}.{did_you_mean(mode, PREPROCESSING_MODES)} "
                f"Valid modes: {', '.join(PREPROCESSING_MODES)}."
            )
        if not float(input_scale) > 0:
            raise ValueError(f"ImageNetPreprocessing: input_scale must be positive, got {input_scale!r}.")
        self.mode = mode
        self.input_scale = float(input_scale)

    def build(self, input_shape):
        if self.mode in ("caffe", "torch") and input_shape[-1] != 3:
            raise ValueError(
                f"ImageNetPreprocessing: mode {self.mode!r} works per RGB channel and needs 3 input "
                f"channels, got input shape {tuple(input_shape)}."
            )

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype) * self.input_scale
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor(_CAFFE_BGR_MEAN, self.compute_dtype)
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_MEAN, self.compute_dtype)
            std = ops.convert_to_tensor(_STD, self.compute_dtype)
            return (x / 255.0 - mean) / std
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "tf128":
            return x / 128.0 - 1.0
        if self.mode == "lite":
            return (x - 127.0) / 128.0
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "input_scale": self.input_scale}


@keras.saving.register_keras_serializable(package="biocnn")
class AppendOnes(keras.layers.Layer):
    """Append one channel of ones to a channels-last input (any rank).

    After zero padding this channel is 1 inside the image and 0 in the padding, so a
    convolution's kernel on it adds a constant offset exactly where the image is.

    Example:
        >>> import numpy as np
        >>> print(AppendOnes()(np.zeros((1, 4, 4, 2), "float32")).shape)
        (1, 4, 4, 3)
    """

    def call(self, inputs):
        return ops.concatenate([inputs, ops.ones_like(inputs[..., :1])], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[-1] is None else input_shape[-1] + 1
        return tuple(input_shape[:-1]) + (channels,)


@keras.saving.register_keras_serializable(package="biocnn")
class TileChannels(keras.layers.Layer):
    """Repeat the input channels cyclically to ``channels``: output channel ``c`` is input ``c % C``.

    Args:
        channels: positive int, the number of output channels (3: grey -> RGB).

    Example:
        >>> import numpy as np
        >>> y = TileChannels(3)(np.arange(2, dtype="float32").reshape(1, 1, 1, 2))
        >>> print(np.asarray(y).ravel())
        [0. 1. 0.]
    """

    def __init__(self, channels=3, **kwargs):
        super().__init__(**kwargs)
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"TileChannels: channels must be a positive int, got {channels!r}.")
        self.channels = channels

    def call(self, inputs):
        source = inputs.shape[-1]
        return ops.take(inputs, [c % source for c in range(self.channels)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.channels,)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package="biocnn")
class ZeroChannelShortcut(keras.layers.Layer):
    """A parameter-free residual shortcut: every ``strides``-th position, zero channels appended.

    The "option A" shortcut of He et al. (2016) as MedicalNet's 3D ResNet-18/34 implement it
    (``avg_pool(kernel 1, stride s)`` then zeros up to ``filters`` channels), for any rank.

    Args:
        filters: the output channels (at least the input's).
        strides: positive int, the subsampling along every spatial axis.

    Example:
        >>> import numpy as np
        >>> print(ZeroChannelShortcut(6, 2)(np.ones((1, 5, 5, 5, 4), "float32")).shape)
        (1, 3, 3, 3, 6)
    """

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides = int(filters), int(strides)
        if self.strides < 1:
            raise ValueError(f"ZeroChannelShortcut: strides must be a positive int, got {strides!r}.")

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] > self.filters:
            raise ValueError(f"ZeroChannelShortcut: {input_shape[-1]} input channels, more than filters={self.filters}.")

    def call(self, inputs):
        rank = len(inputs.shape) - 2
        x = inputs[(slice(None),) + (slice(None, None, self.strides),) * rank] if self.strides > 1 else inputs
        return ops.pad(x, [[0, 0]] * (rank + 1) + [[0, self.filters - inputs.shape[-1]]])

    def compute_output_shape(self, input_shape):
        spatial = [None if s is None else -(-s // self.strides) for s in input_shape[1:-1]]
        return (input_shape[0], *spatial, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


def _triple(owner, argument, value):
    """An int or 3 ints -> a tuple of 3 positive ints, or one clear ValueError."""
    values = (value,) * 3 if isinstance(value, numbers.Integral) else tuple(value) if isinstance(value, (list, tuple)) else ()
    if len(values) != 3 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in values):
        raise ValueError(f"{owner}: {argument} must be a positive int or 3 positive ints (depth, height, width), got {value!r}.")
    return tuple(int(v) for v in values)


def _output_length(length, kernel, stride, padding):
    """TensorFlow's output length of one axis (None stays None); ``length`` may be a tensor."""
    if length is None:
        return None
    return (length + stride - 1) // stride if padding == "same" else (length - kernel) // stride + 1


@keras.saving.register_keras_serializable(package="biocnn")
class DepthwiseConv3D(keras.layers.Layer):
    """``keras.layers.DepthwiseConv2D`` for volumes: each channel convolved with its own ``depth_multiplier`` kernels.

    The same arguments and results as a grouped ``keras.layers.Conv3D(filters=C * M, groups=C)``
    with the kernel reshaped to ``(t, kh, kw, 1, C * M)``, but computed as ``t`` 2D depthwise
    convolutions (``keras.ops.depthwise_conv``) on the volume's depth slices, one per depth tap,
    summed along depth: TensorFlow's CPU grouped 3D convolution is 18-37 times slower for the
    forward and backward pass of a MobileNet-like layer. Output channel ``c * M + m`` is input
    channel ``c``'s ``m``-th kernel, as in ``DepthwiseConv2D``; ``"same"`` padding is
    TensorFlow's on every axis (``total = max((out - 1) * s + k - n, 0)``, ``total // 2`` before).

    Args:
        kernel_size: int or 3 ints ``(t, kh, kw)``.
        strides: int or 3 ints; the height and width strides must be equal (as for
            ``DepthwiseConv2D`` on TensorFlow).
        padding: ``"valid"`` or ``"same"``.
        depth_multiplier: positive int ``M``, output channels per input channel.
        data_format: ``"channels_last"`` or None (the Keras default, which must be channels last).
        dilation_rate: 1 (only).
        activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
        bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint: as for
            ``keras.layers.DepthwiseConv2D``; the kernel has shape ``(t, kh, kw, C, M)``.
        **kwargs: base layer arguments (``name``, ``dtype``, ``trainable``).

    Returns:
        on ``(batch, D, H, W, C)`` inputs, ``(batch, D', H', W', C * M)``.

    Raises:
        ValueError: a bad kernel size, stride, padding or depth multiplier, channels-first data,
            a dilation other than 1, or an input that is not 5D with a known channel count.

    Example:
        >>> import numpy as np
        >>> layer = DepthwiseConv3D(3, strides=(1, 2, 2), padding="same", depth_multiplier=2)
        >>> print(layer(np.ones((1, 5, 8, 8, 3), "float32")).shape)
        (1, 5, 4, 4, 6)
    """

    def __init__(self, kernel_size, strides=(1, 1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        owner = f"DepthwiseConv3D '{self.name}'"
        self.kernel_size = _triple(owner, "kernel_size", kernel_size)
        self.strides = _triple(owner, "strides", strides)
        if self.strides[1] != self.strides[2]:
            raise ValueError(f"{owner}: the height and width strides must be equal (as for DepthwiseConv2D), "
                             f"got strides={strides!r}.")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in ("valid", "same"):
            raise ValueError(f"{owner}: padding must be 'valid' or 'same', got {padding!r}.")
        self.padding = padding
        if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, numbers.Integral) or depth_multiplier < 1:
            raise ValueError(f"{owner}: depth_multiplier must be a positive int, got {depth_multiplier!r}.")
        self.depth_multiplier = int(depth_multiplier)
        data_format = data_format or keras.config.image_data_format()
        if data_format != "channels_last":
            raise ValueError(f"{owner}: takes channels-last volumes (batch, depth, height, width, channels) only, got "
                             f"data_format={data_format!r}; move the channel axis last (keras.ops.moveaxis(x, 1, -1)).")
        self.data_format = data_format
        if _triple(owner, "dilation_rate", dilation_rate) != (1, 1, 1):
            raise ValueError(f"{owner}: only dilation_rate 1 is implemented, got {dilation_rate!r}; use a grouped "
                             "keras.layers.Conv3D(groups=channels) for a dilated depthwise convolution.")
        self.dilation_rate = (1, 1, 1)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = keras.initializers.get(depthwise_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.depthwise_regularizer = keras.regularizers.get(depthwise_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.depthwise_constraint = keras.constraints.get(depthwise_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_spec = keras.InputSpec(ndim=5)

    def build(self, input_shape):
        channels = input_shape[-1]
        if len(input_shape) != 5 or channels is None:
            raise ValueError(f"DepthwiseConv3D '{self.name}': needs (batch, depth, height, width, channels) inputs with a "
                             f"known channel count, got input shape {tuple(input_shape)}.")
        self.input_spec = keras.InputSpec(ndim=5, axes={-1: channels})
        self.kernel = self.add_weight(name="kernel", shape=(*self.kernel_size, channels, self.depth_multiplier),
                                      initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(channels * self.depth_multiplier,),
                                        initializer=self.bias_initializer, regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def _depth_padding(self, depth):
        """(output depth, zeros before, zeros after) along depth; ints, or tensors for an unknown depth."""
        taps, stride = self.kernel_size[0], self.strides[0]
        out = _output_length(depth, taps, stride, self.padding)
        if self.padding == "valid":
            return out, 0, 0
        total = (out - 1) * stride + taps - depth
        total = max(total, 0) if isinstance(total, int) else ops.maximum(total, 0)
        return out, total // 2, total - total // 2

    def call(self, inputs):
        shape = ops.shape(inputs)
        out_depth, before, after = self._depth_padding(shape[1])
        x = inputs
        if not (isinstance(before, int) and before == after == 0):
            x = ops.pad(inputs, ((0, 0), (before, after), (0, 0), (0, 0), (0, 0)))
        stride, span = self.strides[0], (out_depth - 1) * self.strides[0] + 1
        # Tap j of output depth i reads padded depth i * stride + j: one 2D depthwise convolution of
        # those slices (depth folded into the batch) per tap, summed.
        outputs = None
        for tap in range(self.kernel_size[0]):
            slices = ops.reshape(x[:, tap:tap + span:stride], (-1, *shape[2:]))
            y = ops.depthwise_conv(slices, self.kernel[tap], strides=self.strides[1:], padding=self.padding)
            outputs = y if outputs is None else outputs + y
        flat = ops.shape(outputs)
        outputs = ops.reshape(outputs, (-1, out_depth, *flat[1:]))
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        spatial = [_output_length(n, k, s, self.padding)
                   for n, k, s in zip(input_shape[1:4], self.kernel_size, self.strides)]
        if any(n is not None and n < 1 for n in spatial):
            raise ValueError(f"DepthwiseConv3D '{self.name}': input shape {tuple(input_shape)} is smaller than the kernel "
                             f"{self.kernel_size} with padding 'valid'; use padding='same' or larger inputs.")
        return (input_shape[0], *spatial, input_shape[-1] * self.depth_multiplier)

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "depth_multiplier": self.depth_multiplier, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias, "depthwise_initializer": serialize(self.depthwise_initializer),
                "bias_initializer": serialize(self.bias_initializer),
                "depthwise_regularizer": serialize(self.depthwise_regularizer),
                "bias_regularizer": serialize(self.bias_regularizer),
                "activity_regularizer": serialize(self.activity_regularizer),
                "depthwise_constraint": serialize(self.depthwise_constraint),
                "bias_constraint": serialize(self.bias_constraint)}
