"""The base of every biocnn augmentation layer: draw, then apply, for any spatial rank.

An augmentation layer works on channels-last tensors with 1, 2 or 3 spatial axes:
``(batch, length, channels)`` sequences, ``(batch, height, width, channels)`` images and
``(batch, depth, height, width, channels)`` volumes, or one unbatched sample of these.

* **Draw, then apply.** :meth:`Augmentation.get_random_transformation` draws the random
  parameters of a batch once (one draw per sample) from the layer's
  ``keras.random.SeedGenerator``; :meth:`Augmentation.transform` applies a draw to an image and
  :meth:`Augmentation.transform_mask` applies the same draw to a segmentation mask. Geometric
  layers move the mask with the image (nearest-neighbour); intensity layers leave it unchanged.
* **Training only.** ``layer(x)`` and ``layer(x, training=False)`` return ``x`` (cast to the
  layer's compute dtype); only ``training=True`` augments. Inside a model Keras passes
  ``training=True`` in ``fit`` and ``False`` in ``predict``/``evaluate``; in a ``tf.data``
  pipeline pass it yourself: ``ds.map(lambda x: layer(x, training=True))``.
* **Zero strength is the identity**: a layer whose strength is 0 returns its input unchanged.
* **Rank.** With ``rank=None`` (default) the input is a batch, and its spatial rank is
  ``ndim - 2``. Give ``rank`` (1, 2 or 3) to also accept single unbatched samples, which are
  ambiguous otherwise: ``(28, 28, 1)`` is one image for ``rank=2`` but a batch of 28 sequences
  for ``rank=1``.
* **Image and mask together**: call the layer on a dict ``{"image": x, "mask": m}``; other keys
  pass through untouched. The mask has the image's layout, with or without its channel axis.
"""

import numbers

import keras
from keras import ops

__all__ = ["Augmentation", "FILL_MODES", "INTERPOLATIONS"]

#: How values outside the input are filled by geometric layers that sample between pixels.
FILL_MODES = ("constant", "nearest", "reflect")
#: Interpolations of the geometric layers that sample between pixels.
INTERPOLATIONS = ("linear", "nearest")


# --------------------------------------------------------------------------------------------
# Argument checks shared by the layers (errors name the layer and the argument)
# --------------------------------------------------------------------------------------------


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_rank(owner, rank, min_rank=1, max_rank=3):
    """``rank`` as an int in ``[min_rank, max_rank]``, or None."""
    if rank is None:
        return None
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or not min_rank <= rank <= max_rank:
        valid = ", ".join(str(r) for r in range(min_rank, max_rank + 1))
        raise ValueError(
            f"{owner}: rank must be the number of spatial axes ({valid}) or None for batched "
            f"input, got rank={rank!r}."
        )
    return int(rank)


def check_probability(owner, name, value):
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}: {name} must be a probability between 0 and 1, got {value!r}.")
    return float(value)


def check_non_negative(owner, name, value):
    if not _is_number(value) or value < 0:
        raise ValueError(f"{owner}: {name} must be a non-negative number, got {value!r}.")
    return float(value)


def check_range(owner, name, value, lowest=None):
    """A strength: a number ``f >= 0`` means ``(-f, f)``; a pair ``(low, high)`` is kept.

    ``lowest`` (exclusive) bounds the low end, e.g. ``-1`` where ``1 + low`` must stay positive.
    """
    if _is_number(value):
        if value < 0:
            raise ValueError(
                f"{owner}: {name} must be a non-negative number f (meaning the range (-f, f)) or "
                f"a pair (low, high), got {value!r}."
            )
        low, high = -float(value), float(value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_number(v) for v in value):
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise ValueError(f"{owner}: {name} must be a pair (low, high) with low <= high, got {value!r}.")
    else:
        raise ValueError(
            f"{owner}: {name} must be a non-negative number f (meaning the range (-f, f)) or a pair "
            f"(low, high), got {value!r}."
        )
    if lowest is not None and low <= lowest:
        raise ValueError(
            f"{owner}: the low end of {name} must be greater than {lowest:g}, got {value!r}."
        )
    return low, high


def check_choice(owner, name, value, choices):
    if value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {', '.join(map(repr, choices))}; got {value!r}.")
    return value


def check_value_range(owner, value_range):
    if (
        not isinstance(value_range, (tuple, list)) or len(value_range) != 2
        or not all(_is_number(v) for v in value_range) or not value_range[0] < value_range[1]
    ):
        raise ValueError(
            f"{owner}: value_range must be a pair (low, high) with low < high, e.g. (0, 1) or "
            f"(0, 255); got {value_range!r}."
        )
    return float(value_range[0]), float(value_range[1])


def normalize_axes(owner, name, axes, rank):
    """Spatial axes (0-based, negatives count from the last spatial axis) as a tuple of ints."""
    if axes is None:
        return tuple(range(rank))
    items = (axes,) if isinstance(axes, numbers.Integral) and not isinstance(axes, bool) else axes
    try:
        items = tuple(items)
    except TypeError:
        items = (axes,)
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral) or not -rank <= a < rank:
            raise ValueError(
                f"{owner}: {name} must be spatial axes between {-rank} and {rank - 1} for "
                f"{rank} spatial axes (0 is the first axis after the batch), got {axes!r}."
            )
        out.append(int(a) % rank)
    if len(set(out)) != len(out):
        raise ValueError(f"{owner}: {name} names an axis twice: {axes!r}.")
    return tuple(out)


def normalize_planes(owner, planes, rank):
    """Planes as a tuple of pairs of distinct spatial axes; None: the last two spatial axes."""
    if rank < 2:
        raise ValueError(
            f"{owner} needs at least 2 spatial axes (images or volumes), got rank {rank}; "
            "a sequence has no plane to rotate in (use RandomFlip, ReverseComplement or "
            "RandomShift for sequences)."
        )
    if planes is None:
        return ((rank - 2, rank - 1),)
    if len(planes) == 2 and all(isinstance(a, numbers.Integral) for a in planes):
        planes = (planes,)
    out = []
    for plane in planes:
        pair = normalize_axes(owner, "planes", plane, rank)
        if len(pair) != 2:
            raise ValueError(
                f"{owner}: planes must be pairs of two spatial axes such as (0, 1), got {planes!r}."
            )
        out.append(pair)
    return tuple(out)


def as_tuple(value):
    """Lists (from a JSON config) back to tuples, recursively."""
    if isinstance(value, (list, tuple)):
        return tuple(as_tuple(v) for v in value)
    return value


# --------------------------------------------------------------------------------------------
# Tensor helpers
# --------------------------------------------------------------------------------------------


def per_sample(values, ndim):
    """Reshape per-sample values ``(batch,)`` to broadcast against a tensor of ``ndim`` axes."""
    return ops.reshape(values, (-1,) + (1,) * (ndim - 1))


def is_integer_dtype(dtype):
    return keras.backend.standardize_dtype(dtype).startswith(("int", "uint", "bool"))


# --------------------------------------------------------------------------------------------
# The base layer
# --------------------------------------------------------------------------------------------


class Augmentation(keras.layers.Layer):
    """Base class of biocnn's augmentation layers (not registered; subclass it).

    A subclass sets the class attributes ``geometric`` (whether masks follow the image),
    ``min_rank``/``max_rank`` (the spatial ranks it supports), and implements:

    * ``_draw(shape, dtype)``: a dict of per-sample random parameters for a batch of ``shape``
      (a tuple whose batch entry may be a tensor), drawn with ``self.seed_generator``;
    * ``_apply(images, transformation)``: apply a draw to a batch of images;
    * ``_apply_mask(masks, transformation)``: the same for masks (geometric layers only);
    * ``_is_identity()``: whether the layer's strength is 0;
    * ``_check_channels(channels)``: optional check of the channel count.

    Args:
        rank: number of spatial axes (1, 2 or 3) or None (default): batched input only, rank
            ``ndim - 2``. Needed for unbatched samples.
        seed: int or None, seeds the layer's ``keras.random.SeedGenerator``
            (``self.seed_generator``), whose state ``biocnn.training.fit`` checkpoints.
        **kwargs: base layer arguments such as ``name``.
    """

    geometric = False
    min_rank = 1
    max_rank = 3

    def __init__(self, rank=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.rank = check_rank(name, rank)
        if self.rank is not None:
            self._check_supported(self.rank)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"{name}: seed must be an int or None, got {seed!r}.")
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    # -- layout ------------------------------------------------------------------------------

    def _spatial_rank(self, ndim):
        """(spatial rank, batched?) of an input with ``ndim`` axes."""
        name = type(self).__name__
        if self.rank is None:
            rank, batched = ndim - 2, True
            if not 1 <= rank <= 3:
                raise ValueError(
                    f"{name}: expected a batch (batch, *spatial, channels) with 1 to 3 spatial "
                    f"axes, got an input with {ndim} axes. For one unbatched sample, give the "
                    f"layer its rank, e.g. {name}(rank={max(1, min(3, ndim - 1))})."
                )
        elif ndim == self.rank + 2:
            rank, batched = self.rank, True
        elif ndim == self.rank + 1:
            rank, batched = self.rank, False
        else:
            raise ValueError(
                f"{name}(rank={self.rank}) expects (batch, *spatial, channels) with {self.rank} "
                f"spatial axes ({self.rank + 2} axes) or one sample ({self.rank + 1} axes), got "
                f"an input with {ndim} axes."
            )
        self._check_supported(rank)
        return rank, batched

    def _check_supported(self, rank):
        if self.min_rank <= rank <= self.max_rank:
            return
        name = type(self).__name__
        ranks = " or ".join(str(r) for r in range(self.min_rank, self.max_rank + 1))
        hint = ""
        if self.min_rank >= 2:
            hint = (" A sequence has no plane to rotate in; for sequences use RandomFlip, "
                    "ReverseComplement or RandomShift.")
        elif self.max_rank == 1:
            hint = " It works on one-hot sequences of shape (batch, length, 4)."
        word = "axis" if self.max_rank == 1 else "axes"
        raise ValueError(f"{name} needs {ranks} spatial {word}, got {rank}.{hint}")

    def _batched(self, x, is_mask=False):
        x = ops.convert_to_tensor(x)
        if not is_mask:
            x = ops.cast(x, self.compute_dtype)
        rank, batched = self._spatial_rank(len(x.shape))
        if not is_mask:
            self._check_channels(x.shape[-1])
        return (x if batched else ops.expand_dims(x, 0)), batched, rank

    def _check_channels(self, channels):
        return None

    # -- draw --------------------------------------------------------------------------------

    def get_random_transformation(self, data, training=True):
        """Draw the random parameters for a batch (one draw per sample).

        Args:
            data: the images (batched, or one sample when ``rank`` is set), or a dict with an
                ``"image"`` key. Only its shape and dtype are used.
            training: when False, nothing is drawn.

        Returns:
            A dict of tensors whose first axis is the batch (1 for an unbatched sample), or
            None when not training.
        """
        if not training:
            return None
        image = self._image_of(data)
        images, _, _ = self._batched(image)
        return self._draw(tuple(ops.shape(images)), images.dtype)

    # -- apply -------------------------------------------------------------------------------

    def transform(self, images, transformation):
        """Apply a draw of :meth:`get_random_transformation` to images.

        Args:
            images: a batch, or one sample when ``rank`` is set, as at the draw.
            transformation: the dict drawn for these images, or None (identity).

        Returns:
            The transformed images, of the input's shape, in the layer's compute dtype.
        """
        images, batched, _ = self._batched(images)
        if transformation is not None:
            images = self._apply(images, transformation)
        return images if batched else images[0]

    def transform_mask(self, masks, transformation):
        """Apply the geometric part of a draw to segmentation masks (same layout as the image).

        Geometric layers move the mask with nearest-neighbour sampling (labels are never
        blended) and the image's ``fill_mode``, with 0 (background) where the image gets
        ``fill_value``; intensity layers return the mask unchanged.
        The dtype of the mask is kept.

        Args:
            masks: masks laid out like the images, channel axis included.
            transformation: the dict drawn for the images, or None (identity).

        Returns:
            The transformed masks.
        """
        if transformation is None or not self.geometric:
            return masks
        masks, batched, _ = self._batched(masks, is_mask=True)
        masks = self._apply_mask(masks, transformation)
        return masks if batched else masks[0]

    def _apply_mask(self, masks, transformation):
        raise NotImplementedError

    # -- call --------------------------------------------------------------------------------

    @staticmethod
    def _image_of(data):
        if isinstance(data, dict):
            if "image" not in data:
                raise ValueError(
                    "A dict input needs an 'image' key (and optionally 'mask'; other keys pass "
                    f"through unchanged); got keys {sorted(data)}."
                )
            return data["image"]
        return data

    def call(self, inputs, training=None):
        image = self._image_of(inputs)
        active = bool(training) and not self._is_identity()
        transformation = self.get_random_transformation(image, training=True) if active else None
        out_image = self.transform(image, transformation)
        if not isinstance(inputs, dict):
            return out_image
        outputs = dict(inputs, image=out_image)
        if "mask" in inputs and transformation is not None and self.geometric:
            mask = ops.convert_to_tensor(inputs["mask"])
            missing_channel = len(mask.shape) == len(ops.shape(image)) - 1
            mask = ops.expand_dims(mask, -1) if missing_channel else mask
            mask = self.transform_mask(mask, transformation)
            outputs["mask"] = ops.squeeze(mask, -1) if missing_channel else mask
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rank": self.rank, "seed": self.seed})
        return config

    def _is_identity(self):
        return False
