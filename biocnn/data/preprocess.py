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

import types

import keras
import numpy as np
import tensorflow as tf
from keras import ops

__all__ = [
    "IntensityScaling",
    "PercentileClip",
    "SelectChannels",
    "SpatialResize",
    "resize_axes",
    "NUMPY_OPS",
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


#: The array operations :func:`resize_axes` uses, on NumPy arrays: the same names and meanings as
#: ``keras.ops``, so one implementation runs in NumPy (readers, inside ``tf.data``'s Python calls,
#: where TensorFlow must not be re-entered) and in the graph.
NUMPY_OPS = types.SimpleNamespace(
    convert_to_tensor=np.asarray, shape=np.shape, arange=np.arange, floor=np.floor, clip=np.clip,
    minimum=np.minimum, take=np.take, reshape=np.reshape, cast=lambda x, dtype: np.asarray(x).astype(dtype),
)


def _resize_axis(xp, x, axis, size_out, method):
    """Resample one axis of ``x`` to ``size_out`` on ``tf.image.resize``'s grid (half-pixel
    centres, no antialiasing): linear between the two nearest samples, or the nearest."""
    size_in = xp.shape(x)[axis]  # in a graph, a tensor when unknown until it runs
    centres = (xp.arange(size_out, dtype="float64") + 0.5) * (xp.cast(size_in, "float64") / size_out)
    if method == "nearest":
        return xp.take(x, xp.minimum(xp.cast(xp.floor(centres), "int32"), size_in - 1), axis=axis)
    positions = xp.clip(centres - 0.5, 0.0, xp.cast(size_in - 1, "float64"))
    low = xp.floor(positions)
    weight = xp.reshape(xp.cast(positions - low, x.dtype), [size_out if a == axis else 1 for a in range(len(x.shape))])
    low = xp.cast(low, "int32")
    high = xp.minimum(low + 1, size_in - 1)
    return xp.take(x, low, axis=axis) * (1.0 - weight) + xp.take(x, high, axis=axis) * weight


def resize_axes(x, shape, *, first_axis=1, method="linear", xp=ops):
    """The one resize of biocnn: resample the axes ``first_axis, first_axis + 1, ...`` of ``x`` to ``shape``.

    Separable, one axis after another, so 1D (linear), 2D (bilinear) and 3D (trilinear) share it;
    the sampling grid is ``tf.image.resize``'s (half-pixel centres, no antialiasing: shrinking by
    more than about 2x aliases). Readers (:func:`resize`), the export graph and transfer
    backbones (:class:`SpatialResize`) and attribution maps all call it, so training and serving
    resize alike. With ``keras.ops`` it runs eagerly and in a graph, where the input's sizes may
    be unknown until it runs; with :data:`NUMPY_OPS` in NumPy alone.

    Args:
        x: a tensor or array.
        shape: the output size of each axis from ``first_axis`` on; ``None`` keeps an axis.
        first_axis: the first axis to resize (1: after the batch axis).
        method: ``"linear"`` (integers become float32, floats keep their dtype) or ``"nearest"``
            (keeps the dtype; for masks).
        xp: the array operations: ``keras.ops`` (default) or :data:`NUMPY_OPS`.

    Returns:
        the resized tensor (a NumPy array with :data:`NUMPY_OPS`).

    Example:
        >>> print(resize_axes(np.array([[0.0, 10.0]]), (4,), xp=NUMPY_OPS))
        [[ 0.   2.5  7.5 10. ]]
    """
    x = xp.convert_to_tensor(x)
    if method == "linear" and "float" not in str(x.dtype):
        x = xp.cast(x, "float32")
    for axis, size in enumerate(shape, start=first_axis):
        if size is not None and x.shape[axis] != size:
            x = _resize_axis(xp, x, axis, int(size), method)
    return x


def _check_resize(shape, method, where):
    if method not in _METHODS:
        raise ValueError(f"{where}: method must be one of {_METHODS}, got {method!r}.")
    shape = tuple(None if s is None else int(s) for s in shape)
    if not shape or min((s for s in shape if s is not None), default=1) < 1:
        raise ValueError(f"{where}: sizes must be positive, got {shape}.")
    return shape


def resize(image, shape, method="linear"):
    """Resize the spatial axes of one channels-last image or volume to ``shape``, in NumPy.

    :func:`resize_axes`, the resize of the model graph (:class:`SpatialResize`), on one array in
    NumPy alone (:data:`NUMPY_OPS`; readers run inside ``tf.data``'s Python calls):
    2D (bilinear) and 3D (trilinear) alike, on ``tf.image.resize``'s grid (half-pixel centres,
    no antialiasing): shrinking by more than about 2x aliases, so shrink large images in steps
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
    shape = _check_resize(shape, method, "resize")
    image = np.asarray(image)
    if len(shape) != image.ndim - 1:
        raise ValueError(
            f"resize: shape {shape} has {len(shape)} spatial size(s), but the image of shape "
            f"{image.shape} has {image.ndim - 1} spatial axes (channels last). Give one size per "
            "spatial axis."
        )
    if method == "linear":
        image = image.astype(np.float32, copy=False)
    return resize_axes(image, shape, first_axis=0, method=method, xp=NUMPY_OPS)


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


@keras.saving.register_keras_serializable(package="biocnn")
class SpatialResize(keras.layers.Layer):
    """Resize the spatial axes of a channels-last batch to ``shape``: :func:`resize_axes` in the graph.

    The resize of the readers (:func:`resize`), of exports and of transfer backbones: separable
    linear (or nearest) interpolation on ``tf.image.resize``'s grid (half-pixel centres, no
    antialiasing), so images (bilinear) and volumes (trilinear) share it; the input's spatial
    sizes may be unknown until it runs. A ``shape`` shorter than the input's spatial axes
    resizes the last ones (``(H, W)`` on volumes resizes every depth slice); ``None`` keeps an
    axis. No ``training`` argument (``keras.layers.Resizing``'s default ``training=True`` would
    reach later BatchNormalization layers of a model called directly).

    Args:
        shape: the output spatial shape, e.g. ``(64, 64)`` or ``(32, 64, 64)``.
        method: ``"linear"`` (float32 output) or ``"nearest"``.
        **kwargs: standard layer arguments.

    Raises:
        ValueError: a non-positive size, an unknown method, or inputs with fewer spatial axes
            than ``shape``.

    Example:
        >>> print(SpatialResize((4, 6))(np.zeros((2, 8, 3, 1), "float32")).shape)
        (2, 4, 6, 1)
        >>> print(SpatialResize((4, 6))(np.zeros((2, 5, 8, 3, 1), "float32")).shape)
        (2, 5, 4, 6, 1)
    """

    def __init__(self, shape, method="linear", **kwargs):
        super().__init__(**kwargs)
        self.shape = _check_resize(shape, method, "SpatialResize")
        self.method = method

    def _first_axis(self, rank):
        if rank - 2 < len(self.shape):
            raise ValueError(f"SpatialResize{self.shape}: expected inputs (N, {len(self.shape)} or more spatial axes, "
                             f"C), got rank {rank}.")
        return rank - 1 - len(self.shape)

    def call(self, inputs):
        x = inputs if self.method == "nearest" else ops.cast(inputs, "float32")
        return resize_axes(x, self.shape, first_axis=self._first_axis(len(x.shape)), method=self.method)

    def compute_output_shape(self, input_shape):
        first = self._first_axis(len(input_shape))
        kept = [old if new is None else new for old, new in zip(input_shape[first:-1], self.shape)]
        return (*input_shape[:first], *kept, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "shape": list(self.shape), "method": self.method}


@keras.saving.register_keras_serializable(package="biocnn", name="Resize")
class LegacyResize(SpatialResize):
    """Loads ``.keras`` files saved with the transfer backbones' former ``biocnn>Resize`` layer
    (``height``, ``width``, ``interpolation``) as a :class:`SpatialResize`; not for new models."""

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        shape = (config.pop("height"), config.pop("width"))
        method = {"bilinear": "linear", "nearest": "nearest"}.get(config.pop("interpolation", "bilinear"))
        if method is None:
            raise ValueError("This model's Resize layer uses an interpolation biocnn no longer provides; "
                             "only 'bilinear' and 'nearest' load.")
        return SpatialResize(shape, method=method, **config)


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
