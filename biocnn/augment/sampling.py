"""Rank-generic resampling: the one interpolation behind rotation, scaling, crops and shifts.

:func:`affine_coordinates` maps every output position ``p`` of a grid to the input position
``u = A (p - c) + c + t`` (``c``: the grid's centre, ``A``: a per-sample matrix, ``t``: a
per-sample offset, all in pixel units along the spatial axes); :func:`resample` reads the input
there, by linear interpolation over the ``2**rank`` neighbours or by the nearest neighbour,
gathering all channels at once. Both work for 1, 2 and 3 spatial axes with ``keras.ops`` only.

Boundary (``fill_mode``), as in ``scipy.ndimage`` with the same names:

* ``"constant"``: outside the input reads ``fill_value``; a linear sample near the border
  blends the inner pixels with ``fill_value`` (scipy's ``"grid-constant"``);
* ``"nearest"``: the border pixel is repeated (``aaaa|abcd|dddd``);
* ``"reflect"``: mirrored about the border, the border pixel included (``dcba|abcd|dcba``).
"""

import itertools

from keras import ops

from biocnn.augment.base import FILL_MODES, INTERPOLATIONS

__all__ = ["affine_coordinates", "resample"]


def _spatial_sizes(shape):
    return tuple(shape[1:-1])


def affine_coordinates(spatial_shape, matrix, offset):
    """Input coordinates of every output position: ``u = A (p - c) + c + t``.

    Args:
        spatial_shape: the grid's sizes ``(n_1, ..., n_r)`` (ints or scalar tensors).
        matrix: ``(batch, r, r)`` output-to-input matrices ``A``.
        offset: ``(batch, r)`` offsets ``t`` in pixels.

    Returns:
        ``(batch, n_1 * ... * n_r, r)`` float32 input coordinates, positions in C order.

    Example:
        >>> import numpy as np
        >>> u = affine_coordinates((2, 3), np.eye(2, dtype="float32")[None], np.zeros((1, 2), "float32"))
        >>> print(u.shape)
        (1, 6, 2)
    """
    axes = [ops.arange(n, dtype="float32") for n in spatial_shape]
    grids = ops.meshgrid(*axes, indexing="ij")
    positions = ops.stack([ops.reshape(g, (-1,)) for g in grids], axis=-1)  # (M, r)
    center = ops.stack([(ops.cast(n, "float32") - 1.0) / 2.0 for n in spatial_shape])
    matrix = ops.cast(matrix, "float32")
    offset = ops.cast(offset, "float32")
    u = ops.einsum("bij,mj->bmi", matrix, positions - center)
    return u + center + offset[:, None, :]


def _map_index(index, size, fill_mode):
    """Integer indices mapped into ``[0, size)``, and whether each was inside."""
    inside = ops.logical_and(index >= 0, index < size)
    if fill_mode == "reflect":
        period = 2 * size
        index = ops.mod(index, period)  # floor modulo: non-negative
        index = ops.where(index >= size, period - 1 - index, index)
    return ops.clip(index, 0, size - 1), inside


def resample(images, coordinates, interpolation="linear", fill_mode="constant", fill_value=0.0):
    """Sample ``images`` at ``coordinates``; the output has the input's shape.

    Args:
        images: ``(batch, n_1, ..., n_r, channels)``. With ``interpolation="nearest"`` any dtype
            (integer masks stay integer); ``"linear"`` needs a float dtype.
        coordinates: ``(batch, n_1 * ... * n_r, r)`` input positions in pixels (as from
            :func:`affine_coordinates`).
        interpolation: ``"linear"`` or ``"nearest"`` (rounds halves up).
        fill_mode: ``"constant"``, ``"nearest"`` or ``"reflect"`` (see the module docstring).
        fill_value: the value read outside the input with ``fill_mode="constant"``.

    Returns:
        A tensor of the shape and dtype of ``images``.

    Raises:
        ValueError: an unknown ``interpolation`` or ``fill_mode``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(6, dtype="float32").reshape(1, 2, 3, 1)
        >>> u = affine_coordinates((2, 3), np.eye(2, dtype="float32")[None], np.array([[0.0, 0.5]], "float32"))
        >>> print(resample(x, u).shape)
        (1, 2, 3, 1)
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}.")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}, got {fill_mode!r}.")
    images = ops.convert_to_tensor(images)
    shape = ops.shape(images)
    batch, sizes, channels = shape[0], _spatial_sizes(shape), shape[-1]
    rank = len(sizes)
    num_in = 1
    strides = []
    for n in reversed(sizes):
        strides.insert(0, num_in)
        num_in = num_in * n
    flat = ops.reshape(images, (-1, channels))
    base = ops.reshape(ops.arange(batch, dtype="int32") * ops.cast(num_in, "int32"), (-1, 1))
    coordinates = ops.cast(coordinates, "float32")
    fill = ops.cast(fill_value, images.dtype)

    if interpolation == "nearest":
        lower = ops.cast(ops.floor(coordinates + 0.5), "int32")
        corners = [((0,) * rank, None)]
    else:
        lower = ops.cast(ops.floor(coordinates), "int32")
        frac = coordinates - ops.floor(coordinates)
        corners = [(bits, frac) for bits in itertools.product((0, 1), repeat=rank)]

    output = None
    for bits, frac in corners:
        flat_index = base
        valid = None
        weight = None
        for k in range(rank):
            size = ops.cast(sizes[k], "int32")
            index, inside = _map_index(lower[..., k] + bits[k], size, fill_mode)
            flat_index = flat_index + index * ops.cast(strides[k], "int32")
            valid = inside if valid is None else ops.logical_and(valid, inside)
            if frac is not None:
                w = frac[..., k] if bits[k] else 1.0 - frac[..., k]
                weight = w if weight is None else weight * w
        values = ops.take(flat, ops.reshape(flat_index, (-1,)), axis=0)
        values = ops.reshape(values, (batch, -1, channels))
        if fill_mode == "constant":
            values = ops.where(valid[..., None], values, fill)
        if weight is not None:
            values = values * ops.cast(weight, images.dtype)[..., None]
        output = values if output is None else output + values
    return ops.reshape(output, shape)
