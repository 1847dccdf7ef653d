"""Augmentations for one-hot nucleic-acid sequences: reverse complement and random shifts.

Channel order: one-hot DNA is ``(length, 4)`` with the channels in the order **A, C, G, T**
(RNA: A, C, G, U). With this order the complement of a base is the channel read backwards
(A<->T is 0<->3, C<->G is 1<->2), so the reverse complement of a sequence is its one-hot
reversed along the length *and* along the channels. This is the order of
:func:`biocnn.data.one_hot`, whose other rows stay right too: N (uniform, 0.25 each) stays N,
an ambiguity code becomes its complement's code (R ``[.5, 0, .5, 0]`` -> Y
``[0, .5, 0, .5]``), padding (all zeros) stays padding. Protein (20 channels) has no
complement: :class:`ReverseComplement` raises.
"""

import numbers

import keras
from keras import ops

from biocnn.augment.base import Augmentation, as_tuple, check_probability, normalize_axes, per_sample
from biocnn.augment.geometric import check_extent, Translation

__all__ = ["DNA_ALPHABET", "RNA_ALPHABET", "RandomShift", "ReverseComplement"]

#: The channel order of one-hot DNA that :class:`ReverseComplement` expects.
DNA_ALPHABET = "ACGT"
#: The same for RNA.
RNA_ALPHABET = "ACGU"


@keras.saving.register_keras_serializable(package="biocnn")
class ReverseComplement(Augmentation):
    """Replace a one-hot DNA/RNA sequence by its reverse complement, with a probability.

    A sequence reads the same biology on both strands, so the reverse complement is a free
    extra training example. For one-hot input in the order A, C, G, T (or A, C, G, U) it is
    ``x[::-1, ::-1]``: the length reversed and the channels reversed. A per-position mask
    passed with the sequence (``{"image": x, "mask": m}``) is reversed along the length only.

    Args:
        probability: chance per sequence (default 0.5); 0 is the identity.
        rank: must be 1 (default; also accepts one unbatched ``(length, 4)`` sequence).
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: input that is not ``(batch, length, 4)`` or ``(length, 4)``, e.g. protein
            (20 channels) or an image.

    Example:
        >>> import numpy as np
        >>> x = np.eye(4, dtype="float32")[[[0, 0, 2, 3]]]  # AAGT, shape (1, 4, 4)
        >>> y = ReverseComplement(probability=1.0)(x, training=True)
        >>> print(y.shape, np.asarray(y)[0].argmax(-1))  # ACTT
        (1, 4, 4) [0 1 3 3]
    """

    geometric = True
    max_rank = 1

    def __init__(self, probability=0.5, rank=1, seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.probability = check_probability("ReverseComplement", "probability", probability)

    def _check_channels(self, channels):
        if channels is not None and channels != 4:
            raise ValueError(
                f"ReverseComplement needs one-hot DNA or RNA with 4 channels in the order "
                f"A, C, G, T (or A, C, G, U), got {channels} channel(s). Protein sequences (20 "
                "channels) have no reverse complement; leave 'revcomp' out of their policy."
            )

    def _is_identity(self):
        return self.probability == 0.0

    def _draw(self, shape, dtype):
        return {"flip": keras.random.uniform((shape[0],), seed=self.seed_generator) < self.probability}

    def _apply(self, images, transformation):
        flip = per_sample(transformation["flip"], 3)
        return ops.where(flip, ops.flip(ops.flip(images, 1), 2), images)

    def _apply_mask(self, masks, transformation):
        return ops.where(per_sample(transformation["flip"], 3), ops.flip(masks, 1), masks)

    def get_config(self):
        config = super().get_config()
        config.update({"probability": self.probability})
        return config


@keras.saving.register_keras_serializable(package="biocnn")
class RandomShift(Translation):
    """Shift each sample by a random whole number of positions, padding what is uncovered.

    ``y[p] = x[p - s]`` with ``s`` uniform in ``[-max_shift, max_shift]`` per chosen axis
    and sample; positions shifted in from outside read ``fill_value`` (default 0: for one-hot
    DNA an all-zero column, which is padding in :func:`biocnn.data.one_hot`) or follow
    ``fill_mode``. Meant for sequences
    (a motif's position should not matter), it works for every rank.

    Args:
        max_shift: positions (int, default 3) or a fraction of the axis length (float in
            [0, 1)), or one value per axis in ``axes``. 0 is the identity.
        axes: spatial axes to shift, or None (default) for all.
        fill_mode: ``"constant"`` (default), ``"nearest"`` or ``"reflect"``.
        fill_value: the value shifted in with ``fill_mode="constant"`` (masks: 0).
        rank: spatial rank (1, 2, 3); None: batched input.
        seed: int or None.
        **kwargs: base layer arguments.

    Returns:
        Tensors of the input's shape.

    Raises:
        ValueError: a negative or non-integer shift, a fraction not below 1, or a bad axis.

    Example:
        >>> import numpy as np
        >>> y = RandomShift(5, seed=1)(np.zeros((8, 60, 4), "float32"), training=True)
        >>> print(y.shape)
        (8, 60, 4)
    """

    def __init__(self, max_shift=3, axes=None, fill_mode="constant", fill_value=0.0, rank=None,
                 seed=None, **kwargs):
        super().__init__(rank=rank, seed=seed, **kwargs)
        self.max_shift = check_extent("RandomShift", "max_shift", max_shift)
        self.axes = as_tuple(axes) if not isinstance(axes, numbers.Integral) else (int(axes),)
        self._check_sampling("nearest", fill_mode, fill_value)
        if self.rank is not None:
            normalize_axes("RandomShift", "axes", self.axes, self.rank)

    def _is_identity(self):
        values = self.max_shift if isinstance(self.max_shift, tuple) else (self.max_shift,)
        return all(v == 0 for v in values)

    def _extents(self, shape):
        axes = normalize_axes("RandomShift", "axes", self.axes, len(shape) - 2)
        return self._per_axis(self.max_shift, shape, axes)

    def get_config(self):
        config = super().get_config()
        config.update({
            "max_shift": self.max_shift,
            "axes": self.axes,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
        })
        return config
