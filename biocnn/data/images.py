"""Image files as channels-last NumPy arrays: TIFF and OME-TIFF (tifffile), PNG and JPEG (Pillow).

:func:`read_image` returns the file's own values and dtype (8-bit, 16-bit, float) with the
spatial axes first and one channel axis last: ``(H, W, C)`` for ``rank=2``, ``(D, H, W, C)``
for ``rank=3``. :func:`probe_image` answers the same shape question from the file's header
alone, so a whole dataset can be checked before any pixel is decoded. :func:`load_image` is
what a model sees: the image scaled to float32 (integers divided by their dtype's maximum),
with channels selected and resized.

How TIFF axes become channels-last (tifffile names the axes of every series it reads):

- ``Y`` and ``X`` are the image; ``Z`` is the depth of a volume (``rank=3``).
- ``C`` (channel) and ``S`` (samples, e.g. RGB) become the channel axis, in file order.
- ``I`` and ``Q`` (pages with no recorded meaning, e.g. a plain multi-page TIFF) become channels
  for ``rank=2`` and depth for ``rank=3``, unless ``pages`` says otherwise.
- Any axis of length 1 is dropped; a time series (``T``) or a ``Z`` stack in 2D is refused
  with a message saying what to do.
"""

import os
import struct
import warnings

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from biocnn.data.npz import scale_intensities
from biocnn.data.preprocess import resize, select_channels

TIFF_EXTENSIONS = (".tif", ".tiff")
PILLOW_EXTENSIONS = (".png", ".jpg", ".jpeg")
IMAGE_EXTENSIONS = TIFF_EXTENSIONS + PILLOW_EXTENSIONS

_CHANNEL_AXES = "CS"
_PAGE_AXES = "IQ"
_RANKS = (2, 3)

__all__ = ["IMAGE_EXTENSIONS", "is_image_file", "load_image", "probe_image", "read_image"]


def is_image_file(path):
    """Whether ``path`` has one of :data:`IMAGE_EXTENSIONS` (case-insensitive).

    Example:
        >>> is_image_file("cells/a.OME.TIF"), is_image_file("notes.txt")
        (True, False)
    """
    return os.fspath(path).lower().endswith(IMAGE_EXTENSIONS)


def _check_arguments(path, rank, pages):
    path = os.fspath(path)
    if rank not in _RANKS:
        raise ValueError(f"rank must be 2 (images) or 3 (volumes), got {rank!r}.")
    if pages not in (None, "channels", "depth"):
        raise ValueError(f"pages must be None, 'channels' or 'depth', got {pages!r}.")
    if pages == "depth" and rank == 2:
        raise ValueError("pages='depth' needs rank=3: a 2D image has no depth axis.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such image file: '{path}'.")
    if not os.path.isfile(path):
        raise ValueError(f"'{path}' is not a file.")
    if not is_image_file(path):
        raise ValueError(
            f"'{path}': unsupported file type; expected one of {', '.join(IMAGE_EXTENSIONS)}."
        )
    return path


def _unreadable(path, error):
    return ValueError(
        f"'{path}': cannot read the image, the file is corrupt or truncated "
        f"({type(error).__name__}: {error}). Re-export it, or remove it from the dataset."
    )


# ---------------------------------------------------------------------------------------------
# TIFF: an axis plan maps tifffile's axes to (spatial..., channels)


class _AxesError(ValueError):
    """The file is readable, but its axes do not fit the request (told apart from corruption)."""


def _tiff_plan(path, axes, shape, rank, pages):
    """Which file axes are spatial and which are channels: ``(spatial, channel)`` index lists.

    Works on the axes string and shape only, so headers suffice (see :func:`probe_image`).
    """
    pages = pages or ("channels" if rank == 2 else "depth")
    spatial_letters = "YX" if rank == 2 else "ZYX"
    depth_axes, spatial, channels = [], {}, []
    for i, (letter, size) in enumerate(zip(axes, shape)):
        if letter in "YX":
            spatial[letter] = i
        elif size == 1:
            continue
        elif letter in _CHANNEL_AXES:
            channels.append(i)
        elif letter in _PAGE_AXES:
            (channels if pages == "channels" else depth_axes).append(i)
        elif letter == "Z":
            if rank == 2:
                raise _AxesError(
                    f"'{path}' is a Z stack of {size} planes (axes {axes}, shape {shape}); a 2D "
                    "image needs one plane. Read it as a volume (rank=3), or save one plane or a "
                    "projection of the stack."
                )
            depth_axes.append(i)
        elif letter == "T":
            raise _AxesError(
                f"'{path}' is a time series of {size} frames (axes {axes}, shape {shape}); "
                "biocnn classifies single images. Save one frame per file."
            )
        else:
            raise _AxesError(
                f"'{path}' has an axis '{letter}' of length {size} (axes {axes}, shape {shape}) "
                "that biocnn cannot map; it reads Y and X (and Z), channels C and S, and pages "
                "I and Q. Save the image with these axes."
            )
    if set(spatial) != {"Y", "X"}:
        raise _AxesError(f"'{path}' has no Y and X axes (axes {axes}, shape {shape}).")
    if rank == 3:
        if len(depth_axes) != 1:
            found = "no depth axis" if not depth_axes else f"{len(depth_axes)} depth axes"
            raise _AxesError(
                f"'{path}' (axes {axes}, shape {shape}) has {found}; a volume needs exactly one "
                "Z (or page) axis. For a 2D image use rank=2."
            )
        spatial["Z"] = depth_axes[0]
    return [spatial[letter] for letter in spatial_letters], channels


def _apply_plan(data, spatial, channels):
    moved = np.transpose(data, spatial + channels)
    spatial_shape = moved.shape[: len(spatial)]
    return moved.reshape(*spatial_shape, -1)


def _tiff_series(tif):
    """The main series of a TIFF, and its axes and shape.

    Files written page by page (e.g. by ``tifffile.TiffWriter`` with shaped metadata) appear as
    several series of one identical shape: they are stacked as pages (axis ``I``).
    """
    series = tif.series
    if not series:
        raise ValueError("no image series found")
    first = series[0]
    same = all(s.shape == first.shape and s.dtype == first.dtype and s.axes == first.axes for s in series)
    if len(series) > 1 and same:
        return series, "I" + first.axes, (len(series), *first.shape)
    return [first], first.axes, tuple(first.shape)


def _read_tiff(path, rank, pages, decode):
    try:
        with tifffile.TiffFile(path) as tif:
            series, axes, shape = _tiff_series(tif)
            spatial, channels = _tiff_plan(path, axes, shape, rank, pages)
            if not decode:
                dtype = np.dtype(series[0].dtype)
                out_shape = tuple(shape[i] for i in spatial) + (int(np.prod([shape[i] for i in channels])),)
                return out_shape, dtype
            data = series[0].asarray() if len(series) == 1 else np.stack([s.asarray() for s in series])
    except _AxesError:
        raise
    except (tifffile.TiffFileError, OSError, ValueError, IndexError, KeyError, struct.error) as error:
        raise _unreadable(path, error) from error
    return _apply_plan(np.reshape(data, shape), spatial, channels)


# ---------------------------------------------------------------------------------------------
# PNG and JPEG through Pillow

# Pillow modes kept as they are, with the dtype NumPy gives them; others are converted first.
_KEEP_MODES = {
    "L": np.uint8, "LA": np.uint8, "RGB": np.uint8, "RGBA": np.uint8,
    "I;16": np.uint16, "I;16B": np.uint16, "I;16L": np.uint16, "I": np.int32, "F": np.float32,
}


def _pillow_mode(image):
    if image.mode in _KEEP_MODES:
        return image.mode
    if image.mode == "1":
        return "L"
    if image.mode in ("P", "PA"):
        return "RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB"
    return "RGB"  # CMYK, YCbCr, LAB, HSV ...


def _channels_of(mode):
    return 1 if mode.startswith("I") or mode in ("L", "F") else len(mode)


def _read_pillow(path, rank, decode):
    if rank != 2:
        raise ValueError(f"'{path}': PNG and JPEG files are 2D images; read them with rank=2.")
    try:
        with Image.open(path) as image:
            mode = _pillow_mode(image)
            if not decode:
                width, height = image.size
                return (height, width, _channels_of(mode)), np.dtype(_KEEP_MODES[mode])
            _warn_16bit_colour(path, image)
            image.load()
            if mode != image.mode:
                image = image.convert(mode)
            data = np.asarray(image)
    except UnidentifiedImageError as error:
        raise _unreadable(path, error) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise _unreadable(path, error) from error
    if not data.dtype.isnative:  # big-endian 16-bit PNG ("I;16B")
        data = data.astype(data.dtype.newbyteorder("="))
    return data.reshape(*data.shape[:2], -1)


def _warn_16bit_colour(path, image):
    rawmodes = {getattr(tile, "args", None) for tile in (image.tile or [])}
    if rawmodes & {"RGB;16B", "RGBA;16B", "LA;16B"}:
        warnings.warn(
            f"'{path}' is a 16-bit colour PNG; Pillow reads it with 8 bits per channel, losing "
            "precision. Save it as a 16-bit TIFF to keep every bit.",
            UserWarning,
            stacklevel=4,
        )


# ---------------------------------------------------------------------------------------------
# Public readers


def read_image(path, rank=2, pages=None):
    """Read an image file as a channels-last array with the file's own dtype.

    Args:
        path: a ``.tif``/``.tiff`` (including OME-TIFF and ImageJ hyperstacks), ``.png``,
            ``.jpg`` or ``.jpeg`` file.
        rank: 2 for images, returned as ``(H, W, C)``; 3 for volumes (TIFF only),
            returned as ``(D, H, W, C)``.
        pages: how TIFF pages without a recorded meaning (tifffile axes ``I``/``Q``) are read:
            ``"channels"`` (the default for ``rank=2``) or ``"depth"`` (the default for
            ``rank=3``).

    Returns:
        np.ndarray of the file's dtype (uint8, uint16, float32 ...), spatial axes first, one
        channel axis last.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unsupported extension, a corrupt or truncated file, or axes that cannot
            be mapped (a time series, a Z stack read as a 2D image ...); the message names the
            file and says what to do.

    Example:
        >>> import tempfile, numpy as np, tifffile
        >>> path = tempfile.mkdtemp() + "/cells.tif"
        >>> tifffile.imwrite(path, np.zeros((3, 32, 48), np.uint16), photometric="minisblack",
        ...                  metadata={"axes": "CYX"})
        >>> image = read_image(path)
        >>> print(image.shape, image.dtype)
        (32, 48, 3) uint16
    """
    path = _check_arguments(path, rank, pages)
    if path.lower().endswith(TIFF_EXTENSIONS):
        return _read_tiff(path, rank, pages, decode=True)
    return _read_pillow(path, rank, decode=True)


def probe_image(path, rank=2, pages=None):
    """The shape and dtype that :func:`read_image` would return, from the file's header only.

    Cheap enough to check thousands of files before training (no pixels are decoded), so a
    mixed channel count or a mislabelled file type fails before the first epoch. Truncated
    pixel data is only found by :func:`read_image`.

    Args:
        path, rank, pages: as for :func:`read_image`.

    Returns:
        ``(shape, dtype)``: the channels-last shape (tuple of int) and the NumPy dtype.

    Raises:
        FileNotFoundError, ValueError: as :func:`read_image`.

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> path = tempfile.mkdtemp() + "/cell.png"
        >>> Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(path)
        >>> print(probe_image(path))
        ((20, 30, 3), dtype('uint8'))
    """
    path = _check_arguments(path, rank, pages)
    if path.lower().endswith(TIFF_EXTENSIONS):
        return _read_tiff(path, rank, pages, decode=False)
    return _read_pillow(path, rank, decode=False)


def load_image(path, shape=None, channels=None, rank=2, pages=None):
    """An image as a model input: float32, channels selected, resized to ``shape``.

    Integer images are divided by their dtype's maximum (uint8 / 255, uint16 / 65535), exactly
    as :func:`biocnn.data.load_npz_splits` does, so the same model serves both.

    Args:
        path, rank, pages: as for :func:`read_image`.
        shape: the spatial shape to resize to (``(H, W)`` or ``(D, H, W)``); None keeps the
            file's size.
        channels: indices of the channels to keep, in order (e.g. ``[0, 2]``); None keeps all.

    Returns:
        float32 array ``(*shape, C)``.

    Raises:
        FileNotFoundError, ValueError: as :func:`read_image`, or a channel index the file
            does not have.

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> path = tempfile.mkdtemp() + "/cell.png"
        >>> Image.fromarray(np.full((20, 30, 3), 255, np.uint8)).save(path)
        >>> x = load_image(path, shape=(16, 16), channels=[0])
        >>> print(x.shape, x.dtype, x.max())
        (16, 16, 1) float32 1.0
    """
    image = read_image(path, rank=rank, pages=pages)
    if channels is not None:
        image = select_channels(image, channels, where=f"'{path}'")
    image = scale_intensities(image)
    if shape is not None:
        image = resize(image, shape)
    return image
