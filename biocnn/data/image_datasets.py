"""Image datasets: a folder per class, or a CSV of (path, label[, group][, split]).

Both give an :class:`ImageTable`: absolute file paths, integer labels, class names, and the
optional groups (patient, slide, source image) and predefined splits. Everything that can be
checked before training is checked when the table is made (paths, labels) or by
:func:`check_images` (file headers: channel counts and sizes), and every problem is reported
with the file, and for a CSV the line, that causes it.

Paths in a CSV are relative to the CSV's folder (absolute paths are allowed too) and must stay
inside the data root (by default that same folder): ``../../etc/passwd`` or a symbolic link
leading out is refused, so a table received from elsewhere cannot make a pipeline read files
outside the dataset.

The pixels are then either loaded into memory (:func:`load_images`) or streamed from disk in
batches through ``tf.data`` (:func:`image_dataset`) when the dataset does not fit in memory.
"""

import collections
import dataclasses
import os
import warnings

import numpy as np
import pandas as pd
import tensorflow as tf

from biocnn.data.labels import class_indices
from biocnn.data.images import IMAGE_EXTENSIONS, is_image_file, load_image, probe_image
from biocnn.splits import train_val_test_split
from biocnn.data.table_hints import separator_hint, table_problem

SPLIT_NAMES = ("train", "val", "test")
_REQUIRED_COLUMNS = ("path", "label")
_SHOWN = 5  # problems listed in one message

__all__ = [
    "ImageTable",
    "check_images",
    "check_training_labels",
    "image_dataset",
    "load_images",
    "make_table",
    "read_label_csv",
    "split_table",
    "table_from_csv",
    "table_from_folder",
]


@dataclasses.dataclass(frozen=True)
class ImageTable:
    """Image files with their labels.

    Attributes:
        paths: (N,) absolute file paths.
        labels: (N,) int64 class indices into ``class_names``.
        class_names: the classes, in label order.
        ids: (N,) short names of the samples (paths relative to the data root).
        groups: (N,) group names (patient, slide ...), or None.
        splits: (N,) predefined split names (``train``, ``val``, ``test``), or None.
        root: the data root that every path lies in.
    """

    paths: np.ndarray
    labels: np.ndarray
    class_names: tuple
    ids: np.ndarray
    groups: np.ndarray | None = None
    splits: np.ndarray | None = None
    root: str = ""

    def __len__(self):
        return len(self.paths)

    def subset(self, indices):
        """The rows ``indices`` as a new table with the same classes."""
        indices = np.asarray(indices, dtype=np.int64)

        def take(values):
            return None if values is None else values[indices]

        return dataclasses.replace(
            self,
            paths=self.paths[indices],
            labels=self.labels[indices],
            ids=self.ids[indices],
            groups=take(self.groups),
            splits=take(self.splits),
        )

    def class_counts(self):
        """dict class name -> number of samples."""
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(n) for name, n in zip(self.class_names, counts)}


def _listing(items, total=None):
    total = len(items) if total is None else total
    shown = "; ".join(items[:_SHOWN])
    return shown + (f"; and {total - _SHOWN} more" if total > _SHOWN else "")


def _real_root(root):
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Data root '{root}' is not a folder.")
    return root, os.path.realpath(root)


def _inside(real_root, path):
    real = os.path.realpath(path)
    return os.path.commonpath([real_root, real]) == real_root


def make_table(paths, names, root, groups=None, splits=None, class_names=None, ids=None, where=None):
    """An :class:`ImageTable` from per-sample paths and labels, classes in the one order of
    :func:`biocnn.data.labels.class_indices` (numbers numerically, else sorted, or ``class_names``).

    Args:
        paths: (N,) file paths (or names of the samples inside one file).
        names: (N,) labels.
        root: the data root; ``ids`` default to the paths relative to it.
        groups, splits: optional (N,) group and split names.
        class_names: the classes in label order.
        ids: (N,) sample ids (default: paths relative to ``root``).
        where: the file the labels come from, for messages (default ``root``).

    Raises:
        ValueError: labels outside ``class_names``, or fewer than 2 classes.

    Example:
        >>> print(make_table(["a/1.png", "b/2.png"], ["10", "2"], "").class_names)
        ('2', '10')
    """
    where = where or f"the data under '{root}'"
    labels, classes = class_indices(names, class_names, where=where)
    if len(classes) < 2:
        raise ValueError(f"{where}: a classifier needs at least 2 classes, found only {classes}. Add samples of "
                         "other classes.")
    paths = np.asarray(paths, dtype=str)
    return ImageTable(
        paths=paths,
        labels=labels,
        class_names=tuple(classes),
        ids=np.asarray(ids if ids is not None else [os.path.relpath(p, root) for p in paths], dtype=str),
        groups=None if groups is None else np.asarray(groups, dtype=str),
        splits=None if splits is None else np.asarray(splits, dtype=str),
        root=root,
    )


def table_from_folder(root, class_names=None):
    """A table from a folder per class: ``root/<class>/**/<image>``.

    Every sub-folder of ``root`` is a class (hidden ones, starting with ``.``, are skipped);
    its image files (:data:`biocnn.data.images.IMAGE_EXTENSIONS`, searched recursively, sorted)
    are that class's samples.

    Args:
        root: the folder.
        class_names: the classes in label order (default: the folder names, sorted; numbers
            numerically).

    Returns:
        An :class:`ImageTable` (no groups, no splits).

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: a class folder without image files, fewer than 2 classes, or a file
            whose real location is outside ``root`` (a symbolic link leading out).

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> root = tempfile.mkdtemp()
        >>> for name in ("rbc", "wbc"):
        ...     os.makedirs(f"{root}/{name}")
        ...     Image.fromarray(np.zeros((8, 8), np.uint8)).save(f"{root}/{name}/1.png")
        >>> table = table_from_folder(root)
        >>> print(table.class_names, table.labels, table.ids)
        ('rbc', 'wbc') [0 1] ['rbc/1.png' 'wbc/1.png']
    """
    root, real_root = _real_root(root)
    folders = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    loose = sorted(e.name for e in os.scandir(root) if e.is_file() and is_image_file(e.name))
    if loose:
        warnings.warn(
            f"{len(loose)} image file(s) directly in '{root}' (e.g. {loose[0]}) belong to no class "
            "and are ignored; move them into a class folder.",
            UserWarning,
            stacklevel=2,
        )
    if class_names is not None:
        missing = [c for c in class_names if c not in folders]
        if missing:
            raise ValueError(f"No folder for the classes {missing} in '{root}'; it has {folders}.")
        folders = [f for f in class_names]
    paths, names = [], []
    for folder in folders:
        found, others = [], []
        for here, subdirs, files in os.walk(os.path.join(root, folder)):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            for file in sorted(files):
                if file.startswith("."):
                    continue
                (found if is_image_file(file) else others).append(os.path.join(here, file))
        if not found:
            hint = f"; it holds {len(others)} other file(s), e.g. '{os.path.basename(others[0])}'" if others else ""
            raise ValueError(
                f"Class folder '{os.path.join(root, folder)}' has no image files ("
                f"{', '.join(IMAGE_EXTENSIONS)}){hint}. Add images to it, or remove the folder."
            )
        outside = [p for p in found if not _inside(real_root, p)]
        if outside:
            raise ValueError(
                f"{len(outside)} file(s) in '{root}' lead outside it through symbolic links: "
                f"{_listing(outside)}. Copy the files into the data folder instead."
            )
        paths += found
        names += [folder] * len(found)
    return make_table(paths, names, root, class_names=class_names)


def read_label_csv(csv_path, required=_REQUIRED_COLUMNS,
                   expected="a header line 'path,label' with optional 'group' and 'split' columns"):
    """A label table (CSV) as strings: lower-case column names, cells stripped, no empty table.

    Args:
        csv_path: the CSV file.
        required: the columns it must have.
        expected: what the header should be, for the message.

    Returns:
        ``(absolute path, DataFrame)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable, missing columns (named, with those found) or no rows.
    """
    csv_path = os.path.abspath(os.fspath(csv_path))
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"No such CSV file: '{csv_path}'.")
    try:
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{csv_path}: not a readable CSV table ({error}).{table_problem(error)}") from error
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing and separator_hint(frame.columns):
        raise ValueError(f"{csv_path}: missing column(s) {missing}.{separator_hint(frame.columns)}")
    if missing:
        raise ValueError(f"{csv_path}: missing column(s) {missing}; found {list(frame.columns)}. Expected {expected}.")
    if frame.empty:
        raise ValueError(f"{csv_path}: the table has a header but no rows.")
    return csv_path, frame.apply(lambda column: column.str.strip())


def _problems(frame, csv_path, root, real_root):
    """Per-row path and label problems, as '(line n) ...' strings grouped by kind."""
    problems = collections.defaultdict(list)
    resolved = []
    folder = os.path.dirname(csv_path)
    has_split = "split" in frame.columns
    for row, record in enumerate(frame.itertuples(index=False)):
        line = row + 2  # the header is line 1
        value, label = record.path, record.label
        path = os.path.normpath(os.path.join(folder, value))
        resolved.append(path)
        if not value:
            problems["have an empty path"].append(f"line {line}")
        elif not _inside(real_root, path):
            problems[f"lead outside the data root '{root}'"].append(f"line {line}: '{value}'")
        elif not os.path.exists(path):
            problems["name files that do not exist"].append(f"line {line}: '{value}' (looked for {path})")
        elif not os.path.isfile(path) or not os.access(path, os.R_OK):
            problems["are not readable files"].append(f"line {line}: '{value}'")
        elif not is_image_file(path):
            problems[f"are not image files ({', '.join(IMAGE_EXTENSIONS)})"].append(f"line {line}: '{value}'")
        if not label:
            problems["have an empty label"].append(f"line {line}")
        if has_split and record.split not in SPLIT_NAMES:
            problems[f"have a split other than {', '.join(SPLIT_NAMES)}"].append(f"line {line}: '{record.split}'")
    return problems, resolved


def table_from_csv(csv_path, root=None, class_names=None):
    """A table from a CSV with columns ``path``, ``label`` and optional ``group`` and ``split``.

    Args:
        csv_path: the CSV file; a header line names the columns.
        root: the data root; every path must lie inside it (after following symbolic links).
            Default: the CSV's folder.
        class_names: the classes in label order (default: the labels, sorted; numbers
            numerically).

    Returns:
        An :class:`ImageTable`; ``groups`` from a ``group`` column, ``splits`` from a ``split``
        column (``train``, ``val`` or ``test``).

    Raises:
        FileNotFoundError: no such CSV, or ``root`` is not a folder.
        ValueError: missing columns; paths that are empty, lead outside the root, do not
            exist or are not images; empty labels; unknown split names. The message lists
            the CSV lines at fault.

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> root = tempfile.mkdtemp()
        >>> for i in range(2):
        ...     Image.fromarray(np.zeros((8, 8), np.uint8)).save(f"{root}/{i}.png")
        >>> _ = open(f"{root}/cells.csv", "w").write("path,label,group\\n0.png,rbc,s1\\n1.png,wbc,s2\\n")
        >>> table = table_from_csv(f"{root}/cells.csv")
        >>> print(table.labels, table.groups)
        [0 1] ['s1' 's2']
    """
    csv_path = os.path.abspath(os.fspath(csv_path))
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"No such CSV file: '{csv_path}'.")
    root, real_root = _real_root(root if root is not None else os.path.dirname(csv_path))
    _, frame = read_label_csv(csv_path)
    problems, paths = _problems(frame, csv_path, root, real_root)
    if problems:
        messages = [f"{len(rows)} row(s) {kind}: {_listing(rows)}" for kind, rows in problems.items()]
        raise ValueError(
            f"{csv_path}: " + ". ".join(messages) + ". Paths are relative to the CSV's folder; fix "
            "or remove these rows."
        )
    groups = frame["group"].tolist() if "group" in frame.columns else None
    if groups is not None and not all(groups):
        empty = [f"line {i + 2}" for i, g in enumerate(groups) if not g]
        raise ValueError(f"{csv_path}: {len(empty)} row(s) have an empty group: {_listing(empty)}.")
    splits = frame["split"].tolist() if "split" in frame.columns else None
    return make_table(paths, frame["label"].tolist(), root, groups, splits, class_names)


def check_training_labels(labels_by_split, class_names):
    """Raise if a class occurs in validation or test but not in training.

    A model cannot learn a class it never saw, and its metrics for that class would be
    meaningless; with group-aware splits it happens when all of a class's groups land outside
    the training split.

    Args:
        labels_by_split: dict split name -> (N,) integer labels; must contain ``"train"``.
        class_names: names of the classes, in label order.

    Raises:
        ValueError: naming each such class and where its samples are.

    Example:
        >>> check_training_labels({"train": [0, 1, 1], "test": [1, 0]}, ["rbc", "wbc"])
    """
    train = set(np.asarray(labels_by_split["train"]).tolist())
    absent = []
    for c, name in enumerate(class_names):
        if c in train:
            continue
        where = {s: int(np.sum(np.asarray(y) == c)) for s, y in labels_by_split.items() if s != "train"}
        where = {s: n for s, n in where.items() if n}
        if where:
            found = ", ".join(f"{n} in {s}" for s, n in where.items())
            absent.append(f"'{name}' ({found})")
    if absent:
        raise ValueError(
            f"Class(es) {', '.join(absent)} have no training samples, so the model cannot learn "
            "them. Put some of their samples (or groups) in the training split, add samples, or "
            "drop the class; with a group-aware split a different --seed may also help."
        )


def split_table(table, test_size=0.2, val_size=0.1, seed=0):
    """Split a table into train, val and test tables.

    A table with ``splits`` (a CSV ``split`` column) is split as it says. Otherwise the split
    is stratified by class and, with ``groups``, group-disjoint (no patient or slide on two
    sides; see :func:`biocnn.splits.train_val_test_split`).

    Args:
        table: an :class:`ImageTable`.
        test_size, val_size: fractions of the samples (or groups) held out.
        seed: seed of the split.

    Returns:
        dict ``{"train": table, "val": table, "test": table}``.

    Raises:
        ValueError: a predefined split that lacks train, val or test; classes too small to
            stratify; or a class absent from training (:func:`check_training_labels`).

    Example:
        >>> t = ImageTable(np.array([f"{i}.png" for i in range(20)]), np.arange(20) % 2,
        ...                ("a", "b"), np.array([f"{i}.png" for i in range(20)]))
        >>> print({k: len(v) for k, v in split_table(t, 0.2, 0.2).items()})
        {'train': 12, 'val': 4, 'test': 4}
    """
    if table.splits is not None:
        missing = [s for s in SPLIT_NAMES if not np.any(table.splits == s)]
        if missing:
            raise ValueError(
                f"The table's split column has no rows for {missing}; every one of "
                f"{', '.join(SPLIT_NAMES)} needs rows (or drop the column for a random split)."
            )
        parts = {s: np.flatnonzero(table.splits == s) for s in SPLIT_NAMES}
    else:
        parts = train_val_test_split(table.labels, test_size, val_size, table.groups, seed, table.class_names)
    check_training_labels({s: table.labels[i] for s, i in parts.items()}, table.class_names)
    return {s: table.subset(i) for s, i in parts.items()}


def check_images(table, shape=None, channels=None, rank=2, pages=None):
    """Check every file's header; return the spatial shape and channel count after loading.

    Args:
        table: an :class:`ImageTable`.
        shape: the target spatial shape, or None to require that all files have one size.
        channels: channel indices that will be kept, or None for all.
        rank, pages: as for :func:`biocnn.data.images.read_image`.

    Returns:
        ``(spatial_shape, num_channels)`` of the arrays :func:`load_images` returns.

    Raises:
        ValueError: unreadable headers, files with different numbers of channels (when not
            all of ``channels`` exist in every file), or different sizes without ``shape``.

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> root = tempfile.mkdtemp()
        >>> Image.fromarray(np.zeros((8, 9, 3), np.uint8)).save(f"{root}/a.png")
        >>> t = ImageTable(np.array([f"{root}/a.png"]), np.array([0]), ("a", "b"), np.array(["a.png"]))
        >>> print(check_images(t))
        ((8, 9), 3)
    """
    by_channels, by_size = collections.defaultdict(list), collections.defaultdict(list)
    for path, sample in zip(table.paths, table.ids):
        found, _ = probe_image(path, rank=rank, pages=pages)
        by_channels[found[-1]].append(sample)
        by_size[found[:-1]].append(sample)

    def summary(groups, what):
        return "; ".join(
            f"{what(key)} in {len(items)} file(s) (e.g. {', '.join(items[:2])})"
            for key, items in sorted(groups.items(), key=lambda kv: -len(kv[1]))
        )

    if channels is None and len(by_channels) > 1:
        raise ValueError(
            f"The images under '{table.root}' have different numbers of channels: "
            f"{summary(by_channels, lambda c: f'{c} channel(s)')}. Convert them to one format, or "
            "select channels that every file has (--channels)."
        )
    if channels is not None and min(by_channels) <= max(channels):
        few = {c: items for c, items in by_channels.items() if c <= max(channels)}
        raise ValueError(
            f"Channels {list(channels)} were selected, but some images have fewer channels: "
            f"{summary(few, lambda c: f'{c} channel(s)')}. Select channels below {min(by_channels)}."
        )
    if shape is None and len(by_size) > 1:
        raise ValueError(
            f"The images under '{table.root}' have different sizes: "
            f"{summary(by_size, lambda s: 'x'.join(map(str, s)))}. Give a common size to resize "
            "them to (--size)."
        )
    num_channels = len(channels) if channels is not None else next(iter(by_channels))
    return tuple(shape) if shape is not None else next(iter(by_size)), num_channels


def load_images(table, shape=None, channels=None, rank=2, pages=None):
    """All images of a table in memory, as one float32 array.

    Headers are checked first (:func:`check_images`), then each file is read with
    :func:`biocnn.data.images.load_image` (intensities scaled by the dtype's maximum,
    channels selected, resized).

    Args:
        table: an :class:`ImageTable`.
        shape: spatial shape to resize to, or None (all files must have one size).
        channels: channel indices to keep, or None.
        rank, pages: as for :func:`biocnn.data.images.read_image`.

    Returns:
        float32 array ``(N, *shape, C)``.

    Raises:
        ValueError: see :func:`check_images`, and a corrupt or truncated file (named).

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> root = tempfile.mkdtemp()
        >>> Image.fromarray(np.zeros((8, 9, 3), np.uint8)).save(f"{root}/a.png")
        >>> t = ImageTable(np.array([f"{root}/a.png"]), np.array([0]), ("a", "b"), np.array(["a.png"]))
        >>> print(load_images(t, shape=(4, 4)).shape)
        (1, 4, 4, 3)
    """
    spatial, num_channels = check_images(table, shape, channels, rank, pages)
    out = np.empty((len(table), *spatial, num_channels), dtype=np.float32)
    for i, path in enumerate(table.paths):
        out[i] = load_image(path, shape=shape, channels=channels, rank=rank, pages=pages)
    return out


def image_dataset(table, batch_size, shape=None, channels=None, rank=2, pages=None, shuffle=False, seed=0,
                  cache=None):
    """A ``tf.data.Dataset`` of ``(images, labels)`` batches read from disk as it is iterated.

    For datasets that do not fit in memory: only the file paths are held; files are decoded
    in parallel (order kept) a few batches ahead of training. Headers are checked first, so a
    mixed channel count fails here rather than mid-epoch; a file that is corrupt in its pixel
    data still fails when it is reached, with its name in the message.

    Args:
        table: an :class:`ImageTable`.
        batch_size: samples per batch (the last batch may be smaller).
        shape, channels, rank, pages: as for :func:`load_images`.
        shuffle: reshuffle the file order every epoch (for training).
        seed: seed of the shuffling.
        cache: None (default): decode every file in every epoch. ``"memory"``: decode every
            file once, now (as :func:`load_images`), and serve each epoch's batches from that
            array by index, reshuffled; a path: decode each file once, in the first epoch, into a
            cache file there (TensorFlow's format, for data larger than memory; the file is
            reused by a later run with the same path). Decoding a small PNG or TIFF costs more
            than a small model's training step on it (pipelines/BENCHMARKS.md).

    Returns:
        tf.data.Dataset yielding ``(float32 (B, *shape, C), int64 (B,))``, with a known
        cardinality (number of batches).

    Raises:
        ValueError: see :func:`check_images`.

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> root = tempfile.mkdtemp()
        >>> for i in range(3):
        ...     Image.fromarray(np.zeros((8, 8), np.uint8)).save(f"{root}/{i}.png")
        >>> t = ImageTable(np.array([f"{root}/{i}.png" for i in range(3)]), np.array([0, 1, 0]),
        ...                ("a", "b"), np.array(["0", "1", "2"]))
        >>> print([tuple(x.shape) for x, y in image_dataset(t, batch_size=2)])
        [(2, 8, 8, 1), (1, 8, 8, 1)]
    """
    spatial, num_channels = check_images(table, shape, channels, rank, pages)
    element_shape = (*spatial, num_channels)

    def read(paths):
        images = np.empty((len(paths), *element_shape), dtype=np.float32)
        for i, path in enumerate(paths):
            images[i] = load_image(path.decode(), shape=shape, channels=channels, rank=rank, pages=pages)
        return images

    def decode(paths, labels):
        # One Python call per batch, not per image: tf.data's per-element hand-over to Python
        # cost more than decoding a small PNG (pipelines/bench_input.py).
        images = tf.numpy_function(read, [paths], tf.float32, stateful=False)
        images.set_shape((None, *element_shape))
        return images, labels

    data = tf.data.Dataset.from_tensor_slices((table.paths, table.labels))
    if cache is None:
        if shuffle:
            data = data.shuffle(len(table), seed=seed, reshuffle_each_iteration=True)
        data = data.batch(batch_size).map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return data.prefetch(tf.data.AUTOTUNE)
    if not isinstance(cache, str) or not cache:
        raise ValueError(f"image_dataset: cache must be None, 'memory' or a file path, got {cache!r}.")
    if cache == "memory":
        return _indexed_batches(load_images(table, shape, channels, rank, pages), table.labels, batch_size,
                                shuffle, seed)
    data = data.batch(batch_size).map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).unbatch()
    data = data.cache(cache)
    if shuffle:
        data = data.shuffle(len(table), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size).apply(tf.data.experimental.assert_cardinality(-(-len(table) // batch_size)))
    return data.prefetch(tf.data.AUTOTUNE)


def _indexed_batches(images, labels, batch_size, shuffle, seed):
    # Only indices are shuffled and batched; images are gathered a batch at a time, so an epoch
    # costs what training from arrays costs (per-image shuffling of the images themselves cost
    # about 13 ms per epoch of 546 small images, 12 % of a LeNet-5 epoch: pipelines/BENCHMARKS.md).
    x, y = tf.constant(images), tf.constant(np.asarray(labels, dtype=np.int64))
    indices = tf.data.Dataset.range(len(images))
    if shuffle:
        indices = indices.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    data = indices.batch(batch_size).map(lambda i: (tf.gather(x, i), tf.gather(y, i)),
                                         num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE)
