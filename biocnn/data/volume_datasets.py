"""Volume datasets: label tables, preprocessing, and volumes in memory or streamed by ``tf.data``.

The volumes come from a source of :mod:`biocnn.data.volumes` (an HDF5 stack or group, files
listed in a CSV, an array). Their labels form an :class:`biocnn.data.ImageTable` (the table
images use too), so :func:`biocnn.data.split_table` splits volumes exactly as it splits
images: by a ``split`` column, or stratified and group-disjoint.

Every volume then passes through a :class:`VolumePreprocessing` (NaN policy, intensity window,
resampling) and is either loaded into memory (:func:`load_volumes`) or streamed batch by batch
(:func:`volume_dataset`): only the volumes of the next batches are read, so an HDF5 file
larger than memory trains with a memory use of a few batches. Normalisation statistics come
from the training split, as a layer in the model (:func:`biocnn.data.preprocess.fit_preprocessing`).
"""

import collections
import dataclasses
import os

import numpy as np
import tensorflow as tf

from biocnn.data.image_datasets import ImageTable, make_table, read_label_csv  # noqa: F401 (ImageTable: doctests)
from biocnn.data.intensity import NAN_POLICIES, replace_nonfinite, window, window_bounds
from biocnn.data.preprocess import resize
from biocnn.data.volumes import FileVolumes, is_volume_file, VOLUME_SUFFIXES

__all__ = [
    "VolumePreprocessing",
    "check_volume_shapes",
    "load_volumes",
    "source_for_table",
    "volume_dataset",
    "volume_table",
    "volume_table_from_csv",
]

_SHOWN = 5  # problems listed in one message


@dataclasses.dataclass(frozen=True)
class VolumePreprocessing:
    """What happens to each volume between its file and the network, in this order.

    1. NaN and infinite voxels are refused or replaced (``nan_policy``);
    2. an intensity window clips and scales to [0, 1] (CT in Hounsfield units), if given;
    3. the volume is resampled (trilinear) to ``target_shape``, if given; without it every
       volume must already have one shape;
    4. the result is float32.

    Args:
        nan_policy: ``"raise"``, ``"zero"`` or ``"min"``; see
            :func:`biocnn.data.intensity.replace_nonfinite`.
        window: a preset name from :data:`biocnn.data.intensity.CT_WINDOWS` (e.g. ``"lung"``)
            or ``(center, width)``; None for no window.
        target_shape: ``(D, H, W)`` to resample to, or None.

    Raises:
        ValueError: an unknown policy or preset, a bad window, or a bad target shape.

    Example:
        >>> step = VolumePreprocessing(window="brain", target_shape=(4, 4, 4))
        >>> print(step(np.full((8, 8, 8, 1), 40.0)).shape, step(np.full((8, 8, 8, 1), 40.0)).max())
        (4, 4, 4, 1) 0.5
    """

    nan_policy: str = "raise"
    window: str | tuple | None = None
    target_shape: tuple | None = None

    def __post_init__(self):
        if self.nan_policy not in NAN_POLICIES:
            raise ValueError(f"nan_policy must be one of {', '.join(NAN_POLICIES)}, got {self.nan_policy!r}.")
        if self.window is not None:
            self._bounds()  # validates
        if self.target_shape is not None:
            shape = tuple(self.target_shape)
            if len(shape) != 3 or not all(isinstance(n, (int, np.integer)) and n > 0 for n in shape):
                raise ValueError(f"target_shape must be 3 positive integers (D, H, W), got {self.target_shape!r}.")
            object.__setattr__(self, "target_shape", tuple(int(n) for n in shape))

    def _bounds(self):
        if isinstance(self.window, str):
            return window_bounds(preset=self.window)
        if not isinstance(self.window, (tuple, list)) or len(self.window) != 2:
            raise ValueError(f"window must be a preset name or (center, width), got {self.window!r}.")
        return window_bounds(*self.window)

    def __call__(self, volume, name="volume"):
        """Preprocess one channels-last volume ``(D, H, W, C)``; ``name`` is used in messages."""
        volume = replace_nonfinite(volume, self.nan_policy, name)
        if self.window is not None:
            low, high = self._bounds()
            volume = window(volume, center=(low + high) / 2, width=high - low)
        if self.target_shape is not None:
            volume = resize(volume, self.target_shape)
        return np.asarray(volume, dtype=np.float32)

    def to_dict(self):
        return dataclasses.asdict(self)


# --- label tables ---------------------------------------------------------------------------


def _row_problems(frame, csv_path, check_path=None):
    problems = collections.defaultdict(list)
    for row, record in enumerate(frame.to_dict("records")):
        line = row + 2  # the header is line 1
        if check_path is not None:
            problem = check_path(record["path"])
            if problem:
                problems[problem].append(f"line {line}: '{record['path']}'")
        if not record["label"]:
            problems["have an empty label"].append(f"line {line}")
        if "group" in record and not record["group"]:
            problems["have an empty group"].append(f"line {line}")
        if "split" in record and record["split"] not in ("train", "val", "test"):
            problems["have a split other than train, val, test"].append(f"line {line}: '{record['split']}'")
    if problems:
        listed = [f"{len(rows)} row(s) {kind}: {'; '.join(rows[:_SHOWN])}" + ("; ..." if len(rows) > _SHOWN else "")
                  for kind, rows in problems.items()]
        raise ValueError(f"{csv_path}: " + ". ".join(listed) + ". Fix or remove these rows.")


def _optional(frame, column):
    return frame[column].tolist() if column in frame.columns else None


def volume_table_from_csv(csv_path, root=None, class_names=None):
    """A table of volume files from a CSV with columns ``path``, ``label`` [, ``group``, ``split``].

    Paths are relative to the CSV's folder (absolute paths are allowed) and must stay inside
    the data root (by default that folder), as for images (:func:`biocnn.data.table_from_csv`).

    Args:
        csv_path: the CSV file.
        root: the data root (default: the CSV's folder).
        class_names: the classes in label order (default: the labels sorted, numbers numerically).

    Returns:
        An :class:`biocnn.data.ImageTable` of the volume files.

    Raises:
        FileNotFoundError: no such CSV or root.
        ValueError: missing columns; paths that are empty, outside the root, missing, or not
            volume files; empty labels or groups; unknown split names; fewer than 2 classes.
            The message lists the CSV lines at fault.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> for i in range(2):
        ...     np.save(f"{root}/{i}.npy", np.zeros((4, 4, 4)))
        >>> _ = open(f"{root}/ct.csv", "w").write("path,label,group\\n0.npy,normal,p1\\n1.npy,tumour,p2\\n")
        >>> print(volume_table_from_csv(f"{root}/ct.csv").labels)
        [0 1]
    """
    csv_path, frame = read_label_csv(csv_path, ("path", "label"), "a header 'path,label' with optional 'group' and 'split'")
    root = os.path.abspath(os.fspath(root) if root is not None else os.path.dirname(csv_path))
    real_root = os.path.realpath(root)
    folder = os.path.dirname(csv_path)

    def check_path(value):
        path = os.path.normpath(os.path.join(folder, value))
        if not value:
            return "have an empty path"
        if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
            return f"lead outside the data root '{root}'"
        if not os.path.isfile(path):
            return "name files that do not exist"
        if not is_volume_file(path):
            return f"are not volume files ({', '.join(VOLUME_SUFFIXES)})"
        return None

    _row_problems(frame, csv_path, check_path)
    paths = [os.path.normpath(os.path.join(folder, p)) for p in frame["path"]]
    ids = [os.path.relpath(p, root) for p in paths]
    return make_table(paths, frame["label"], root, _optional(frame, "group"), _optional(frame, "split"),
                      class_names, ids=ids, where=csv_path)


def volume_table(source, labels=None, csv_path=None, groups=None, class_names=None):
    """The labels of the volumes of ``source`` (e.g. an HDF5 stack), as a table.

    Labels come from an array (e.g. the file's ``labels`` dataset, one per volume) or from a
    CSV with a ``label`` column and optional ``id``, ``group`` and ``split`` columns. With an
    ``id`` column, rows are matched to ``source.ids`` (``0``..``N-1`` for a stack; dataset
    names for a group), in any order; without one, the CSV has one row per volume in order.

    Args:
        source: a :class:`biocnn.data.volumes.VolumeSource`.
        labels: (N,) or (N, 1) labels, or None when ``csv_path`` is given.
        csv_path: the label CSV, or None.
        groups: (N,) group ids when the labels come from an array.
        class_names: the classes in label order.

    Returns:
        An :class:`biocnn.data.ImageTable` in the order of ``source``; its ``ids`` are the
        source's ids (map a split back with ``source.indices_of(table.ids)``).

    Raises:
        ValueError: a table that does not match the volumes: a different number of rows or
            labels, ids missing on either side (both are listed), repeated ids; missing
            columns, empty labels, fewer than 2 classes; neither or both of labels and CSV.

    Example:
        >>> from biocnn.data.volumes import ArrayVolumes
        >>> print(volume_table(ArrayVolumes(np.zeros((3, 4, 4, 4))), labels=[1, 0, 1]).labels)
        [1 0 1]
    """
    if (labels is None) == (csv_path is None):
        raise ValueError("volume_table: give the labels either as an array or as a CSV file, not both or neither.")
    ids = [str(i) for i in source.ids]
    paths = [f"{source.name}[{i}]" for i in ids]
    if labels is not None:
        values = np.asarray(labels)
        values = values.reshape(len(values), -1) if values.ndim else values.reshape(1, 1)
        if values.shape[1] != 1 or len(values) != len(ids):
            raise ValueError(
                f"The labels (shape {np.shape(labels)}) do not match {source.name}, which holds "
                f"{len(ids)} volumes: expected one label per volume."
            )
        if groups is not None and len(groups) != len(ids):
            raise ValueError(f"{len(groups)} group ids for the {len(ids)} volumes of {source.name}.")
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in values[:, 0]]
        return make_table(paths, names, "", groups, None, class_names, ids=ids, where=source.name)
    csv_path, frame = read_label_csv(csv_path, ("label",), "a 'label' column, optional 'id', 'group', 'split'")
    if "id" in frame.columns:
        repeated = sorted(set(frame["id"][frame["id"].duplicated()]))
        if repeated:
            raise ValueError(f"{csv_path}: ids listed more than once: {', '.join(repeated[:_SHOWN])}.")
        unknown = sorted(set(frame["id"]) - set(ids))
        unlabelled = [i for i in ids if i not in set(frame["id"])]
        if unknown or unlabelled:
            raise ValueError(
                f"{csv_path} does not match the {len(ids)} volumes of {source.name}: "
                f"{len(unlabelled)} volume(s) have no row (e.g. {', '.join(unlabelled[:_SHOWN]) or '-'}) and "
                f"{len(unknown)} row id(s) name no volume (e.g. {', '.join(unknown[:_SHOWN]) or '-'}). "
                "The 'id' column must hold the volume ids (0..N-1 for a stack, dataset names for a group)."
            )
        frame = frame.set_index("id", drop=False).loc[ids].reset_index(drop=True)
    elif len(frame) != len(ids):
        raise ValueError(
            f"{csv_path} has {len(frame)} rows but {source.name} holds {len(ids)} volumes. Give one row "
            "per volume in the volumes' order, or add an 'id' column naming each row's volume."
        )
    _row_problems(frame, csv_path)
    return make_table(paths, frame["label"], os.path.dirname(csv_path), _optional(frame, "group"),
                      _optional(frame, "split"), class_names, ids=ids, where=csv_path)


def source_for_table(table, key=None):
    """A :class:`biocnn.data.volumes.FileVolumes` over the files of a CSV table (ids kept).

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp(); np.save(f"{root}/a.npy", np.zeros((4, 4, 4)))
        >>> t = ImageTable(np.array([f"{root}/a.npy"]), np.array([0]), ("a", "b"), np.array(["a.npy"]))
        >>> print(source_for_table(t)[0].shape)
        (4, 4, 4, 1)
    """
    return FileVolumes(table.paths, key=key, name=table.root or "files", ids=table.ids)



# --- volumes in memory or streamed -------------------------------------------------------


def _indices(source, indices):
    if indices is None:
        return np.arange(len(source), dtype=np.int64)
    return np.asarray(indices, dtype=np.int64).reshape(-1)


def _shape_error(source, by_shape):
    listing = "; ".join(
        f"{'x'.join(map(str, shape[:-1]))} ({shape[-1]} channel(s)) in {len(ids)} volume(s) (e.g. {', '.join(ids[:2])})"
        for shape, ids in sorted(by_shape.items(), key=lambda kv: -len(kv[1]))
    )
    return ValueError(
        f"The volumes of {source.name} have different shapes: {listing}. A network needs one input "
        "shape: resample them to a common one (VolumePreprocessing(target_shape=(D, H, W)); "
        "--shape D H W in the pipelines)."
    )


def check_volume_shapes(source, indices=None, preprocessing=None):
    """The shape every preprocessed volume will have, checked from metadata only.

    Args:
        source: a volume source.
        indices: the volumes to check (default all).
        preprocessing: a :class:`VolumePreprocessing`; with a ``target_shape`` only the
            channel counts must agree.

    Returns:
        The channels-last shape ``(D, H, W, C)`` of the preprocessed volumes.

    Raises:
        ValueError: volumes of different shapes and no ``target_shape`` (the message lists
            each shape with how many volumes have it and examples), or different channel counts.

    Example:
        >>> from biocnn.data.volumes import ArrayVolumes
        >>> resample = VolumePreprocessing(target_shape=(4, 4, 4))
        >>> check_volume_shapes(ArrayVolumes(np.zeros((3, 8, 8, 8))), preprocessing=resample)
        (4, 4, 4, 1)
    """
    indices = _indices(source, indices)
    if len(indices) == 0:
        raise ValueError(f"No volumes selected from {source.name}.")
    shapes = source.shapes()
    target = preprocessing.target_shape if preprocessing is not None else None
    by_shape = collections.defaultdict(list)
    for i in indices:
        shape = shapes[i]
        by_shape[(*target, shape[-1]) if target else shape].append(str(source.ids[i]))
    if len(by_shape) > 1:
        raise _shape_error(source, by_shape)
    return next(iter(by_shape))


def _prepare(source, indices, preprocessing, shape):
    arrays = source.read(indices)
    out = np.empty((len(arrays), *shape), dtype=np.float32)
    for j, (i, array) in enumerate(zip(indices, arrays)):
        name = f"{source.name}[{source.ids[i]}]"
        array = preprocessing(array, name) if preprocessing is not None else replace_nonfinite(array, "raise", name)
        if array.shape != tuple(shape):  # the file's header promised another shape
            raise ValueError(f"{name} has shape {array.shape} after reading, but {tuple(shape)} was expected "
                             "from the headers; the file may be damaged.")
        out[j] = array
    return out


def load_volumes(source, indices=None, preprocessing=None, chunk=32):
    """Volumes of ``source`` in memory as one float32 array, read ``chunk`` at a time.

    Args:
        source: a volume source (:class:`biocnn.data.volumes.HDF5Volumes` ...).
        indices: which volumes, in which order (default all).
        preprocessing: a :class:`VolumePreprocessing` (default: NaN refused, nothing else).
        chunk: volumes read per HDF5 request.

    Returns:
        float32 array ``(N, D, H, W, C)``.

    Raises:
        ValueError: mixed shapes without a target shape, NaN or infinite voxels under the
            ``"raise"`` policy (the volume is named), or a damaged file.

    Example:
        >>> from biocnn.data.volumes import ArrayVolumes
        >>> print(load_volumes(ArrayVolumes(np.zeros((5, 4, 4, 4))), indices=[4, 0]).shape)
        (2, 4, 4, 4, 1)
    """
    indices = _indices(source, indices)
    shape = check_volume_shapes(source, indices, preprocessing)
    out = np.empty((len(indices), *shape), dtype=np.float32)
    for start in range(0, len(indices), chunk):
        out[start:start + chunk] = _prepare(source, indices[start:start + chunk], preprocessing, shape)
    return out


def volume_dataset(source, labels=None, indices=None, batch_size=8, preprocessing=None, shuffle=False, seed=0):
    """A ``tf.data.Dataset`` of volume batches, read from ``source`` as it is iterated.

    Only the volumes of the batches being prepared are in memory (reading runs two batches
    ahead of the model); for an HDF5 stack one batch is one read of the selected rows. Shapes
    are checked from metadata first, so mixed shapes fail here and not mid-epoch; NaN in a
    volume fails when its batch is read, with the volume named in the error.

    Args:
        source: a volume source.
        labels: (len(source),) integer labels indexed like the source (e.g. ``table.labels``),
            or None for a dataset of inputs only (for ``model.predict``).
        indices: the volumes to use (e.g. one split), default all.
        batch_size: volumes per batch (the last batch may be smaller).
        preprocessing: a :class:`VolumePreprocessing`.
        shuffle: reshuffle ``indices`` every epoch (training).
        seed: the shuffling seed.

    Returns:
        tf.data.Dataset of ``float32 (B, D, H, W, C)`` batches, or of ``(volumes, int64 (B,))``
        when ``labels`` is given; its cardinality is the number of batches.

    Raises:
        ValueError: mixed shapes without a target shape, or labels of the wrong length.

    Example:
        >>> from biocnn.data.volumes import ArrayVolumes
        >>> ds = volume_dataset(ArrayVolumes(np.zeros((5, 4, 4, 4))), labels=[0, 1, 0, 1, 0], batch_size=2)
        >>> print([tuple(x.shape) for x, y in ds])
        [(2, 4, 4, 4, 1), (2, 4, 4, 4, 1), (1, 4, 4, 4, 1)]
    """
    indices = _indices(source, indices)
    shape = check_volume_shapes(source, indices, preprocessing)
    if labels is not None and len(labels) != len(source):
        raise ValueError(f"{len(labels)} labels for the {len(source)} volumes of {source.name}: give one per volume.")

    def read(batch_indices):
        return _prepare(source, batch_indices, preprocessing, shape)

    def load(batch_indices):
        volumes = tf.numpy_function(read, [batch_indices], tf.float32, stateful=False)
        volumes.set_shape((None, *shape))
        if labels is None:
            return volumes
        return volumes, tf.gather(label_tensor, batch_indices)

    label_tensor = None if labels is None else tf.constant(np.asarray(labels, dtype=np.int64))
    order = tf.data.Dataset.from_tensor_slices(indices)
    if shuffle:
        order = order.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    batches = order.batch(batch_size).map(load, num_parallel_calls=2, deterministic=True)
    return batches.prefetch(2)
