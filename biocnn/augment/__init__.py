"""Augmentation layers for sequences, images and volumes: one implementation for every rank.

Keras's own augmentation layers handle 2D images only; these take channels-last input with 1,
2 or 3 spatial axes (batched, or one sample when ``rank`` is given), are active only with
``training=True``, draw their randomness from a seeded ``keras.random.SeedGenerator``
(``layer.seed_generator``), apply the same draw to an image and its mask (``{"image": x,
"mask": m}``), and save with a model to ``.keras``. See :mod:`biocnn.augment.base`.

* geometric (masks follow): :class:`RandomFlip`, :class:`RandomRot90`, :class:`RandomRotation`,
  :class:`RandomScaleCrop`, :class:`RandomCrop`, :class:`RandomShift`,
  :class:`ReverseComplement`;
* intensity (masks unchanged): :class:`RandomContrast`, :class:`RandomBrightness`,
  :class:`RandomColor`, :class:`GaussianNoise`, :class:`RandomGamma`, :class:`RandomErasing`;
* labels: :class:`MixUp`, a transform of ``(x, y)`` training batches;
* :func:`policy` and :data:`POLICIES`: a pipeline for a modality from a name or a spec.

Example:
    >>> import numpy as np
    >>> from biocnn import augment
    >>> flip = augment.RandomFlip(seed=0)
    >>> print(flip(np.zeros((2, 16, 16, 16, 1), "float32"), training=True).shape)
    (2, 16, 16, 16, 1)
"""

from biocnn.augment.base import FILL_MODES, INTERPOLATIONS, Augmentation
from biocnn.augment.geometric import RandomCrop, RandomFlip, RandomRot90, RandomRotation, RandomScaleCrop
from biocnn.augment.intensity import (
    GaussianNoise,
    RandomBrightness,
    RandomColor,
    RandomContrast,
    RandomErasing,
    RandomGamma,
)
from biocnn.augment.mixup import MixUp
from biocnn.augment.policy import ENTRIES, POLICIES, parse_spec, policy
from biocnn.augment.sequence import DNA_ALPHABET, RNA_ALPHABET, RandomShift, ReverseComplement

__all__ = [
    "Augmentation",
    "DNA_ALPHABET",
    "ENTRIES",
    "FILL_MODES",
    "GaussianNoise",
    "INTERPOLATIONS",
    "MixUp",
    "POLICIES",
    "RNA_ALPHABET",
    "RandomBrightness",
    "RandomColor",
    "RandomContrast",
    "RandomCrop",
    "RandomErasing",
    "RandomFlip",
    "RandomGamma",
    "RandomRot90",
    "RandomRotation",
    "RandomScaleCrop",
    "RandomShift",
    "ReverseComplement",
    "parse_spec",
    "policy",
]
