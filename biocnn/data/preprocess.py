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
- **The readers' steps as graph layers**, so an export takes the file's own array:
  :class:`SelectChannels`, :class:`IntensityScaling` (integers divided by their dtype's
  maximum) and :class:`SpatialResize` (the same grid as :func:`resize`, any rank), with the
  volume steps of :mod:`biocnn.data.intensity`; :func:`reader_layers` chains them in the
  readers' order from a description such as :func:`biocnn.export.from_run` records.

:func:`percentile_clip` is the NumPy twin of :class:`PercentileClip`, for data outside a model.
"""

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "IntensityScaling",
    "PercentileClip",
    "SelectChannels",
    "SpatialResize",
    "reader_layers",
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


@keras.saving.register_keras_serializable(package="biocnn")
class SelectChannels(keras.layers.Layer):
    """Keep the channels ``channels`` (in that order) of a channels-last batch: :func:`select_channels` in the graph.

    Args:
        channels: non-empty list of distinct non-negative channel indices.
        **kwargs: standard layer arguments.

    Raises:
        ValueError: an invalid selection (when built).
        tf.errors.InvalidArgumentError: (when run) an input with too few channels.

    Example:
        >>> print(SelectChannels([2, 0])(np.zeros((1, 4, 4, 3), "float32")).shape)
        (1, 4, 4, 2)
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        select_channels(np.zeros((1, max(list(channels) or [0]) + 1)), channels)  # validates the indices
        self.channels = [int(c) for c in channels]

    def call(self, inputs):
        needed = max(self.channels) + 1
        check = tf.debugging.assert_greater_equal(
            tf.shape(inputs)[-1], needed,
            message=f"biocnn input: channels {self.channels} are selected (as in training), so the input needs at "
                    f"least {needed} channels, channels last; got shape")
        with tf.control_dependencies([check]):
            return tf.gather(inputs, self.channels, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], len(self.channels))

    def get_config(self):
        return {**super().get_config(), "channels": list(self.channels)}


@keras.saving.register_keras_serializable(package="biocnn")
class IntensityScaling(keras.layers.Layer):
    """Integer inputs divided by their dtype's maximum (uint8 / 255, uint16 / 65535); floats unchanged.

    What biocnn's image readers do to every integer image (:func:`biocnn.data.scale_intensities`),
    in the graph; the divisor comes from the dtype the layer is called with. The result is
    float32. With ``scale_integers=False`` (volumes read from HDF5, NIfTI or TIFF keep their
    units, e.g. Hounsfield) it only casts.

    Args:
        scale_integers: divide integer inputs by their dtype's maximum.
        **kwargs: standard layer arguments.

    Example:
        >>> print(IntensityScaling()(np.array([[0, 65535]], "uint16")).numpy().tolist())
        [[0.0, 1.0]]
    """

    def __init__(self, scale_integers=True, **kwargs):
        super().__init__(**kwargs)
        self.scale_integers = bool(scale_integers)
        self.autocast = False  # the input's own dtype says how to scale it

    def call(self, inputs):
        dtype = tf.as_dtype(inputs.dtype)
        if dtype.is_integer and self.scale_integers:
            return tf.cast(inputs, tf.float32) / tf.constant(float(np.iinfo(dtype.as_numpy_dtype).max), tf.float32)
        return tf.cast(inputs, tf.float32)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale_integers": self.scale_integers}


def _linear_axis(x, axis, size_out):
    """Linear resampling of one axis on :func:`resize`'s grid (half-pixel centres), in TensorFlow."""
    size_in = tf.shape(x)[axis]
    scale = tf.cast(size_in, tf.float64) / float(size_out)
    centres = (tf.range(size_out, dtype=tf.float64) + 0.5) * scale
    positions = tf.clip_by_value(centres - 0.5, 0.0, tf.cast(size_in - 1, tf.float64))
    low = tf.floor(positions)
    weight = tf.cast(positions - low, tf.float32)
    low = tf.cast(low, tf.int32)
    high = tf.minimum(low + 1, size_in - 1)
    shape = [1] * len(x.shape)
    shape[axis] = size_out
    weight = tf.reshape(weight, shape)
    return tf.gather(x, low, axis=axis) * (1.0 - weight) + tf.gather(x, high, axis=axis) * weight


@keras.saving.register_keras_serializable(package="biocnn")
class SpatialResize(keras.layers.Layer):
    """Resize the spatial axes of a channels-last batch to ``shape``: :func:`resize` in the graph.

    Separable linear interpolation on the same sampling grid as :func:`resize` (and
    ``tf.image.resize`` with half-pixel centres, no antialiasing), one axis after another, so
    images (bilinear) and volumes (trilinear) share it; the input's spatial sizes may be unknown
    until it runs.

    Args:
        shape: the output spatial shape, e.g. ``(64, 64)`` or ``(32, 64, 64)``.
        **kwargs: standard layer arguments.

    Raises:
        ValueError: a non-positive size.

    Example:
        >>> print(SpatialResize((4, 6))(np.zeros((2, 8, 3, 1), "float32")).shape)
        (2, 4, 6, 1)
    """

    def __init__(self, shape, **kwargs):
        super().__init__(**kwargs)
        shape = tuple(int(s) for s in shape)
        if not shape or min(shape) < 1:
            raise ValueError(f"SpatialResize: sizes must be positive, got {shape}.")
        self.shape = shape

    def call(self, inputs):
        x = tf.cast(inputs, tf.float32)
        if len(x.shape) != len(self.shape) + 2:
            raise ValueError(f"SpatialResize{self.shape}: expected inputs (N, {len(self.shape)} spatial axes, C), "
                             f"got rank {len(x.shape)}.")
        for axis, size in enumerate(self.shape, start=1):
            x = _linear_axis(x, axis, size)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.shape, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "shape": list(self.shape)}


def reader_layers(*, channels=None, scale_integers=True, nan_policy=None, window=None, resize_to=None):
    """The readers' steps between a file's array and the network, as layers in the readers' order.

    The order is that of :func:`biocnn.data.load_image` (channels, scaling, resize) and of
    :class:`biocnn.data.VolumePreprocessing` (NaN policy, window, resampling); steps not asked
    for are left out.

    Args:
        channels: channel indices to keep, or None.
        scale_integers: divide integer inputs by their dtype's maximum (always casts to float32).
        nan_policy: ``"raise"``, ``"zero"`` or ``"min"`` (see
            :class:`biocnn.data.intensity.ReplaceNonFinite`), or None for no step.
        window: ``(low, high)`` of an intensity window, or None.
        resize_to: spatial shape to resample to, or None.

    Returns:
        list of Keras layers; call them in order.

    Example:
        >>> steps = reader_layers(channels=[0], nan_policy="zero", window=(-100.0, 300.0), resize_to=(2, 2, 2))
        >>> print([type(s).__name__ for s in steps])
        ['SelectChannels', 'IntensityScaling', 'ReplaceNonFinite', 'IntensityWindow', 'SpatialResize']
    """
    from biocnn.data.intensity import IntensityWindow, ReplaceNonFinite

    steps = []
    if channels is not None:
        steps.append(SelectChannels(channels, name="reader_channels"))
    steps.append(IntensityScaling(scale_integers, name="reader_scaling"))
    if nan_policy is not None:
        steps.append(ReplaceNonFinite(nan_policy, name="reader_nonfinite"))
    if window is not None:
        steps.append(IntensityWindow(*window, name="reader_window"))
    if resize_to is not None:
        steps.append(SpatialResize(resize_to, name="reader_resize"))
    return steps


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
