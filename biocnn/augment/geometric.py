"""Geometric augmentations: flips, 90-degree rotations, small rotations, scale+crop, crops.

Every layer here moves a segmentation mask with its image (``{"image": x, "mask": m}`` or
:meth:`~biocnn.augment.Augmentation.transform_mask`). Flips and 90-degree rotations are exact
permutations of pixels; rotations by an angle, scaling and crops sample the input through
:func:`biocnn.augment.sampling.resample` (linear for images, nearest for masks) and fill what
comes from outside the input according to ``fill_mode`` (masks: 0 with ``"constant"``).
"""

import math
import numbers

import keras
from keras import ops

from biocnn.augment.base import (
    FILL_MODES,
    INTERPOLATIONS,
    Augmentation,
    as_tuple,
    check_choice,
    check_probability,
    check_range,
    normalize_axes,
    normalize_planes,
    per_sample,
)
from biocnn.augment.sampling import affine_coordinates, resample

__all__ = ["RandomCrop", "RandomFlip", "RandomRot90", "RandomRotation", "RandomScaleCrop"]


# --------------------------------------------------------------------------------------------
# Flips
# --------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="biocnn")
class RandomFlip(Augmentation):
    """Flip each sample along each chosen spatial axis with a given probability.

    Each sample draws, for each axis in ``axes``, whether to flip (``np.flip``) along it.

    Args:
        axes: spatial axes to flip (0 = the first axis after the batch; negatives count from
            the last spatial axis), or None (default) for every spatial axis.
        probability: chance of a flip per axis and sample (default 0.5); 0 is the identity.
        rank: spatial rank (1, 2, 3), needed for unbatched samples; None: batched input.
        seed: int or None.
        **kwargs: base layer arguments such as ``name``.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: a probability outside [0, 1] or an axis outside the input's spatial axes.

    Example:
        >>> import numpy as np
        >>> y = RandomFlip(axes=(0,), seed=1)(np.zeros((4, 60, 4), "float32"), training=True)
        >>> print(y.shape)
        (4, 60, 4)
    """

    geometric = True

    def __init__(self, axes=None, probability=0.5, rank=None, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.axes = as_tuple(axes) if not isinstance(axes, numbers.Integral) else (int(axes),)
        self.probability = check_probability("RandomFlip", "probability", probability)
        if self.rank is not None:
            normalize_axes("RandomFlip", "axes", self.axes, self.rank)

    def _axes(self, rank):
        return normalize_axes("RandomFlip", "axes", self.axes, rank)

    def _is_identity(self):
        return self.probability == 0.0

    def _draw(self, shape, dtype):
        axes = self._axes(len(shape) - 2)
        u = keras.random.uniform((shape[0], len(axes)), seed=self.seed_generator)
        return {"flips": u < self.probability}

    def _apply(self, images, transformation):
        flips = transformation["flips"]
        ndim = len(images.shape)
        for k, axis in enumerate(self._axes(ndim - 2)):
            images = ops.where(per_sample(flips[:, k], ndim), ops.flip(images, axis + 1), images)
        return images

    _apply_mask = _apply

    def get_config(self):
        config = super().get_config()
        config.update({"axes": self.axes, "probability": self.probability})
        return config


# --------------------------------------------------------------------------------------------
# 90-degree rotations
# --------------------------------------------------------------------------------------------


def _rot90(x, k, a, b):
    """``np.rot90(x, k, axes=(a, b))`` for one static k (axes of the batched tensor)."""
    if k == 1:
        return ops.swapaxes(ops.flip(x, b), a, b)
    if k == 2:
        return ops.flip(ops.flip(x, a), b)
    return ops.flip(ops.swapaxes(x, a, b), b)


@keras.saving.register_keras_serializable(package="biocnn")
class RandomRot90(Augmentation):
    """Rotate each sample by a random multiple of 90 degrees in each chosen plane.

    In each plane ``(a, b)`` a sample is rotated as ``np.rot90(x, k, axes=(a, b))``: with
    probability ``probability`` by ``k`` drawn uniformly from {1, 2, 3}, else not (``k = 0``).
    The default 0.75 makes the four orientations equally likely. Rotations by 90 and 270
    degrees swap the two axes, so each plane must be square (a 28x28x28 volume, a 64x64
    image); for a non-square plane use ``RandomFlip`` on both of its axes (a 180-degree turn).

    Args:
        planes: a pair of spatial axes such as ``(0, 1)``, a list of pairs (rotations compose
            in order), or None (default): the last two spatial axes, i.e. the image plane, or
            the in-plane (height, width) axes of a volume -- the safe choice for anisotropic
            volumes. Use ``((0, 1), (0, 2), (1, 2))`` for isotropic volumes.
        probability: chance of a rotation per plane and sample; 0 is the identity.
        rank: spatial rank (2 or 3); None: batched input.
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: rank 1 (a sequence has no plane), a plane that is not a pair of distinct
            spatial axes, or a non-square plane.

    Example:
        >>> import numpy as np
        >>> y = RandomRot90(seed=1)(np.zeros((2, 8, 8, 8, 1), "float32"), training=True)
        >>> print(y.shape)
        (2, 8, 8, 8, 1)
    """

    geometric = True
    min_rank = 2

    def __init__(self, planes=None, probability=0.75, rank=None, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.planes = as_tuple(planes)
        self.probability = check_probability("RandomRot90", "probability", probability)
        if self.rank is not None:
            normalize_planes("RandomRot90", self.planes, self.rank)

    def _planes(self, rank):
        return normalize_planes("RandomRot90", self.planes, rank)

    def _is_identity(self):
        return self.probability == 0.0

    def _draw(self, shape, dtype):
        planes = self._planes(len(shape) - 2)
        draw_shape = (shape[0], len(planes))
        rotate = keras.random.uniform(draw_shape, seed=self.seed_generator) < self.probability
        k = keras.random.randint(draw_shape, 1, 4, seed=self.seed_generator, dtype="int32")
        return {"k": ops.where(rotate, k, ops.zeros_like(k))}

    def _apply(self, images, transformation):
        k = transformation["k"]
        ndim = len(images.shape)
        for p, (a, b) in enumerate(self._planes(ndim - 2)):
            size_a, size_b = images.shape[a + 1], images.shape[b + 1]
            if size_a is not None and size_b is not None and size_a != size_b:
                raise ValueError(
                    f"RandomRot90: plane ({a}, {b}) has sizes {size_a} and {size_b}; a 90-degree "
                    "rotation needs a square plane. Choose square planes with planes=..., or "
                    "flip both axes with RandomFlip(axes=(a, b)) for 180-degree turns."
                )
            kp = per_sample(k[:, p], ndim)
            rotated = images
            for turns in (1, 2, 3):
                rotated = ops.where(kp == turns, _rot90(images, turns, a + 1, b + 1), rotated)
            images = rotated
        return images

    _apply_mask = _apply

    def get_config(self):
        config = super().get_config()
        config.update({"planes": self.planes, "probability": self.probability})
        return config


# --------------------------------------------------------------------------------------------
# Resampling layers: rotation by an angle, scale + crop, pad + crop
# --------------------------------------------------------------------------------------------


class _Resampling(Augmentation):
    """A geometric layer that reads its output through an affine map of the input."""

    geometric = True
    interpolation = "linear"

    def _check_sampling(self, interpolation, fill_mode, fill_value):
        name = type(self).__name__
        self.interpolation = check_choice(name, "interpolation", interpolation, INTERPOLATIONS)
        self.fill_mode = check_choice(name, "fill_mode", fill_mode, FILL_MODES)
        if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real):
            raise ValueError(f"{name}: fill_value must be a number, got {fill_value!r}.")
        self.fill_value = float(fill_value)

    def _affine(self, shape, transformation):
        """(matrix (B, r, r), offset (B, r)) of the output-to-input map."""
        raise NotImplementedError

    def _coordinates(self, images, transformation):
        shape = tuple(ops.shape(images))
        matrix, offset = self._affine(shape, transformation)
        return affine_coordinates(shape[1:-1], matrix, offset)

    def _apply(self, images, transformation):
        u = self._coordinates(images, transformation)
        return resample(images, u, self.interpolation, self.fill_mode, self.fill_value)

    def _apply_mask(self, masks, transformation):
        u = self._coordinates(masks, transformation)
        return resample(masks, u, "nearest", self.fill_mode, 0)

    def _sampling_config(self):
        return {"interpolation": self.interpolation, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value}


def _rotation_matrix(angles, planes, rank):
    """Per-sample output-to-input matrices for rotations by ``angles`` (B, P) degrees.

    Positive angles turn as ``np.rot90`` does in the plane ``(a, b)`` (from axis a towards
    axis b; counter-clockwise for an image shown with row 0 at the top).
    """
    radians = ops.cast(angles, "float32") * (math.pi / 180.0)
    matrix = None
    for p, (a, b) in enumerate(planes):
        c, s = ops.cos(radians[:, p]), ops.sin(radians[:, p])
        one, zero = ops.ones_like(c), ops.zeros_like(c)
        rows = []
        for i in range(rank):
            row = []
            for j in range(rank):
                if (i, j) in ((a, a), (b, b)):
                    row.append(c)
                elif (i, j) == (a, b):
                    row.append(s)
                elif (i, j) == (b, a):
                    row.append(-s)
                else:
                    row.append(one if i == j else zero)
            rows.append(ops.stack(row, axis=-1))
        rotation = ops.stack(rows, axis=-2)  # (B, r, r)
        matrix = rotation if matrix is None else ops.matmul(matrix, rotation)
    return matrix


@keras.saving.register_keras_serializable(package="biocnn")
class RandomRotation(_Resampling):
    """Rotate each sample by a small random angle about its centre (2D, or 3D in chosen planes).

    The angle (degrees) is drawn uniformly in ``degrees`` per plane and sample; positive
    angles turn like ``np.rot90`` (from the plane's first axis towards its second), so
    ``degrees=(90, 90)`` on a square image equals ``np.rot90``. The output keeps the input's
    size; corners that come from outside the input are filled by ``fill_mode``.

    Args:
        degrees: ``d >= 0`` for angles in ``[-d, d]`` (default 15), or a pair ``(low, high)``.
            0 is the identity.
        planes: a pair of spatial axes or a list of pairs (each gets its own angle, rotations
            compose), or None: the last two spatial axes (the image plane; for a volume the
            in-plane (height, width) rotation).
        interpolation: ``"linear"`` (default) or ``"nearest"``; masks always use nearest.
        fill_mode: ``"reflect"`` (default: no artificial corners), ``"constant"`` or
            ``"nearest"``; see :mod:`biocnn.augment.sampling`.
        fill_value: the value outside the input with ``fill_mode="constant"`` (masks: 0).
        rank: spatial rank (2 or 3); None: batched input.
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: rank 1, a bad ``degrees``, plane, interpolation or fill mode.

    Example:
        >>> import numpy as np
        >>> y = RandomRotation(10, seed=1)(np.zeros((2, 28, 28, 1), "float32"), training=True)
        >>> print(y.shape)
        (2, 28, 28, 1)
    """

    min_rank = 2

    def __init__(self, degrees=15.0, planes=None, interpolation="linear", fill_mode="reflect",
                 fill_value=0.0, rank=None, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.degrees = check_range("RandomRotation", "degrees", as_tuple(degrees))
        self.planes = as_tuple(planes)
        self._check_sampling(interpolation, fill_mode, fill_value)
        if self.rank is not None:
            normalize_planes("RandomRotation", self.planes, self.rank)

    def _is_identity(self):
        return self.degrees == (0.0, 0.0)

    def _draw(self, shape, dtype):
        planes = normalize_planes("RandomRotation", self.planes, len(shape) - 2)
        low, high = self.degrees
        angles = keras.random.uniform((shape[0], len(planes)), low, high, seed=self.seed_generator)
        return {"angles": angles}

    def _affine(self, shape, transformation):
        rank = len(shape) - 2
        planes = normalize_planes("RandomRotation", self.planes, rank)
        matrix = _rotation_matrix(transformation["angles"], planes, rank)
        return matrix, ops.zeros((shape[0], rank), "float32")

    def get_config(self):
        config = super().get_config()
        config.update({"degrees": self.degrees, "planes": self.planes, **self._sampling_config()})
        return config


@keras.saving.register_keras_serializable(package="biocnn")
class RandomScaleCrop(_Resampling):
    """Scale each sample by a random factor and crop (or pad) it back to the input size.

    A sample is scaled by ``s = 1 + delta`` (one ``s`` for all chosen axes: no distortion),
    ``delta`` uniform in ``factor``. Zooming in (``s > 1``) keeps a random window of the
    scaled sample that lies inside it; zooming out (``s < 1``) places the smaller sample at a
    random position and fills around it by ``fill_mode``. With ``factor=0`` it is the identity.

    Args:
        factor: ``f`` in ``[0, 1)`` for ``delta`` in ``[-f, f]`` (default 0.1), or a pair
            ``(low, high)`` with ``low > -1``, e.g. ``(0, 0.3)`` to zoom in only.
        axes: spatial axes to scale, or None (default) for all.
        interpolation: ``"linear"`` (default) or ``"nearest"``; masks always use nearest.
        fill_mode: ``"reflect"`` (default), ``"constant"`` or ``"nearest"``.
        fill_value: the value outside the input with ``fill_mode="constant"``.
        rank: spatial rank (1, 2, 3); None: batched input.
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: a bad ``factor`` (scales must stay positive), axis, interpolation or fill mode.

    Example:
        >>> import numpy as np
        >>> y = RandomScaleCrop(0.2, seed=1)(np.zeros((2, 28, 28, 28, 1), "float32"), training=True)
        >>> print(y.shape)
        (2, 28, 28, 28, 1)
    """

    def __init__(self, factor=0.1, axes=None, interpolation="linear", fill_mode="reflect",
                 fill_value=0.0, rank=None, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.factor = check_range("RandomScaleCrop", "factor", as_tuple(factor), lowest=-1.0)
        self.axes = as_tuple(axes) if not isinstance(axes, numbers.Integral) else (int(axes),)
        self._check_sampling(interpolation, fill_mode, fill_value)
        if self.rank is not None:
            normalize_axes("RandomScaleCrop", "axes", self.axes, self.rank)

    def _is_identity(self):
        return self.factor == (0.0, 0.0)

    def _draw(self, shape, dtype):
        rank = len(shape) - 2
        low, high = self.factor
        scale = 1.0 + keras.random.uniform((shape[0],), low, high, seed=self.seed_generator)
        position = keras.random.uniform((shape[0], rank), -1.0, 1.0, seed=self.seed_generator)
        return {"scale": scale, "position": position}

    def _affine(self, shape, transformation):
        rank = len(shape) - 2
        axes = normalize_axes("RandomScaleCrop", "axes", self.axes, rank)
        scale = ops.cast(transformation["scale"], "float32")
        inverse = 1.0 / scale
        diagonal, offset = [], []
        for k in range(rank):
            if k in axes:
                # The window stays inside the scaled sample (zoom in) or the sample inside the
                # output (zoom out): |t| <= |1 - 1/s| (n - 1) / 2.
                half_room = ops.abs(1.0 - inverse) * (ops.cast(shape[k + 1], "float32") - 1.0) / 2.0
                diagonal.append(inverse)
                offset.append(transformation["position"][:, k] * half_room)
            else:
                diagonal.append(ops.ones_like(inverse))
                offset.append(ops.zeros_like(inverse))
        diagonal = ops.stack(diagonal, axis=-1)  # (B, r)
        matrix = diagonal[:, :, None] * ops.eye(rank, dtype="float32")[None]
        return matrix, ops.stack(offset, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "axes": self.axes, **self._sampling_config()})
        return config


# --------------------------------------------------------------------------------------------
# Integer translations: pad + random crop (images), random shift (sequences)
# --------------------------------------------------------------------------------------------


def check_extent(owner, name, value):
    """Pixels (int >= 0) or a fraction of the axis length (float in [0, 1))."""
    value = as_tuple(value)
    items = value if isinstance(value, tuple) else (value,)
    for v in items:
        ok = (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0) or (
            isinstance(v, float) and 0.0 <= v < 1.0
        )
        if not ok:
            raise ValueError(
                f"{owner}: {name} must be pixels (an int >= 0) or a fraction of the axis length "
                f"(a float in [0, 1)), or one such value per axis; got {value!r}."
            )
    return value


class Translation(_Resampling):
    """Shift each sample by a random whole number of pixels along chosen axes, filling by mode."""

    interpolation = "nearest"

    def _extents(self, shape):
        """Largest shift (pixels) per spatial axis."""
        raise NotImplementedError

    def _draw(self, shape, dtype):
        limits = self._extents(shape)
        rank = len(limits)
        u = keras.random.uniform((shape[0], rank), seed=self.seed_generator)
        limits = ops.convert_to_tensor(limits, "float32")
        shifts = ops.floor(u * (2.0 * limits + 1.0)) - limits  # uniform on -limit..limit
        return {"shifts": ops.cast(ops.minimum(shifts, limits), "int32")}

    def _affine(self, shape, transformation):
        rank = len(shape) - 2
        matrix = ops.broadcast_to(ops.eye(rank, dtype="float32")[None], (shape[0], rank, rank))
        return matrix, -ops.cast(transformation["shifts"], "float32")

    def _per_axis(self, value, shape, axes):
        rank = len(shape) - 2
        values = value if isinstance(value, tuple) else (value,) * len(axes)
        if len(values) != len(axes):
            raise ValueError(
                f"{type(self).__name__}: got {len(values)} per-axis values {value!r} for "
                f"{len(axes)} axes."
            )
        limits = [0] * rank
        for axis, v in zip(axes, values):
            n = shape[axis + 1]
            if isinstance(v, float) and not isinstance(n, int):
                raise ValueError(
                    f"{type(self).__name__}: a fractional extent ({v}) needs a known size of "
                    f"spatial axis {axis}; give the extent in pixels (an int) instead."
                )
            limits[axis] = int(v) if isinstance(v, numbers.Integral) else int(math.floor(v * n))
        return limits


@keras.saving.register_keras_serializable(package="biocnn")
class RandomCrop(Translation):
    """Pad every spatial axis and crop a random window of the input size back (pad + crop).

    The random crop of He et al. (2016) and torchvision's ``RandomCrop(size, padding=p)``,
    for any rank: the output has the input's size, so the layer fits inside a model and is the
    identity at inference. Equivalently, each sample is shifted by a whole number of pixels
    drawn uniformly in ``[-padding, padding]`` per axis, and the uncovered border is filled.

    Args:
        padding: pixels (int, default 2) or a fraction of each axis length (float in [0, 1)),
            or one value per spatial axis. 0 is the identity.
        fill_mode: ``"constant"`` (default, ``fill_value``), ``"nearest"`` or ``"reflect"``.
        fill_value: the value of the padding with ``fill_mode="constant"`` (masks: 0).
        rank: spatial rank (1, 2, 3); None: batched input.
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: a negative or non-integer padding, or a fraction not below 1.

    Example:
        >>> import numpy as np
        >>> y = RandomCrop(padding=4, seed=1)(np.zeros((2, 32, 32, 3), "float32"), training=True)
        >>> print(y.shape)
        (2, 32, 32, 3)
    """

    def __init__(self, padding=2, fill_mode="constant", fill_value=0.0, rank=None, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.padding = check_extent("RandomCrop", "padding", padding)
        self._check_sampling("nearest", fill_mode, fill_value)

    def _is_identity(self):
        values = self.padding if isinstance(self.padding, tuple) else (self.padding,)
        return all(v == 0 for v in values)

    def _extents(self, shape):
        rank = len(shape) - 2
        return self._per_axis(self.padding, shape, tuple(range(rank)))

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding, "fill_mode": self.fill_mode, "fill_value": self.fill_value})
        return config
