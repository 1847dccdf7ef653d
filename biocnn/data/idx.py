"""MNIST-style IDX files (LeCun's format), plain or gzip-compressed.

An IDX file is a 4-byte magic number -- two zero bytes, a type code, the number of
dimensions ``n`` -- then ``n`` big-endian 32-bit sizes, then the values, big-endian, in C
order. Type codes: 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64. MNIST's ``train-images-idx3-ubyte`` is ``(60000, 28, 28)`` uint8 and
``train-labels-idx1-ubyte`` is ``(60000,)`` uint8. Compression is detected from the content
(gzip's ``1f 8b``), not from the file name.
"""

import gzip
import os

import numpy as np

from biocnn.data.npz import scale_intensities

__all__ = ["IDX_TYPES", "load_idx", "load_idx_pair"]

#: type code -> NumPy dtype (big-endian, as stored).
IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"{path}: gzip-compressed but cannot be decompressed ({error}).") from error
    return raw


def load_idx(path):
    """Read an IDX file into a NumPy array of its shape and type (native byte order).

    Args:
        path: str or path-like, an IDX file, optionally gzip-compressed (``.gz`` or not).

    Returns:
        numpy.ndarray: shape as in the header, dtype uint8, int8, int16, int32, float32 or
        float64.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file, for a bad magic number (not two zero bytes, an unknown
            type code, or zero dimensions), a header or data shorter than the header
            announces (truncated download), or bytes left over after the data.

    Example:
        >>> import tempfile, numpy as np
        >>> path = tempfile.mktemp(suffix="-idx3-ubyte")
        >>> _ = open(path, "wb").write(bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2]) + bytes(range(8)))
        >>> print(load_idx(path).shape)
        (2, 2, 2)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such IDX file: '{path}'.")
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(
            f"{path}: not an IDX file: {len(raw)} bytes, shorter than the 4-byte magic number."
        )
    zero1, zero2, code, ndim = raw[:4]
    if zero1 or zero2 or code not in IDX_TYPES or ndim == 0:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise ValueError(
            f"{path}: bad IDX magic number 0x{raw[:4].hex().upper()}: expected two zero bytes, a "
            f"type code ({known}) and the number of dimensions (>= 1). Is this an IDX file "
            "(e.g. MNIST's train-images-idx3-ubyte)?"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header} header bytes, the "
            f"file has {len(raw)}."
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got < expected:
        raise ValueError(
            f"{path}: truncated IDX data: the header announces shape {shape} of {dtype.name} "
            f"({expected} bytes), but only {got} bytes follow. Download the file again."
        )
    if got > expected:
        raise ValueError(
            f"{path}: {got - expected} bytes after the IDX data of shape {shape} "
            f"({expected} bytes); the header does not describe this file."
        )
    data = np.frombuffer(raw, dtype=dtype, count=int(np.prod(shape)), offset=header)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def load_idx_pair(images_path, labels_path):
    """Read an IDX images file and its labels file, as a classifier takes them.

    Args:
        images_path: IDX file of shape ``(N, H, W)`` (grey images), ``(N, H, W, C)`` or
            ``(N, D, H, W)``; optionally gzip-compressed.
        labels_path: IDX file of shape ``(N,)`` with integer class labels.

    Returns:
        tuple ``(images, labels)``: images float32, channels last (a channel axis is added to
        ``(N, H, W)`` and to ``(N, D, H, W)`` volumes, i.e. 4D arrays whose last axis exceeds
        4, as :func:`biocnn.data.load_npz_splits` does), integer files scaled to [0, 1] by their type's maximum; labels int64
        of shape ``(N,)``.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: anything :func:`load_idx` rejects; labels that are not a 1D integer array;
            images that are not 3D/4D; different numbers of images and labels (naming both
            files).

    Example:
        >>> x, y = load_idx_pair("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")  # doctest: +SKIP
        >>> print(x.shape, y.shape)  # doctest: +SKIP
        (60000, 28, 28, 1) (60000,)
    """
    images = load_idx(images_path)
    labels = load_idx(labels_path)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{os.fspath(labels_path)}: labels must be a 1D integer IDX array, got shape "
            f"{labels.shape} of {labels.dtype.name}."
        )
    if images.ndim not in (3, 4):
        raise ValueError(
            f"{os.fspath(images_path)}: images must have shape (N, H, W) or (N, H, W, C) / "
            f"(N, D, H, W), got {images.shape}."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{os.fspath(images_path)} has {len(images)} images but {os.fspath(labels_path)} "
            f"has {len(labels)} labels; they must be a matching pair."
        )
    if images.ndim == 3 or (images.ndim == 4 and images.shape[-1] > 4):
        images = images[..., None]  # the .npz reader's rule: C in 1..4 is already channels
    return scale_intensities(images), labels.astype(np.int64)
