"""Intensity augmentations: contrast, brightness, colour, Gaussian noise, gamma, erasing.

They change pixel values, not positions, so a segmentation mask passed with the image
(``{"image": x, "mask": m}``) comes back unchanged. Values are in the data's own units;
``value_range`` (default ``(0, 1)``, as :func:`biocnn.data.scale_intensities` gives) tells the
layers that need it (colour, gamma, noise-filled erasing) what the data's range is.
"""

import math
import numbers

import keras
from keras import ops

from biocnn.augment.base import (
    Augmentation,
    as_tuple,
    check_non_negative,
    check_probability,
    check_range,
    check_value_range,
    per_sample,
)

__all__ = [
    "GaussianNoise",
    "RandomBrightness",
    "RandomColor",
    "RandomContrast",
    "RandomErasing",
    "RandomGamma",
]


def _uniform_per_sample(layer, shape, bounds):
    low, high = bounds
    return keras.random.uniform((shape[0],), low, high, seed=layer.seed_generator)


@keras.saving.register_keras_serializable(package="biocnn")
class RandomContrast(Augmentation):
    """Scale each sample's deviations from its mean by a random factor.

    ``y = (x - m) * c + m`` with ``m`` the sample's mean over its spatial axes (per channel)
    and ``c = 1 + delta``, ``delta`` uniform in ``factor`` (as ``tf.image.adjust_contrast``).

    Args:
        factor: ``f`` in ``[0, 1)`` for ``c`` in ``[1 - f, 1 + f]`` (default 0.2), or a pair
            ``(low, high)`` of deltas with ``low > -1``. 0 is the identity.
        rank: spatial rank (1, 2, 3); None: batched input.
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: a negative factor or one that makes ``c <= 0``.

    Example:
        >>> import numpy as np
        >>> y = RandomContrast(0.3, seed=1)(np.random.rand(2, 28, 28, 1), training=True)
        >>> print(y.shape)
        (2, 28, 28, 1)
    """

    def __init__(self, factor=0.2, rank=None, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.factor = check_range("RandomContrast", "factor", as_tuple(factor), lowest=-1.0)

    def _is_identity(self):
        return self.factor == (0.0, 0.0)

    def _draw(self, shape, dtype):
        return {"contrast": 1.0 + _uniform_per_sample(self, shape, self.factor)}

    def _apply(self, images, transformation):
        ndim = len(images.shape)
        mean = ops.mean(images, axis=tuple(range(1, ndim - 1)), keepdims=True)
        c = ops.cast(per_sample(transformation["contrast"], ndim), images.dtype)
        return (images - mean) * c + mean

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor})
        return config


@keras.saving.register_keras_serializable(package="biocnn")
class RandomBrightness(Augmentation):
    """Add a random offset to each sample: ``y = x + delta``, ``delta`` uniform in ``factor``.

    The offset is in the data's units (for data in [0, 1], ``factor=0.1`` shifts by up to a
    tenth of the range). Nothing is clipped.

    Args:
        factor: ``f >= 0`` for ``delta`` in ``[-f, f]`` (default 0.1), or a pair ``(low, high)``.
            0 is the identity.
        rank: spatial rank (1, 2, 3); None: batched input.
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: a negative factor or a pair with ``low > high``.

    Example:
        >>> import numpy as np
        >>> y = RandomBrightness(0.1, seed=1)(np.random.rand(2, 28, 28, 1), training=True)
        >>> print(y.shape)
        (2, 28, 28, 1)
    """

    def __init__(self, factor=0.1, rank=None, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.factor = check_range("RandomBrightness", "factor", as_tuple(factor))

    def _is_identity(self):
        return self.factor == (0.0, 0.0)

    def _draw(self, shape, dtype):
        return {"brightness": _uniform_per_sample(self, shape, self.factor)}

    def _apply(self, images, transformation):
        ndim = len(images.shape)
        return images + ops.cast(per_sample(transformation["brightness"], ndim), images.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor})
        return config


@keras.saving.register_keras_serializable(package="biocnn")
class RandomGamma(Augmentation):
    """Random gamma correction: ``y = lo + (hi - lo) * ((x - lo) / (hi - lo)) ** gamma``.

    ``gamma = 1 + delta``, ``delta`` uniform in ``factor``, per sample; ``(lo, hi)`` is
    ``value_range``. Values are clipped to ``value_range`` first (a power of a negative
    number is undefined). ``gamma < 1`` brightens dark regions, ``gamma > 1`` darkens them.

    Args:
        factor: ``f`` in ``[0, 1)`` for ``gamma`` in ``[1 - f, 1 + f]`` (default 0.3), or a pair
            ``(low, high)`` of deltas with ``low > -1``. 0 is the identity.
        value_range: ``(low, high)`` of the data (default ``(0, 1)``).
        rank: spatial rank (1, 2, 3); None: batched input.
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape, within ``value_range``.

    Raises:
        ValueError: a factor that makes ``gamma <= 0``, or a bad ``value_range``.

    Example:
        >>> import numpy as np
        >>> y = RandomGamma(0.3, seed=1)(np.random.rand(2, 8, 8, 8, 1), training=True)
        >>> print(y.shape)
        (2, 8, 8, 8, 1)
    """

    def __init__(self, factor=0.3, value_range=(0.0, 1.0), rank=None, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.factor = check_range("RandomGamma", "factor", as_tuple(factor), lowest=-1.0)
        self.value_range = check_value_range("RandomGamma", as_tuple(value_range))

    def _is_identity(self):
        return self.factor == (0.0, 0.0)

    def _draw(self, shape, dtype):
        return {"gamma": 1.0 + _uniform_per_sample(self, shape, self.factor)}

    def _apply(self, images, transformation):
        low, high = self.value_range
        ndim = len(images.shape)
        unit = ops.clip((images - low) / (high - low), 0.0, 1.0)
        gamma = ops.cast(per_sample(transformation["gamma"], ndim), images.dtype)
        return low + (high - low) * ops.power(unit, gamma)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range})
        return config


@keras.saving.register_keras_serializable(package="biocnn")
class GaussianNoise(Augmentation):
    """Add zero-mean Gaussian noise of standard deviation ``stddev`` to every value.

    Unlike ``keras.layers.GaussianNoise`` it draws, then applies (the noise is part of the
    draw), works on unbatched samples and leaves a mask passed with the image untouched.

    Args:
        stddev: the noise's standard deviation in data units (default 0.05); 0 is the identity.
        rank: spatial rank (1, 2, 3); None: batched input.
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: a negative ``stddev``.

    Example:
        >>> import numpy as np
        >>> y = GaussianNoise(0.1, seed=1)(np.zeros((2, 60, 4), "float32"), training=True)
        >>> print(y.shape)
        (2, 60, 4)
    """

    def __init__(self, stddev=0.05, rank=None, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.stddev = check_non_negative("GaussianNoise", "stddev", stddev)

    def _is_identity(self):
        return self.stddev == 0.0

    def _draw(self, shape, dtype):
        return {"noise": keras.random.normal(shape, stddev=self.stddev, dtype=dtype, seed=self.seed_generator)}

    def _apply(self, images, transformation):
        return images + ops.cast(transformation["noise"], images.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev})
        return config


@keras.saving.register_keras_serializable(package="biocnn")
class RandomColor(Augmentation):
    """Random hue and saturation for 3-channel (RGB) images or volumes.

    Each sample's pixels go to HSV; the hue is turned by ``dh`` (a fraction of the colour
    circle, uniform in ``hue``) and the saturation multiplied by ``1 + ds`` (``ds`` uniform in
    ``saturation``, result clipped to [0, 1]); then back to RGB. ``value_range`` maps the data
    to [0, 1] for the conversion and back.

    Args:
        hue: ``h`` in ``[0, 0.5]`` for ``dh`` in ``[-h, h]`` (default 0.05), or a pair.
        saturation: ``s`` in ``[0, 1)`` for ``ds`` in ``[-s, s]`` (default 0.2), or a pair with
            low end ``> -1``. Both 0: the identity.
        value_range: ``(low, high)`` of the data (default ``(0, 1)``).
        rank: spatial rank (1, 2, 3); None: batched input.
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: inputs without exactly 3 channels, or bad ``hue``/``saturation``/``value_range``.

    Example:
        >>> import numpy as np
        >>> y = RandomColor(seed=1)(np.random.rand(2, 72, 96, 3), training=True)
        >>> print(y.shape)
        (2, 72, 96, 3)
    """

    def __init__(self, hue=0.05, saturation=0.2, value_range=(0.0, 1.0), rank=None, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.hue = check_range("RandomColor", "hue", as_tuple(hue))
        if max(abs(v) for v in self.hue) > 0.5:
            raise ValueError(f"RandomColor: hue shifts are fractions of the colour circle in [-0.5, 0.5], got {hue!r}.")
        self.saturation = check_range("RandomColor", "saturation", as_tuple(saturation), lowest=-1.0)
        self.value_range = check_value_range("RandomColor", as_tuple(value_range))

    def _check_channels(self, channels):
        if channels is not None and channels != 3:
            raise ValueError(
                f"RandomColor needs 3-channel (RGB) input, got {channels} channel(s). For grey "
                "images use RandomContrast or RandomBrightness; leave 'color' out of the policy."
            )

    def _is_identity(self):
        return self.hue == (0.0, 0.0) and self.saturation == (0.0, 0.0)

    def _draw(self, shape, dtype):
        return {
            "hue": _uniform_per_sample(self, shape, self.hue),
            "saturation": 1.0 + _uniform_per_sample(self, shape, self.saturation),
        }

    def _apply(self, images, transformation):
        low, high = self.value_range
        shape = ops.shape(images)
        # rgb_to_hsv works per pixel but wants an image layout: (batch, pixels, 1, 3).
        rgb = ops.clip((ops.reshape(images, (shape[0], -1, 1, 3)) - low) / (high - low), 0.0, 1.0)
        hsv = ops.image.rgb_to_hsv(rgb)
        h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
        h = ops.mod(h + ops.cast(per_sample(transformation["hue"], 3), h.dtype), 1.0)
        s = ops.clip(s * ops.cast(per_sample(transformation["saturation"], 3), s.dtype), 0.0, 1.0)
        rgb = ops.image.hsv_to_rgb(ops.stack([h, s, v], axis=-1))
        return ops.reshape(low + (high - low) * rgb, shape)

    def get_config(self):
        config = super().get_config()
        config.update({"hue": self.hue, "saturation": self.saturation, "value_range": self.value_range})
        return config


@keras.saving.register_keras_serializable(package="biocnn")
class RandomErasing(Augmentation):
    """Random erasing (Zhong et al., AAAI 2020): set a random box of a sample to noise or a constant.

    With probability ``probability`` a sample gets one box covering a fraction ``a`` of its
    spatial extent (``a`` uniform in ``area``). The box's sides are ``n_k * a**(1/r) * e_k``
    along the r spatial axes, with ``e_k`` such that the ratios of the sides (relative to the
    axis lengths) lie in ``aspect_ratio`` and their product is 1; its position is uniform among
    the positions where it fits. All channels of the box are replaced: by noise uniform in
    ``value_range`` (``fill="noise"``, the paper's choice) or by a constant (``fill=<number>``).
    The draw holds ``apply``, ``starts`` and ``sizes`` (per sample and spatial axis) and the
    noise. A mask passed with the image is left unchanged.

    Args:
        probability: chance that a sample is erased (default 0.5); 0 is the identity.
        area: ``(low, high)`` fractions of the sample's extent (default ``(0.02, 0.33)``).
        aspect_ratio: ``(low, high)`` of the side ratios for 2 or 3 spatial axes (default
            ``(0.3, 3.3)``); ignored for sequences.
        fill: ``"noise"`` (default) or a number.
        value_range: ``(low, high)`` of the noise (default ``(0, 1)``).
        rank: spatial rank (1, 2, 3); None: batched input.
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: a probability outside [0, 1], an ``area`` outside (0, 1], an aspect ratio
            that is not a positive pair, or a ``fill`` that is neither "noise" nor a number.

    Example:
        >>> import numpy as np
        >>> y = RandomErasing(probability=1.0, seed=1)(np.zeros((2, 28, 28, 1), "float32"), training=True)
        >>> print(y.shape)
        (2, 28, 28, 1)
    """

    def __init__(self, probability=0.5, area=(0.02, 0.33), aspect_ratio=(0.3, 3.3), fill="noise",
                 value_range=(0.0, 1.0), rank=None, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.probability = check_probability("RandomErasing", "probability", probability)
        self.area = self._pair("area", area, 0.0, 1.0)
        self.aspect_ratio = self._pair("aspect_ratio", aspect_ratio, 0.0, math.inf)
        if fill != "noise" and (isinstance(fill, bool) or not isinstance(fill, numbers.Real)):
            raise ValueError(f"RandomErasing: fill must be 'noise' or a number, got {fill!r}.")
        self.fill = fill if fill == "noise" else float(fill)
        self.value_range = check_value_range("RandomErasing", as_tuple(value_range))

    @staticmethod
    def _pair(name, value, lowest, highest):
        value = as_tuple(value)
        ok = (
            isinstance(value, tuple) and len(value) == 2
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
            and lowest < value[0] <= value[1] <= highest
        )
        if not ok:
            raise ValueError(
                f"RandomErasing: {name} must be a pair (low, high) with {lowest:g} < low <= high"
                f"{' <= ' + format(highest, 'g') if math.isfinite(highest) else ''}; got {value!r}."
            )
        return float(value[0]), float(value[1])

    def _is_identity(self):
        return self.probability == 0.0

    def _draw(self, shape, dtype):
        batch, sizes = shape[0], shape[1:-1]
        rank = len(sizes)
        gen = self.seed_generator
        apply = keras.random.uniform((batch,), seed=gen) < self.probability
        area = keras.random.uniform((batch, 1), self.area[0], self.area[1], seed=gen)
        # Side ratios: log-uniform aspect of every axis against the first, then normalised so
        # that the relative sides multiply to 1 (for 2D: h/w = 1/ratio, as in the paper).
        log_low, log_high = math.log(self.aspect_ratio[0]), math.log(self.aspect_ratio[1])
        log_ratio = keras.random.uniform((batch, rank), log_low, log_high, seed=gen)
        log_ratio = ops.concatenate([ops.zeros_like(log_ratio[:, :1]), log_ratio[:, 1:]], axis=1)
        log_ratio = log_ratio - ops.mean(log_ratio, axis=1, keepdims=True)
        n = ops.cast(ops.stack(list(sizes)), "float32")[None]  # (1, r)
        side = n * ops.power(area, 1.0 / rank) * ops.exp(log_ratio)
        side = ops.clip(ops.round(side), 1.0, n)
        start = ops.floor(keras.random.uniform((batch, rank), seed=gen) * (n - side + 1.0))
        draw = {
            "apply": apply,
            "starts": ops.cast(start, "int32"),
            "sizes": ops.cast(side, "int32"),
        }
        if self.fill == "noise":
            low, high = self.value_range
            draw["values"] = keras.random.uniform(shape, low, high, dtype=dtype, seed=gen)
        return draw

    @staticmethod
    def _box(shape, transformation):
        """The erased region of a draw as a boolean tensor ``(batch, *spatial, 1)``.

        Args:
            shape: the batched shape of the images.
            transformation: a draw of :meth:`get_random_transformation`.

        Returns:
            True inside the box of every sample that is erased.
        """
        rank = len(shape) - 2
        inside = per_sample(transformation["apply"], rank + 2)
        starts, sizes = transformation["starts"], transformation["sizes"]
        for k in range(rank):
            position = ops.arange(shape[k + 1], dtype="int32")[None]  # (1, n_k)
            start, size = starts[:, k : k + 1], sizes[:, k : k + 1]
            along = ops.logical_and(position >= start, position < start + size)  # (B, n_k)
            view = [-1] + [1] * (rank + 1)
            view[k + 1] = shape[k + 1]
            inside = ops.logical_and(inside, ops.reshape(along, view))
        return inside

    def _apply(self, images, transformation):
        inside = self._box(tuple(ops.shape(images)), transformation)
        if self.fill == "noise":
            values = ops.cast(transformation["values"], images.dtype)
        else:
            values = ops.cast(self.fill, images.dtype)
        return ops.where(inside, values, images)

    def get_config(self):
        config = super().get_config()
        config.update({
            "probability": self.probability,
            "area": self.area,
            "aspect_ratio": self.aspect_ratio,
            "fill": self.fill,
            "value_range": self.value_range,
        })
        return config
