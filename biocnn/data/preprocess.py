"""Preprocessing for images and volumes, channels last, one implementation for every rank.

Two kinds of step, kept apart on purpose:

- **Per file, in NumPy** (before batching, so every sample has one shape):
  :func:`select_channels` and :func:`resize` (linear or nearest, separable over any number of
  spatial axes; the same sampling grid as ``tf.image.resize`` with half-pixel centres).
- **Inside the model, as Keras layers** (so a saved model takes raw intensities and nobody
  has to repeat the preprocessing at inference): :class:`PercentileClip`, per-image
  percentile clipping for 16-bit microscopy, and a per-channel ``keras.layers.Normalization``
  whose mean and variance come from the training split only. :func:`fit_preprocessing`
  builds and fits both; :func:`with_preprocessing` puts them in front of a network.

:func:`percentile_clip` is the NumPy twin of :class:`PercentileClip`, for data outside a model.
"""

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "PercentileClip",
    "fit_preprocessing",
    "percentile_clip",
    "resize",
    "select_channels",
    "with_preprocessing",
]

_METHODS = ("linear", "nearest")


def select_channels(image, channels, where="image"):
    """Keep the channels ``channels`` (in that order) of a channels-last array.

    Args:
        image: array ``(..., C)``, any rank.
        channels: a sequence of non-negative channel indices.
        where: how the error message names the array (e.g. a file name).

    Returns:
        array ``(..., len(channels))``.

    Raises:
        ValueError: an empty selection, a repeated, negative or non-integer index, or an index
            the image does not have.

    Example:
        >>> print(select_channels(np.zeros((8, 8, 4)), [2, 0]).shape)
        (8, 8, 2)
    """
    channels = list(channels)
    if not channels or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in channels):
        raise ValueError(f"channels must be a non-empty list of channel indices, got {channels!r}.")
    if min(channels) < 0 or len(set(channels)) != len(channels):
        raise ValueError(f"channels must be distinct non-negative indices, got {channels!r}.")
    available = np.shape(image)[-1]
    if max(channels) >= available:
        raise ValueError(
            f"{where} has {available} channel(s) (indices 0..{available - 1}), but channels "
            f"{channels} were asked for. Choose indices below {available}."
        )
    return np.asarray(image)[..., channels]


def _axis_positions(size_in, size_out, method):
    """Source coordinates of each output sample along one axis (half-pixel centres)."""
    scale = size_in / size_out
    centres = (np.arange(size_out) + 0.5) * scale
    if method == "nearest":
        return np.minimum(np.floor(centres).astype(np.int64), size_in - 1)
    return np.clip(centres - 0.5, 0.0, size_in - 1)


def _resize_axis(array, axis, size_out, method):
    size_in = array.shape[axis]
    positions = _axis_positions(size_in, size_out, method)
    if method == "nearest":
        return np.take(array, positions, axis=axis)
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, size_in - 1)
    weight_shape = [1] * array.ndim
    weight_shape[axis] = size_out
    weight = (positions - low).astype(np.float32).reshape(weight_shape)
    return np.take(array, low, axis=axis) * (1.0 - weight) + np.take(array, high, axis=axis) * weight


def resize(image, shape, method="linear"):
    """Resize the spatial axes of one channels-last image or volume to ``shape``.

    Interpolation is separable: one axis after another, so 2D (bilinear) and 3D (trilinear)
    share this code. The sampling grid is ``tf.image.resize``'s (half-pixel centres, no
    antialiasing): shrinking by more than about 2x aliases, so shrink large images in steps
    or ahead of time.

    Args:
        image: array ``(*spatial, C)``; ``len(spatial) == len(shape)``.
        shape: the output spatial shape, e.g. ``(64, 64)`` or ``(32, 64, 64)``.
        method: ``"linear"`` (float32 result) or ``"nearest"`` (keeps the dtype; for masks).

    Returns:
        array ``(*shape, C)``.

    Raises:
        ValueError: an unknown method, a non-positive size, or a ``shape`` whose length is not
            the image's number of spatial axes.

    Example:
        >>> print(resize(np.zeros((28, 28, 1)), (64, 64)).shape)
        (64, 64, 1)
        >>> print(resize(np.zeros((10, 20, 20, 2)), (16, 32, 32)).shape)
        (16, 32, 32, 2)
    """
    if method not in _METHODS:
        raise ValueError(f"resize: method must be one of {_METHODS}, got {method!r}.")
    image = np.asarray(image)
    shape = tuple(int(s) for s in shape)
    if len(shape) != image.ndim - 1:
        raise ValueError(
            f"resize: shape {shape} has {len(shape)} spatial size(s), but the image of shape "
            f"{image.shape} has {image.ndim - 1} spatial axes (channels last). Give one size per "
            "spatial axis."
        )
    if min(shape) < 1:
        raise ValueError(f"resize: sizes must be positive, got {shape}.")
    out = image if method == "nearest" else image.astype(np.float32)
    for axis, size in enumerate(shape):
        if out.shape[axis] != size:
            out = _resize_axis(out, axis, size, method)
    return out


def _check_percentiles(low, high):
    if not 0.0 <= low < high <= 100.0:
        raise ValueError(
            f"Percentiles must satisfy 0 <= low < high <= 100, got low={low!r}, high={high!r} "
            "(microscopy commonly uses 1 and 99.8)."
        )


def percentile_clip(image, low=1.0, high=99.8):
    """Clip each channel of one image to its own [low, high] percentiles and rescale to [0, 1].

    The usual normalisation of 16-bit fluorescence images (a few hot pixels must not set the
    scale). NumPy twin of :class:`PercentileClip`.

    Args:
        image: array ``(*spatial, C)``, any rank.
        low, high: percentiles in [0, 100].

    Returns:
        float32 array of the same shape, in [0, 1]; a constant channel becomes 0.

    Raises:
        ValueError: percentiles out of order or out of range.

    Example:
        >>> x = np.arange(100, dtype=np.uint16).reshape(10, 10, 1)
        >>> y = percentile_clip(x, 10, 90)  # 9.9 -> 0, 89.1 -> 1
        >>> print(y.min(), y.max(), round(float(y[5, 0, 0]), 3))
        0.0 1.0 0.506
    """
    _check_percentiles(low, high)
    image = np.asarray(image, dtype=np.float32)
    axes = tuple(range(image.ndim - 1))
    lo, hi = np.percentile(image, [low, high], axis=axes, keepdims=True).astype(np.float32)
    span = hi - lo
    scaled = np.where(span > 0, (image - lo) / np.where(span > 0, span, 1.0), 0.0)
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


@keras.saving.register_keras_serializable(package="biocnn")
class PercentileClip(keras.layers.Layer):
    """Per-image, per-channel percentile clipping to [0, 1], for images and volumes alike.

    For each sample and channel, the values at the ``low`` and ``high`` percentiles of the
    spatial axes map to 0 and 1 and values outside are clipped. It needs no fitting, so it
    is the same at training and inference, and it works for any number of spatial axes.

    Args:
        low: lower percentile in [0, 100] (default 1).
        high: upper percentile in [0, 100] (default 99.8).
        **kwargs: standard layer arguments (``name`` ...).

    Raises:
        ValueError: percentiles out of order or out of range.

    Example:
        >>> layer = PercentileClip(1.0, 99.0)
        >>> print(layer(np.random.rand(2, 16, 16, 3).astype("float32")).shape)
        (2, 16, 16, 3)
    """

    def __init__(self, low=1.0, high=99.8, **kwargs):
        super().__init__(**kwargs)
        _check_percentiles(low, high)
        self.low = float(low)
        self.high = float(high)

    def call(self, inputs):
        inputs = keras.ops.cast(inputs, self.compute_dtype)
        axes = tuple(range(1, len(inputs.shape) - 1))
        bounds = keras.ops.quantile(inputs, [self.low / 100.0, self.high / 100.0], axis=axes, keepdims=True)
        lo, hi = bounds[0], bounds[1]
        span = hi - lo
        safe = keras.ops.where(span > 0, span, keras.ops.ones_like(span))
        scaled = keras.ops.where(span > 0, (inputs - lo) / safe, keras.ops.zeros_like(inputs))
        return keras.ops.clip(scaled, 0.0, 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}


def _batches(data, batch_size=256):
    """Input batches from an array, or from a tf.data.Dataset of inputs or (inputs, labels)."""
    if isinstance(data, tf.data.Dataset):
        if isinstance(data.element_spec, tuple):
            data = data.map(lambda x, *rest: x)
        return data
    array = np.asarray(data, dtype=np.float32)
    return tf.data.Dataset.from_tensor_slices(array).batch(batch_size)


def fit_preprocessing(train_inputs, percentiles=None, normalize=True, name="preprocessing"):
    """The in-model preprocessing, fitted on the training inputs only.

    Statistics must come from the training split alone: fitting them on validation or test
    images leaks those splits into training.

    Args:
        train_inputs: training images ``(N, *spatial, C)`` (array), or a ``tf.data.Dataset`` of
            input batches or of ``(inputs, labels)`` batches (e.g. a streamed dataset).
        percentiles: ``(low, high)`` for a :class:`PercentileClip` first, or None for none.
        normalize: add a per-channel ``keras.layers.Normalization`` (mean 0, variance 1 on the
            training inputs, after clipping).
        name: name of the returned model.

    Returns:
        keras.Sequential: raw inputs in, preprocessed inputs out (no trainable weights).

    Raises:
        ValueError: invalid percentiles, or neither step asked for.

    Example:
        >>> x = np.random.rand(20, 8, 8, 2).astype("float32") * 5 + 3
        >>> pre = fit_preprocessing(x)
        >>> z = np.asarray(pre(x))
        >>> print(np.allclose(z.mean(axis=(0, 1, 2)), 0, atol=1e-4), np.allclose(z.std(axis=(0, 1, 2)), 1, atol=1e-3))
        True True
    """
    if percentiles is None and not normalize:
        raise ValueError("fit_preprocessing: ask for percentile clipping, normalisation, or both.")
    steps = []
    if percentiles is not None:
        steps.append(PercentileClip(*percentiles, name=f"{name}_clip"))
    if normalize:
        norm = keras.layers.Normalization(axis=-1, name=f"{name}_normalization")
        data = _batches(train_inputs)
        for step in steps:
            # keras.ops.quantile loses the static shape in graph mode; Normalization needs it
            data = data.map(lambda x, step=step: tf.ensure_shape(step(x), x.shape))
        norm.adapt(data)
        steps.append(norm)
    return keras.Sequential(steps, name=name)


def with_preprocessing(preprocessing, model, name=None):
    """``model`` preceded by ``preprocessing``: a model that takes raw intensities.

    The two share their layers (training the result trains ``model``), and the result saves
    and loads as one ``.keras`` file.

    Args:
        preprocessing: a layer or model (e.g. from :func:`fit_preprocessing`).
        model: a Keras model with a fixed input shape.
        name: the result's name (default: ``model``'s name).

    Returns:
        keras.Model with ``model``'s input and output shapes.

    Example:
        >>> net = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> full = with_preprocessing(PercentileClip(), net)
        >>> print(full.input_shape, full.output_shape)
        (None, 8, 8, 1) (None, 2)
    """
    inputs = keras.Input(model.input_shape[1:], name=f"{model.name}_raw_input")
    return keras.Model(inputs, model(preprocessing(inputs)), name=name or model.name)
