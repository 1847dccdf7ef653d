"""Layers the transfer backbones put inside the graph: ImageNet preprocessing, a ones channel.

* :class:`ImageNetPreprocessing` applies a keras.applications family's input preprocessing to
  raw intensities, so a saved model takes raw images (0..255, or [0, 1] with ``input_scale=255``).
* :class:`AppendOnes` appends a channel of ones; a channel-adapted first convolution uses it to
  carry the preprocessing's per-channel offsets (see :mod:`biocnn.transfer.channels`).
* :class:`TileChannels` repeats the input channels cyclically (grey -> RGB).

Resizing inside the model is :class:`biocnn.data.preprocess.SpatialResize`, the one resize of the
readers and exports.
* :class:`ZeroChannelShortcut` is the parameter-free residual shortcut of MedicalNet's ResNet-18/34.

All are registered under the package ``biocnn`` and round-trip through ``.keras`` files.
"""

import keras
from keras import ops

from biocnn.utils import did_you_mean

__all__ = ["PREPROCESSING_MODES", "ImageNetPreprocessing", "AppendOnes", "TileChannels", "ZeroChannelShortcut"]

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
