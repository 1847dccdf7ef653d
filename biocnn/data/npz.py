"""MedMNIST-style ``.npz`` files: ``{split}_images`` and ``{split}_labels`` arrays.

Read without pickle (``allow_pickle=False``): an ``.npz`` from elsewhere cannot run code.
"""

import os
import zipfile

import numpy as np

SPLITS = ("train", "val", "test")


def _add_channel_axis(images, path, key):
    # (N, H, W) grey images and (N, D, H, W) volumes get a channel axis; (N, H, W, C) with
    # C in 1..4 and (N, D, H, W, C) are already channels-last.
    if images.ndim == 3 or (images.ndim == 4 and images.shape[-1] > 4):
        return images[..., None]
    if images.ndim in (4, 5):
        return images
    raise ValueError(
        f"{path}: '{key}' has shape {images.shape}; expected (N, H, W), (N, H, W, C), "
        "(N, D, H, W) or (N, D, H, W, C)."
    )


def scale_intensities(images):
    """Integer images to float32 in [0, 1] (divided by the dtype's maximum); floats unchanged."""
    if np.issubdtype(images.dtype, np.integer):
        return images.astype(np.float32) / np.float32(np.iinfo(images.dtype).max)
    return images.astype(np.float32)


def load_npz_splits(path, splits=SPLITS):
    """Load the train/val/test splits of a MedMNIST-style ``.npz``.

    Args:
        path: the ``.npz`` file.
        splits: which splits to read.

    Returns:
        dict split -> (images, labels): images float32, channels last, in [0, 1] for integer
        files; labels int64 of shape (N,).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an ``.npz``, a missing key, mismatched lengths, non-finite values, or
            labels that are not integers.

    Example:
        >>> data = load_npz_splits("datasets/medmnist/breastmnist.npz")  # doctest: +SKIP
        >>> data["train"][0].shape  # doctest: +SKIP
        (546, 28, 28, 1)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such .npz file: '{path}'.")
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise ValueError(f"{path}: not a readable .npz archive ({error}).") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: expected an .npz archive of named arrays, found a single array.")
    with archive:
        out = {}
        for split in splits:
            out[split] = _read_split(archive, path, split)
    return out


def _read_split(archive, path, split):
    keys = (f"{split}_images", f"{split}_labels")
    missing = [k for k in keys if k not in archive.files]
    if missing:
        raise ValueError(
            f"{path}: missing {', '.join(missing)}; the file has {', '.join(sorted(archive.files))}. "
            "Expected MedMNIST-style keys train_images, train_labels, val_images, ..."
        )
    try:
        images, labels = archive[keys[0]], archive[keys[1]]
    except ValueError as error:  # object arrays need pickle, which is refused
        raise ValueError(f"{path}: cannot read {keys} without pickle ({error}).") from error
    if len(images) != len(labels):
        raise ValueError(
            f"{path}: {keys[0]} has {len(images)} samples but {keys[1]} has {len(labels)}."
        )
    images = scale_intensities(_add_channel_axis(images, path, keys[0]))
    if not np.all(np.isfinite(images)):
        bad = int(np.argmax((~np.isfinite(images.reshape(len(images), -1))).any(axis=1)))
        raise ValueError(f"{path}: {keys[0]}[{bad}] contains NaN or infinite values.")
    labels = labels.reshape(len(labels), -1)
    if labels.shape[1] != 1 or not np.all(np.equal(np.mod(labels, 1), 0)):
        raise ValueError(
            f"{path}: {keys[1]} must hold one integer class per sample, got shape "
            f"{labels.shape} with dtype {labels.dtype}."
        )
    return images, labels[:, 0].astype(np.int64)
