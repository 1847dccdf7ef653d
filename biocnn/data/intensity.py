"""Intensity handling for volumes: CT windows, and what to do with NaN or infinite voxels.

NumPy functions on arrays of any rank, applied to each volume as it is read (before
normalisation and resampling). A CT volume in Hounsfield units becomes [0, 1] through a window;
a volume with NaN or infinite voxels is refused unless a policy says how to replace them.
:class:`IntensityWindow` and :class:`ReplaceNonFinite` are the same steps as graph layers on
batches, so an export takes raw Hounsfield units (see :func:`biocnn.data.preprocess.reader_layers`).
"""

import keras
import numpy as np
import tensorflow as tf

# (center, width) in Hounsfield units; the usual radiology display windows
# (Radiopaedia "Windowing (CT)"; Hoffman et al. 2009 for the abdomen/soft-tissue window).
CT_WINDOWS = {
    "brain": (40.0, 80.0),
    "subdural": (75.0, 215.0),
    "soft_tissue": (50.0, 400.0),
    "mediastinum": (50.0, 350.0),
    "liver": (30.0, 150.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
}

NAN_POLICIES = ("raise", "zero", "min")


def window_bounds(center=None, width=None, preset=None):
    """The (low, high) intensities of a window given by (center, width) or a preset name.

    Args:
        center: the window's center (level), e.g. 40 HU for the brain.
        width: the window's width, > 0.
        preset: a name from ``CT_WINDOWS`` instead of ``center`` and ``width``.

    Returns:
        (low, high) = (center - width / 2, center + width / 2).

    Raises:
        ValueError: an unknown preset, a preset together with center/width, a missing center
            or width, or a width that is not positive.

    Example:
        >>> window_bounds(preset="lung")
        (-1350.0, 150.0)
    """
    if preset is not None:
        if center is not None or width is not None:
            raise ValueError(f"Give either a window preset ({preset!r}) or center and width, not both.")
        if preset not in CT_WINDOWS:
            raise ValueError(
                f"Unknown CT window preset {preset!r}; choose one of {', '.join(sorted(CT_WINDOWS))}, "
                "or give center and width in Hounsfield units."
            )
        center, width = CT_WINDOWS[preset]
    if center is None or width is None:
        raise ValueError(f"A window needs both center and width, got center={center!r}, width={width!r}.")
    if not np.isfinite(width) or width <= 0:
        raise ValueError(f"The window width must be a positive number, got {width!r}.")
    return float(center) - float(width) / 2.0, float(center) + float(width) / 2.0


def window(volume, center=None, width=None, preset=None):
    """Clip intensities to a window and scale it to [0, 1] (float32).

    Values below the window become 0, above it 1, as a radiologist's display does; this is
    how CT in Hounsfield units is usually fed to a network.

    Args:
        volume: an array of any shape.
        center, width, preset: the window; see :func:`window_bounds`.

    Returns:
        float32 array of ``volume``'s shape with values in [0, 1]. NaN stays NaN (handle it
        first with :func:`replace_nonfinite`).

    Raises:
        ValueError: an invalid window (see :func:`window_bounds`).

    Example:
        >>> window(np.array([-1000.0, 0.0, 40.0, 80.0, 3000.0]), preset="brain").tolist()
        [0.0, 0.0, 0.5, 1.0, 1.0]
    """
    low, high = window_bounds(center, width, preset)
    volume = np.asarray(volume, dtype=np.float32)
    return ((np.clip(volume, low, high) - np.float32(low)) / np.float32(high - low)).astype(np.float32)


def replace_nonfinite(volume, policy="raise", name="volume"):
    """Refuse NaN and infinite voxels, or replace them by an explicit policy.

    Args:
        volume: an array of any shape.
        policy: ``"raise"`` (default): a ValueError naming ``name``, the count and the first
            bad voxel; ``"zero"``: NaN and +-inf become 0; ``"min"``: NaN and -inf become the
            smallest finite value of the volume and +inf the largest (background stays
            background in masked MRI/CT, where NaN marks voxels outside the field of view).
        name: what to call the volume in messages (a file name, ``"data.h5:images[3]"``).

    Returns:
        ``volume`` itself when every voxel is finite, otherwise a corrected copy (float).

    Raises:
        ValueError: a non-finite voxel under ``"raise"``, a volume with no finite voxel under
            ``"min"``, or an unknown policy.

    Example:
        >>> replace_nonfinite(np.array([1.0, np.nan, np.inf, 3.0]), "min").tolist()
        [1.0, 1.0, 3.0, 3.0]
    """
    if policy not in NAN_POLICIES:
        raise ValueError(f"Unknown NaN policy {policy!r}; choose one of {', '.join(NAN_POLICIES)}.")
    volume = np.asarray(volume)
    if not np.issubdtype(volume.dtype, np.floating):
        return volume  # integers cannot hold NaN or inf
    finite = np.isfinite(volume)
    if finite.all():
        return volume
    count = int(volume.size - np.count_nonzero(finite))
    if policy == "raise":
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(
            f"{name}: {count} of {volume.size} voxels are NaN or infinite (the first at index "
            f"{first}, value {volume[first]}). Fix the file, or choose a NaN policy: 'zero' "
            "(replace by 0) or 'min' (NaN and -inf by the volume's minimum, +inf by its maximum)."
        )
    out = volume.copy()
    if policy == "zero":
        out[~finite] = 0
        return out
    if not finite.any():
        raise ValueError(f"{name}: every voxel is NaN or infinite; the 'min' policy has no value to use.")
    low, high = volume[finite].min(), volume[finite].max()
    out[np.isnan(volume) | np.isneginf(volume)] = low
    out[np.isposinf(volume)] = high
    return out


@keras.saving.register_keras_serializable(package="biocnn")
class IntensityWindow(keras.layers.Layer):
    """:func:`window` in the graph: clip a batch to ``[low, high]`` and scale that to [0, 1] (float32).

    Args:
        low, high: the window's bounds (e.g. from :func:`window_bounds`), ``low < high``.
        **kwargs: standard layer arguments.

    Raises:
        ValueError: ``low >= high`` or a non-finite bound.

    Example:
        >>> layer = IntensityWindow(*window_bounds(preset="brain"))
        >>> print(layer(np.array([[-1000.0, 40.0, 3000.0]], "float32")).numpy().tolist())
        [[0.0, 0.5, 1.0]]
    """

    def __init__(self, low, high, **kwargs):
        super().__init__(**kwargs)
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"IntensityWindow: need finite low < high, got low={low!r}, high={high!r}.")
        self.low = float(low)
        self.high = float(high)

    def call(self, inputs):
        x = tf.cast(inputs, tf.float32)
        low = tf.constant(self.low, tf.float32)
        return (tf.clip_by_value(x, low, tf.constant(self.high, tf.float32)) - low) / tf.constant(
            np.float32(self.high - self.low), tf.float32)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}


@keras.saving.register_keras_serializable(package="biocnn")
class ReplaceNonFinite(keras.layers.Layer):
    """:func:`replace_nonfinite` in the graph, per sample of a batch.

    ``"raise"`` fails the call with a message naming the policy; ``"zero"`` and ``"min"`` replace
    as :func:`replace_nonfinite` does, each sample with its own minimum and maximum.

    Args:
        policy: one of :data:`NAN_POLICIES`.
        **kwargs: standard layer arguments.

    Raises:
        ValueError: an unknown policy.
        tf.errors.InvalidArgumentError: (when run) a non-finite value under ``"raise"``, or a
            sample without a finite value under ``"min"``.

    Example:
        >>> x = np.array([[1.0, np.nan, np.inf, 3.0]], "float32")
        >>> print(ReplaceNonFinite("min")(x).numpy().tolist())
        [[1.0, 1.0, 3.0, 3.0]]
    """

    def __init__(self, policy="raise", **kwargs):
        super().__init__(**kwargs)
        if policy not in NAN_POLICIES:
            raise ValueError(f"Unknown NaN policy {policy!r}; choose one of {', '.join(NAN_POLICIES)}.")
        self.policy = policy

    def call(self, inputs):
        x = tf.cast(inputs, tf.float32)
        finite = tf.math.is_finite(x)
        if self.policy == "raise":
            return tf.debugging.assert_all_finite(
                x, "biocnn input: NaN or infinite values, refused as in training (NaN policy 'raise'); "
                   "replace them before predicting")
        if self.policy == "zero":
            return tf.where(finite, x, tf.zeros_like(x))
        axes = list(range(1, len(x.shape)))
        has_finite = tf.reduce_all(tf.reduce_any(finite, axis=axes))
        check = tf.debugging.Assert(has_finite, [
            "biocnn input: a sample whose every value is NaN or infinite; the NaN policy 'min' has no value to use"])
        with tf.control_dependencies([check]):
            low = tf.reduce_min(tf.where(finite, x, tf.fill(tf.shape(x), np.float32(np.inf))), axis=axes, keepdims=True)
            high = tf.reduce_max(tf.where(finite, x, tf.fill(tf.shape(x), np.float32(-np.inf))), axis=axes,
                                 keepdims=True)
            out = tf.where(tf.math.is_nan(x) | tf.equal(x, -np.inf), low + tf.zeros_like(x), x)
            return tf.where(tf.equal(x, np.inf), high + tf.zeros_like(x), out)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "policy": self.policy}
