"""Augmentation policies: a standard pipeline for a modality from a name or a short spec.

``policy("microscopy", rank=2, channels=3)`` builds the lecture's list for microscopy;
``policy("flip,rot90,contrast=0.2", rank=3)`` builds one from a spec. The result is a
``keras.Sequential`` of biocnn augmentation layers: put it first in a model, pass it to
``biocnn.training.fit(..., augmentation=...)``, or map it over a ``tf.data`` pipeline with
``training=True``. It saves to ``.keras`` with the model and takes ``{"image", "mask"}``
dicts like its layers.

Spec grammar: entries separated by commas, applied in the order written; each entry is

* ``name``: the layer with its defaults, e.g. ``flip``;
* ``name=value``: the layer's main argument (see :data:`ENTRIES`), e.g. ``contrast=0.2``,
  ``rotation=(-10, 30)``;
* ``name(key=value, ...)``: any constructor arguments, e.g. ``color(hue=0.02, saturation=0.3)``.

Values are Python literals (numbers, tuples, strings, None).
"""

import ast
import inspect

import keras

from biocnn.augment.geometric import RandomCrop, RandomFlip, RandomRot90, RandomRotation, RandomScaleCrop
from biocnn.augment.intensity import (
    GaussianNoise,
    RandomBrightness,
    RandomColor,
    RandomContrast,
    RandomErasing,
    RandomGamma,
)
from biocnn.augment.sequence import RandomShift, ReverseComplement
from biocnn.utils import did_you_mean

__all__ = ["ENTRIES", "POLICIES", "parse_spec", "policy"]

#: Spec names -> (layer class, the argument that ``name=value`` sets).
ENTRIES = {
    "flip": (RandomFlip, "probability"),
    "rot90": (RandomRot90, "probability"),
    "rotation": (RandomRotation, "degrees"),
    "scale": (RandomScaleCrop, "factor"),
    "crop": (RandomCrop, "padding"),
    "erasing": (RandomErasing, "probability"),
    "contrast": (RandomContrast, "factor"),
    "brightness": (RandomBrightness, "factor"),
    "color": (RandomColor, "saturation"),
    "noise": (GaussianNoise, "stddev"),
    "gamma": (RandomGamma, "factor"),
    "revcomp": (ReverseComplement, "probability"),
    "shift": (RandomShift, "max_shift"),
}

#: Named policies -> (spec, spatial ranks they are meant for). Geometric layers come first,
#: intensity layers next, erasing last (Zhong et al. erase after the other augmentations).
POLICIES = {
    "none": ("", (1, 2, 3)),
    # The lecture's list for microscopy: erasing, flip, rotation, scale+crop, crop, contrast,
    # colour (colour only for 3-channel images).
    "microscopy": ("flip,rotation=15,scale=0.1,crop=0.05,contrast=0.2,color,erasing=0.5", (2, 3)),
    "volume": ("flip,rot90,rotation=10,scale=0.1,contrast=0.2,gamma=0.3,noise=0.03", (3,)),
    "sequence": ("revcomp,shift=3", (1,)),
}

# Entries that a named policy drops when the channels do not fit, and what they need.
_CHANNELS_NEEDED = {"color": 3, "revcomp": 4}


def _split_entries(spec):
    """Split on commas that are not inside parentheses."""
    entries, depth, current = [], 0, []
    for char in spec:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            entries.append("".join(current))
            current = []
        else:
            current.append(char)
    entries.append("".join(current))
    return [e.strip() for e in entries if e.strip()]


def _literal(text, entry):
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        raise ValueError(
            f"augmentation spec entry '{entry}': cannot read the value {text.strip()!r}; use a "
            "number, a tuple such as (0.9, 1.1), a quoted string or None."
        ) from None


def _unknown(name, entry):
    hint = did_you_mean(name, list(ENTRIES) + ["mixup"])
    if name == "mixup":
        return ValueError(
            "augmentation spec: 'mixup' changes the labels, so it cannot be a step in front of "
            "a model; use biocnn.augment.MixUp(...).batch_transform on (x, y) training batches."
        )
    return ValueError(
        f"Unknown augmentation '{name}' in spec entry '{entry}'.{hint} Valid names: "
        f"{', '.join(ENTRIES)}; named policies: {', '.join(POLICIES)}."
    )


def parse_spec(spec):
    """Parse a spec string into ``[(name, kwargs), ...]``.

    Args:
        spec: e.g. ``"flip,rot90,contrast=0.2,color(hue=0.02, saturation=0.3)"``.

    Returns:
        A list of ``(name, kwargs)`` pairs in the order written.

    Raises:
        ValueError: an unknown name (with the closest valid one), an unreadable value, or a
            keyword the layer does not take.

    Example:
        >>> parse_spec("flip,contrast=0.2")
        [('flip', {}), ('contrast', {'factor': 0.2})]
    """
    if not isinstance(spec, str):
        raise TypeError(f"augmentation spec must be a string such as 'flip,contrast=0.2', got {spec!r}.")
    parsed = []
    for entry in _split_entries(spec):
        if "(" in entry and entry.endswith(")") and "=" not in entry.split("(", 1)[0]:
            name, inner = entry.split("(", 1)
            name = name.strip().lower()
            if name not in ENTRIES:
                raise _unknown(name, entry)
            try:
                call = ast.parse(f"f({inner}", mode="eval").body
            except SyntaxError:
                raise ValueError(
                    f"augmentation spec entry '{entry}': expected name(key=value, ...)."
                ) from None
            if call.args:
                raise ValueError(
                    f"augmentation spec entry '{entry}': give arguments by keyword, e.g. "
                    f"{name}({ENTRIES[name][1]}=...)."
                )
            kwargs = {kw.arg: _literal(ast.unparse(kw.value), entry) for kw in call.keywords}
        elif "=" in entry:
            name, value = entry.split("=", 1)
            name = name.strip().lower()
            if name not in ENTRIES:
                raise _unknown(name, entry)
            kwargs = {ENTRIES[name][1]: _literal(value, entry)}
        else:
            name = entry.lower()
            if name not in ENTRIES:
                raise _unknown(name, entry)
            kwargs = {}
        layer_class = ENTRIES[name][0]
        accepted = set(inspect.signature(layer_class.__init__).parameters) - {"self", "kwargs", "rank", "seed"}
        for key in kwargs:
            if key not in accepted:
                hint = did_you_mean(key, sorted(accepted))
                raise ValueError(
                    f"augmentation spec entry '{entry}': {layer_class.__name__} takes no argument "
                    f"'{key}'.{hint} It takes: {', '.join(sorted(accepted))}."
                )
        parsed.append((name, kwargs))
    return parsed


def policy(name_or_spec, rank, seed=None, channels=None, name=None):
    """Build an augmentation pipeline for a modality from a policy name or a spec.

    Named policies (:data:`POLICIES`):

    * ``"none"``: the identity;
    * ``"microscopy"`` (rank 2 or 3): flip, rotation by up to 15 degrees, scale+crop by up to
      10 %, pad+crop by 5 %, contrast 20 %, colour (only when ``channels == 3``), erasing;
    * ``"volume"`` (rank 3): flips on all axes, in-plane 90-degree rotations, rotation by up to
      10 degrees, scale+crop 10 %, contrast 20 %, gamma 0.7-1.3, Gaussian noise 0.03;
    * ``"sequence"`` (rank 1, one-hot DNA/RNA): reverse complement, shift by up to 3 bases.

    Args:
        name_or_spec: a key of :data:`POLICIES` or a spec such as ``"flip,rot90,contrast=0.2"``
            (grammar in the module docstring).
        rank: the data's spatial rank (1: sequences, 2: images, 3: volumes); each layer gets
            it, so the pipeline also takes unbatched samples.
        seed: int or None; layer ``i`` gets ``seed + i``, so a seeded pipeline repeats its draws
            and its layers draw independently of each other.
        channels: the number of channels, if known: named policies keep colour only for 3 and
            reverse complement only for 4, and a spec that asks for them with other channels
            fails here rather than at the first batch.
        name: the Sequential's name (default ``augment_<policy>`` or ``augment``).

    Returns:
        A ``keras.Sequential`` of augmentation layers (an ``Identity`` layer for ``"none"``).

    Raises:
        ValueError: an unknown policy or layer name (with a suggestion), a named policy used
            with another rank, or a layer that does not fit ``rank`` or ``channels``.

    Example:
        >>> import numpy as np
        >>> augment = policy("microscopy", rank=2, seed=0, channels=1)
        >>> print(augment(np.random.rand(4, 28, 28, 1), training=True).shape)
        (4, 28, 28, 1)
    """
    if isinstance(rank, bool) or rank not in (1, 2, 3):
        raise ValueError(f"policy: rank must be 1 (sequences), 2 (images) or 3 (volumes), got {rank!r}.")
    rank = int(rank)
    key = name_or_spec.strip().lower() if isinstance(name_or_spec, str) else name_or_spec
    named = key in POLICIES
    if named:
        spec, ranks = POLICIES[key]
        if rank not in ranks:
            raise ValueError(
                f"policy '{key}' is meant for rank {' or '.join(map(str, ranks))}, got rank={rank}. "
                f"Pick a policy for this rank or write a spec such as 'flip,contrast=0.2'."
            )
    else:
        spec = name_or_spec
        if isinstance(spec, str) and "," not in spec and "=" not in spec and "(" not in spec:
            entry = spec.strip().lower()
            if entry not in ENTRIES:  # a lone unknown word: a policy or a layer name misspelt
                hint = did_you_mean(entry, list(POLICIES) + list(ENTRIES))
                raise ValueError(
                    f"Unknown augmentation policy '{name_or_spec}'.{hint} Named policies: "
                    f"{', '.join(POLICIES)}; or a spec of layers: {', '.join(ENTRIES)}."
                )
    entries = parse_spec(spec)
    layers = []
    for index, (entry, kwargs) in enumerate(entries):
        needed = _CHANNELS_NEEDED.get(entry)
        if needed is not None and channels is not None and channels != needed:
            if named:
                continue
            raise ValueError(
                f"augmentation '{entry}' needs {needed} channels, but channels={channels}. "
                "Leave it out of the spec."
            )
        if named and entry == "color" and channels is None:
            continue  # colour only for known RGB input
        layer_class = ENTRIES[entry][0]
        layer_seed = None if seed is None else int(seed) + index
        try:
            layers.append(layer_class(**kwargs, rank=rank, seed=layer_seed))
        except (TypeError, ValueError) as error:
            raise ValueError(f"augmentation '{entry}' in policy '{name_or_spec}': {error}") from None
    if not layers:
        layers = [keras.layers.Identity()]
    label = key if named else None
    return keras.Sequential(layers, name=name or (f"augment_{label}" if label else "augment"))
