"""Volume readers: HDF5 (lazy), NIfTI, NumPy, multi-page TIFF stacks, and tables of volume files.

Every reader hands back channels-last volumes ``(D, H, W, C)`` in the file's own axis order and
dtype (CT stays in Hounsfield units), and the voxel spacing where the format stores it, one
number per spatial axis in the same order as the array's axes:

=============  ==========================================  =====================================
format         what is read                                spacing from
=============  ==========================================  =====================================
HDF5           a stack ``(N, D, H, W[, C])``, or a group    the ``spacing`` or ``element_size_um``
               with one dataset per volume; read lazily     attribute of the dataset
NIfTI          ``.nii`` / ``.nii.gz`` (needs nibabel:       the header's pixdim (``get_zooms``)
               ``pip install "biocnn[nifti]"``)
TIFF           a multi-page stack (ImageJ, OME or plain)    ImageJ ``spacing`` + resolution tags,
                                                            or OME ``PhysicalSize{Z,Y,X}``
NumPy          ``.npy``: one volume, or a memory-mapped     none
               stack ``(N, D, H, W[, C])``
=============  ==========================================  =====================================

MedMNIST3D-style ``.npz`` files (train/val/test keys) are read by
:func:`biocnn.data.load_npz_splits`. Readers refuse damaged files with a ValueError that names
the file. Volume *sources* (:class:`HDF5Volumes`, :class:`FileVolumes`, :class:`ArrayVolumes`)
read volumes only when asked, so :mod:`biocnn.data.volume_datasets` can stream data larger
than memory.
"""

import contextlib
import dataclasses
import logging
import os
import zlib

import h5py
import numpy as np

__all__ = [
    "Volume",
    "VolumeSource",
    "ArrayVolumes",
    "FileVolumes",
    "HDF5Volumes",
    "VOLUME_SUFFIXES",
    "hdf5_contents",
    "is_volume_file",
    "probe_volume",
    "read_hdf5_array",
    "read_nifti",
    "read_npy",
    "read_tiff_stack",
    "read_volume",
    "with_channel_axis",
]

NIFTI_SUFFIXES = (".nii", ".nii.gz")
TIFF_SUFFIXES = (".tif", ".tiff")
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")
NPY_SUFFIXES = (".npy",)
VOLUME_SUFFIXES = NIFTI_SUFFIXES + TIFF_SUFFIXES + NPY_SUFFIXES + HDF5_SUFFIXES
SPACING_ATTRIBUTES = ("spacing", "element_size_um")


@dataclasses.dataclass(frozen=True)
class Volume:
    """One volume as read from a file.

    Attributes:
        array: channels-last ``(D, H, W, C)`` array in the file's dtype.
        spacing: voxel size per spatial axis (3 floats, the array's axis order), or None where
            the file does not say.
        source: where it came from, for messages (a path, or ``"file.h5:images[3]"``).
    """

    array: np.ndarray
    spacing: tuple | None
    source: str


def _suffix(path):
    lower = os.fspath(path).lower()
    if lower.endswith(".nii.gz"):
        return ".nii.gz"
    return os.path.splitext(lower)[1]


def is_volume_file(path):
    """Whether ``path`` has one of :data:`VOLUME_SUFFIXES` (case-insensitive).

    Example:
        >>> is_volume_file("ct/case1.NII.GZ"), is_volume_file("notes.txt")
        (True, False)
    """
    return _suffix(path) in VOLUME_SUFFIXES


def _check_file(path, what):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such {what} file: '{path}'.")
    return path


def _damaged(path, what, error):
    return ValueError(
        f"{path}: not a readable {what} file ({' '.join(str(error).split())}). The file may be truncated or damaged; "
        "export or download it again."
    )


def with_channel_axis(array, source):
    """A volume ``(D, H, W)`` gets a trailing channel axis; ``(D, H, W, C)`` is returned as is.

    Raises:
        ValueError: any other number of axes.

    Example:
        >>> with_channel_axis(np.zeros((4, 5, 6)), "v").shape
        (4, 5, 6, 1)
    """
    if array.ndim == 3:
        return array[..., None]
    if array.ndim == 4:
        return array
    raise ValueError(
        f"{source}: expected a volume of shape (D, H, W) or (D, H, W, C), got shape {array.shape}."
    )


def _channels_last(shape):
    shape = tuple(int(n) for n in shape)
    return shape + (1,) if len(shape) == 3 else shape


def _spacing(values, source, where):
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(values) != 3 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(
            f"{source}: the voxel spacing in {where} should be 3 positive numbers (one per spatial "
            f"axis), got {values.tolist()}."
        )
    return tuple(float(v) for v in values)


# --- NIfTI ----------------------------------------------------------------------------------


def _import_nibabel():
    try:
        import nibabel
    except ImportError as error:
        raise ImportError(
            "Reading NIfTI files needs nibabel, an optional dependency: "
            'pip install "biocnn[nifti]" (or pip install nibabel).'
        ) from error
    return nibabel


def read_nifti(path):
    """Read a NIfTI-1/2 volume (``.nii`` or ``.nii.gz``) with its voxel spacing.

    The array keeps NIfTI's voxel axis order (i, j, k); the header's scaling (``scl_slope``,
    ``scl_inter``) is applied, so CT comes back in Hounsfield units. A 4D image's fourth axis
    becomes the channel axis.

    Args:
        path: the file.

    Returns:
        A :class:`Volume`; ``spacing`` is the header's pixdim of the three spatial axes.

    Raises:
        FileNotFoundError: no such file.
        ImportError: nibabel is not installed.
        ValueError: a truncated or damaged file, or an image that is not 3D or 4D.

    Example:
        >>> import nibabel
        >>> nibabel.save(nibabel.Nifti1Image(np.zeros((4, 5, 6), np.float32), np.diag([2, 1, 1, 1])), "/tmp/v.nii.gz")
        >>> read_nifti("/tmp/v.nii.gz").array.shape
        (4, 5, 6, 1)
    """
    path = _check_file(path, "NIfTI")
    nibabel = _import_nibabel()
    try:
        image = nibabel.load(path)
        array = np.asanyarray(image.dataobj)
        zooms = image.header.get_zooms()
    except (nibabel.filebasedimages.ImageFileError, OSError, EOFError, ValueError, zlib.error) as error:
        raise _damaged(path, "NIfTI", error) from error
    array = with_channel_axis(np.asarray(array), path)
    return Volume(array, _spacing(zooms[:3], path, "the NIfTI header (pixdim)"), path)


# --- TIFF stacks ----------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _tifffile_errors():
    # tifffile logs damaged structure (a broken page chain, corrupt ImageJ metadata) and carries
    # on with what it could read; collect those messages so that a truncated stack is refused
    # instead of silently coming back with fewer slices.
    logger = logging.getLogger("tifffile")
    handler = _Collect()
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _tiff_spacing(tif, path):
    if tif.is_ome:
        import xml.etree.ElementTree as ElementTree

        try:
            pixels = next(e for e in ElementTree.fromstring(tif.ome_metadata).iter() if e.tag.endswith("Pixels"))
        except (ElementTree.ParseError, StopIteration):
            return None
        sizes = [pixels.get(f"PhysicalSize{a}") for a in "ZYX"]
        return None if None in sizes else _spacing([float(s) for s in sizes], path, "the OME metadata")
    if tif.is_imagej and tif.imagej_metadata and "spacing" in tif.imagej_metadata:
        tags = tif.pages[0].tags

        def size(tag):  # the resolution tags say pixels per unit; the spacing is its inverse
            if tag not in tags:
                return 1.0
            numerator, denominator = tags[tag].value
            return denominator / numerator

        return _spacing(
            [tif.imagej_metadata["spacing"], size("YResolution"), size("XResolution")],
            path, "the ImageJ metadata",
        )
    return None


def read_tiff_stack(path):
    """Read a multi-page TIFF stack as a volume ``(Z, Y, X, C)``, with its voxel spacing.

    The pixels are read by :func:`biocnn.data.images.read_image` with ``rank=3`` (ImageJ
    hyperstacks and OME-TIFF arranged by their axes, a channel axis last; a plain multi-page
    TIFF of N pages is N slices). A stack whose page chain or metadata is damaged is refused
    rather than returned with fewer slices.

    Args:
        path: the ``.tif``/``.tiff`` file.

    Returns:
        A :class:`Volume`; ``spacing`` is (z, y, x) from the ImageJ metadata (``spacing`` and
        the resolution tags) or from OME ``PhysicalSize{Z,Y,X}``; None for a plain TIFF.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a truncated or damaged file, or a file that is not a Z stack (a time
            series, a single 2D image).

    Example:
        >>> import tifffile
        >>> tifffile.imwrite("/tmp/s.tif", np.zeros((8, 5, 6), np.uint16), imagej=True,
        ...                  metadata={"axes": "ZYX", "spacing": 2.0})
        >>> v = read_tiff_stack("/tmp/s.tif"); v.array.shape, v.spacing
        ((8, 5, 6, 1), (2.0, 1.0, 1.0))
    """
    import tifffile

    from biocnn.data.images import read_image

    path = _check_file(path, "TIFF")
    with _tifffile_errors() as problems:
        try:
            array = read_image(path, rank=3)
        except ValueError as error:
            if problems:  # a damaged file read as something else: say that it is damaged
                raise _damaged(path, "TIFF", "; ".join(problems)) from error
            raise
        try:
            with tifffile.TiffFile(path) as tif:
                spacing = _tiff_spacing(tif, path)
        except (tifffile.TiffFileError, OSError) as error:
            raise _damaged(path, "TIFF", error) from error
    if problems:
        raise _damaged(path, "TIFF", "; ".join(problems))
    return Volume(array, spacing, path)


# --- NumPy ----------------------------------------------------------------------------------


def _load_npy(path, mmap_mode=None):
    path = _check_file(path, ".npy")
    try:
        array = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise _damaged(path, ".npy", error) from error
    if not isinstance(array, np.ndarray):
        raise ValueError(
            f"{path}: expected a single array (.npy), found an archive; read MedMNIST-style .npz "
            "files with biocnn.data.load_npz_splits."
        )
    return array


def read_npy(path):
    """Read one volume ``(D, H, W[, C])`` from a ``.npy`` file (no pickle; no spacing).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a truncated or damaged file, or an array that is not one volume.

    Example:
        >>> np.save("/tmp/v.npy", np.zeros((4, 5, 6)))
        >>> read_npy("/tmp/v.npy").array.shape
        (4, 5, 6, 1)
    """
    array = _load_npy(path)
    return Volume(with_channel_axis(array, path), None, os.fspath(path))


# --- HDF5 -----------------------------------------------------------------------------------


def _open_hdf5(path):
    path = _check_file(path, "HDF5")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise _damaged(path, "HDF5", error) from error


def hdf5_contents(file):
    """Describe every dataset of an open HDF5 file: ``"name (shape dtype)"``, sorted.

    Example:
        >>> with h5py.File("/tmp/c.h5", "w") as f:
        ...     f["images"] = np.zeros((2, 4, 4, 4), np.uint8)
        >>> with h5py.File("/tmp/c.h5", "r") as f:
        ...     print(hdf5_contents(f))
        ["'images' (2, 4, 4, 4) uint8"]
    """
    found = []

    def visit(name, node):
        if isinstance(node, h5py.Dataset):
            found.append(f"'{name}' {node.shape} {node.dtype}")

    file.visititems(visit)
    return sorted(found)


def _hdf5_node(file, key, path, flag="--key"):
    # ``flag``: the argument that named ``key`` (--key for volumes, --labels-key for labels ...).
    if key is None or key not in file:
        listing = ", ".join(hdf5_contents(file)) or "no datasets at all"
        what = "No key given" if key is None else f"no dataset or group '{key}'"
        fix = f"Pass one of these as the key ({flag})" if flag else "Name one of these instead"
        raise ValueError(f"{path}: {what}. The file holds: {listing}. {fix}.")
    return file[key]


def _only_dataset(file):
    """The name of the file's one dataset, or None when it has several (the key must be given)."""
    datasets = []
    file.visititems(lambda name, node: datasets.append(name) if isinstance(node, h5py.Dataset) else None)
    return datasets[0] if len(datasets) == 1 else None


def read_hdf5_array(path, key, flag=None):
    """Read one whole dataset (e.g. labels or group ids stored beside the volumes).

    Args:
        path: the HDF5 file.
        key: the dataset's name.
        flag: the command-line argument that named ``key`` (e.g. ``"--labels-key"``), for the
            message when there is no such dataset; None: the message names no argument.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a damaged file, or no dataset ``key`` (the message lists the datasets).

    Example:
        >>> with h5py.File("/tmp/l.h5", "w") as f:
        ...     f["labels"] = np.array([0, 1, 1])
        >>> read_hdf5_array("/tmp/l.h5", "labels").tolist()
        [0, 1, 1]
    """
    with _open_hdf5(path) as file:
        node = _hdf5_node(file, key, path, flag)
        if not isinstance(node, h5py.Dataset):
            raise ValueError(f"{path}: '{key}' is a group; expected a dataset. The file holds: "
                             f"{', '.join(hdf5_contents(file))}.")
        return node[()]


def _read_or_fail(read, source):
    try:
        return read()
    except (OSError, KeyError) as error:
        raise _damaged(source, "HDF5", error) from error


class VolumeSource:
    """A sequence of volumes read only when asked (the interface of every source).

    Subclasses set ``name`` (for messages) and ``ids`` (one string per volume), and implement
    ``_read(indices)`` returning a list of channels-last arrays, ``shapes()`` and ``spacing(i)``.

    Example:
        >>> source = ArrayVolumes(np.zeros((3, 4, 4, 4)), name="demo")
        >>> len(source), source.ids, [v.shape for v in source.read([2, 0])]
        (3, ['0', '1', '2'], [(4, 4, 4, 1), (4, 4, 4, 1)])
    """

    name = "volumes"
    ids = ()

    def __len__(self):
        return len(self.ids)

    def _check_indices(self, indices):
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        bad = indices[(indices < 0) | (indices >= len(self))]
        if len(bad):
            raise ValueError(f"{self.name}: volume index {int(bad[0])} is out of range; there are {len(self)} volumes.")
        return indices

    def indices_of(self, ids):
        """The positions of the volumes with the given ids (e.g. those of one split's table).

        Raises:
            ValueError: ids that name no volume (the first few are listed).
        """
        position = {str(v): i for i, v in enumerate(self.ids)}
        unknown = [str(v) for v in ids if str(v) not in position]
        if unknown:
            raise ValueError(f"{self.name} has no volume(s) {', '.join(unknown[:5])}; its ids are e.g. "
                             f"{', '.join(map(str, self.ids[:5]))}.")
        return np.asarray([position[str(v)] for v in ids], dtype=np.int64)

    def read(self, indices):
        """The volumes at ``indices`` as a list of channels-last arrays, in the order asked."""
        return self._read(self._check_indices(indices))

    def __getitem__(self, i):
        return self.read([i])[0]

    def volume(self, i):
        """Volume ``i`` with its spacing, as a :class:`Volume`."""
        return Volume(self[i], self.spacing(i), f"{self.name}[{self.ids[i]}]")

    def spacing(self, i):
        return None

    def shapes(self):
        """The channels-last shape of every volume, from metadata (no voxels are read)."""
        raise NotImplementedError

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_stack(array_like, indices, source, add_channel):
    # h5py's fancy selection wants increasing, unique indices: read those, then reorder.
    unique, inverse = np.unique(indices, return_inverse=True)
    if len(unique) == 0:
        return []
    if unique[-1] - unique[0] + 1 == len(unique):  # a contiguous run: one hyperslab
        block = _read_or_fail(lambda: array_like[int(unique[0]):int(unique[-1]) + 1], source)
    else:
        block = _read_or_fail(lambda: array_like[unique.tolist()], source)
    block = np.asarray(block)
    if add_channel:
        block = block[..., None]
    return [block[j] for j in inverse.reshape(-1)]


class HDF5Volumes(VolumeSource):
    """Volumes in an HDF5 file, read lazily (only the volumes asked for are read).

    Two layouts:

    * one dataset ``key`` of shape ``(N, D, H, W)`` or ``(N, D, H, W, C)``: volume ``i`` is
      ``file[key][i]``; ids are ``"0"``, ``"1"``, ...;
    * a group ``key`` holding one dataset per volume ``(D, H, W[, C])``: volumes in sorted name
      order; ids are the dataset names (volumes may differ in shape).

    Spacing comes from the ``spacing`` or ``element_size_um`` attribute of the dataset (of the
    stack, or of each member).

    Args:
        path: the HDF5 file.
        key: the dataset or group.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a truncated or damaged file, a missing key (the message lists the datasets
            that exist), or a dataset that is not a stack of volumes.

    Example:
        >>> with h5py.File("/tmp/v.h5", "w") as f:
        ...     f["images"] = np.zeros((10, 8, 8, 8), np.float32)
        >>> with HDF5Volumes("/tmp/v.h5", "images") as volumes:
        ...     print(len(volumes), volumes[3].shape)
        10 (8, 8, 8, 1)
    """

    def __init__(self, path, key):
        self.path, self.key = os.fspath(path), key
        self.name = f"{self.path}:{key}"
        self._file = _open_hdf5(path)
        try:
            node = _hdf5_node(self._file, key, self.path)
            if isinstance(node, h5py.Dataset):
                self._init_stack(node)
            else:
                self._init_group(node)
        except Exception:
            self._file.close()
            raise

    def _init_stack(self, node):
        if node.ndim not in (4, 5):
            raise ValueError(
                f"{self.name} has shape {node.shape}; expected a stack of volumes (N, D, H, W) or "
                "(N, D, H, W, C), or a group with one dataset per volume."
            )
        self._stack, self._members = node, None
        self.ids = [str(i) for i in range(node.shape[0])]
        self._stack_spacing = self._spacing_of(node)

    def _init_group(self, node):
        names = sorted(n for n in node if isinstance(node[n], h5py.Dataset))
        if not names:
            raise ValueError(f"{self.name} is a group without datasets; expected one dataset per volume. "
                             f"The file holds: {', '.join(hdf5_contents(self._file))}.")
        for n in names:
            if node[n].ndim not in (3, 4):
                raise ValueError(f"{self.name}/{n} has shape {node[n].shape}; expected one volume (D, H, W[, C]).")
        self._stack, self._members = None, [node[n] for n in names]
        self.ids = names

    def _spacing_of(self, node):
        for attribute in SPACING_ATTRIBUTES:
            if attribute in node.attrs:
                return _spacing(node.attrs[attribute], self.name, f"the '{attribute}' attribute")
        return None

    def shapes(self):
        if self._stack is not None:
            return [_channels_last(self._stack.shape[1:])] * len(self)
        return [_channels_last(m.shape) for m in self._members]

    def _read(self, indices):
        if self._stack is not None:
            return _read_stack(self._stack, indices, self.name, self._stack.ndim == 4)
        return [with_channel_axis(_read_or_fail(lambda m=self._members[i]: m[()], self.name), self.name)
                for i in indices]

    def spacing(self, i):
        if self._stack is not None:
            return self._stack_spacing
        return self._spacing_of(self._members[i])

    def close(self):
        self._file.close()


class ArrayVolumes(VolumeSource):
    """Volumes in one array ``(N, D, H, W[, C])``: in memory, or a memory-mapped ``.npy``.

    Args:
        array: the stack, or the path of a ``.npy`` file holding it (opened memory-mapped, so
            volumes are read from disk only when asked).
        name: what to call it in messages.
        spacing: optional voxel spacing shared by all volumes.

    Example:
        >>> ArrayVolumes(np.zeros((5, 4, 4, 4)))[2].shape
        (4, 4, 4, 1)
    """

    def __init__(self, array, name=None, spacing=None):
        if isinstance(array, (str, os.PathLike)):
            name = name or os.fspath(array)
            array = _load_npy(array, mmap_mode="r")
        self.name = name or "array"
        self._array = array
        if array.ndim not in (4, 5):
            raise ValueError(
                f"{self.name} has shape {array.shape}; expected a stack of volumes (N, D, H, W) or (N, D, H, W, C)."
            )
        self.ids = [str(i) for i in range(array.shape[0])]
        self._spacing = _spacing(spacing, self.name, "the spacing argument")

    def _read(self, indices):
        return _read_stack(self._array, indices, self.name, self._array.ndim == 4)

    def shapes(self):
        return [_channels_last(self._array.shape[1:])] * len(self)

    def spacing(self, i):
        return self._spacing


def read_volume(path, key=None):
    """Read one volume from a file, choosing the reader by the file's suffix.

    ``.nii``/``.nii.gz`` -> :func:`read_nifti`, ``.tif``/``.tiff`` -> :func:`read_tiff_stack`,
    ``.npy`` -> :func:`read_npy`, ``.h5``/``.hdf5`` -> the dataset ``key`` (optional when the
    file holds a single dataset).

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unknown suffix (the message lists the known ones), a damaged file, or
            an HDF5 file with several datasets and no ``key``.

    Example:
        >>> np.save("/tmp/v.npy", np.zeros((4, 5, 6)))
        >>> read_volume("/tmp/v.npy").array.shape
        (4, 5, 6, 1)
    """
    suffix = _suffix(path)
    if suffix in NIFTI_SUFFIXES:
        return read_nifti(path)
    if suffix in TIFF_SUFFIXES:
        return read_tiff_stack(path)
    if suffix in NPY_SUFFIXES:
        return read_npy(path)
    if suffix in HDF5_SUFFIXES:
        path = os.fspath(path)
        with _open_hdf5(path) as file:
            key = _only_dataset(file) if key is None else key
            node = _hdf5_node(file, key, path)
            if not isinstance(node, h5py.Dataset):
                raise ValueError(f"{path}: '{key}' is a group; expected the dataset of one volume.")
            source = f"{path}:{key}"
            array = with_channel_axis(_read_or_fail(lambda: node[()], source), source)
            spacing = next((_spacing(node.attrs[a], source, f"the '{a}' attribute")
                            for a in SPACING_ATTRIBUTES if a in node.attrs), None)
        return Volume(array, spacing, source)
    known = ", ".join(VOLUME_SUFFIXES)
    raise ValueError(f"{os.fspath(path)}: unknown volume format '{suffix}'; expected one of {known}.")


def probe_volume(path, key=None):
    """The channels-last shape :func:`read_volume` would return, from the header alone.

    Cheap enough to check every file of a dataset before training, so volumes of mixed
    shapes fail before the first epoch.

    Raises:
        FileNotFoundError, ValueError: as :func:`read_volume`.

    Example:
        >>> np.save("/tmp/v.npy", np.zeros((4, 5, 6)))
        >>> probe_volume("/tmp/v.npy")
        (4, 5, 6, 1)
    """
    suffix = _suffix(path)
    if suffix in NIFTI_SUFFIXES:
        nibabel = _import_nibabel()
        _check_file(path, "NIfTI")
        try:
            shape = nibabel.load(path).shape
        except (nibabel.filebasedimages.ImageFileError, OSError, EOFError, ValueError, zlib.error) as error:
            raise _damaged(path, "NIfTI", error) from error
    elif suffix in TIFF_SUFFIXES:
        from biocnn.data.images import probe_image

        return tuple(probe_image(path, rank=3)[0])
    elif suffix in NPY_SUFFIXES:
        shape = _load_npy(path, mmap_mode="r").shape
    elif suffix in HDF5_SUFFIXES:
        with _open_hdf5(path) as file:
            key = _only_dataset(file) if key is None else key
            shape = _hdf5_node(file, key, os.fspath(path)).shape
    else:
        return read_volume(path, key).array.shape  # raises the unknown-format error
    if len(shape) not in (3, 4):
        raise ValueError(f"{os.fspath(path)}: expected a volume of shape (D, H, W) or (D, H, W, C), got shape {shape}.")
    return _channels_last(shape)


class FileVolumes(VolumeSource):
    """One volume per file (NIfTI, TIFF stack, ``.npy`` or single-dataset HDF5), read lazily.

    Args:
        paths: the files; every one must exist.
        key: the HDF5 dataset inside each ``.h5`` file, when they hold several.
        name: what to call the collection in messages (e.g. the CSV it came from).
        ids: one id per file (default: the paths), e.g. the paths as written in a CSV.

    Raises:
        FileNotFoundError: files that do not exist (the message lists them).

    Example:
        >>> np.save("/tmp/a.npy", np.zeros((4, 4, 4))); np.save("/tmp/b.npy", np.ones((4, 4, 4)))
        >>> print(FileVolumes(["/tmp/a.npy", "/tmp/b.npy"])[1].max())
        1.0
    """

    def __init__(self, paths, key=None, name="files", ids=None):
        self.paths = [os.fspath(p) for p in paths]
        self.ids = list(self.paths) if ids is None else [str(i) for i in ids]
        self.key, self.name = key, name
        if len(self.ids) != len(self.paths):
            raise ValueError(f"{name}: {len(self.ids)} ids for {len(self.paths)} files.")
        missing = [p for p in self.paths if not os.path.isfile(p)]
        if missing:
            shown = ", ".join(f"'{p}'" for p in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise FileNotFoundError(
                f"{name}: {len(missing)} of {len(self.paths)} volume files do not exist: {shown}{more}."
            )
        self._spacings = {}

    def volume(self, i):
        volume = read_volume(self.paths[i], self.key)
        self._spacings[i] = volume.spacing
        return volume

    def _read(self, indices):
        return [self.volume(int(i)).array for i in indices]

    def shapes(self):
        return [probe_volume(p, self.key) for p in self.paths]

    def spacing(self, i):
        if i not in self._spacings:
            self.volume(i)
        return self._spacings[i]
