"""Data sources: every input kind biocnn reads -> one labelled table plus a loader for its samples.

A :class:`DataSource` is what every pipeline (training, cross-validation, transfer, explain,
compare) starts from, whatever the files are:

===============  ==========  ======================================================================
kind             modality    input
===============  ==========  ======================================================================
image_folder     images      a folder per class: DIR/<class>/**/<image>
image_csv        images      a CSV ``path,label[,group][,split]`` of TIFF/PNG/JPEG files
npz              images or   a MedMNIST-style ``.npz`` (train/val/test keys; 2D images or 3D volumes)
                 volumes
fasta            sequences   FASTA (or FASTQ) + a label table ``id,label[,group]``
fasta_per_class  sequences   one FASTA file per class
sequence_csv     sequences   a CSV/TSV with a sequence column and a label column
bed              sequences   BED intervals on a reference genome FASTA
hdf5             volumes     an HDF5 stack (N, D, H, W[, C]) or group; labels from a dataset or a CSV
volume_csv       volumes     a CSV ``path,label[,group][,split]`` of NIfTI/TIFF/.npy/.h5 volumes
===============  ==========  ======================================================================

A CSV's kind comes from its columns (:func:`csv_kind`: a ``path`` column of image or volume
files, or a sequence column), or from an explicit ``kind``. The table is an
:class:`biocnn.data.ImageTable` (id, label, group, split per sample) whose classes follow the one
order of :func:`biocnn.data.labels.class_indices`: numeric labels in numeric order, else sorted
strings, or the given class names. The readers are those of :mod:`biocnn.data`; this module only
chooses one and puts its output in the one table.
"""

import dataclasses
import os
import warnings

import numpy as np
import pandas as pd

from biocnn.data.encoding import Encoding
from biocnn.data.image_datasets import (
    SPLIT_NAMES,
    ImageTable,
    check_training_labels,
    image_dataset,
    load_images,
    make_table,
    table_from_csv,
    table_from_folder,
)
from biocnn.data.images import is_image_file
from biocnn.data.npz import load_npz_splits
from biocnn.data.preprocess import resize, select_channels
from biocnn.data.sequences import (
    identical_sequence_groups,
    read_bed,
    read_fasta_per_class,
    read_fasta_with_labels,
    read_sequence_csv,
)
from biocnn.data.volume_datasets import (
    VolumePreprocessing,
    check_volume_shapes,
    load_volumes,
    source_for_table,
    volume_dataset,
    volume_table,
    volume_table_from_csv,
)
from biocnn.data.volumes import ArrayVolumes, HDF5Volumes, is_volume_file, read_hdf5_array
from biocnn.splits import check_stratifiable, train_val_test_split

__all__ = ["KINDS", "DataSource", "csv_kind", "from_npz", "from_image_folder", "from_image_csv", "from_sequences",
           "from_hdf5", "from_volume_csv", "open_source"]

#: kind -> modality (None: decided by the data, as for an .npz).
KINDS = {"image_folder": "images", "image_csv": "images", "npz": None, "fasta": "sequences",
         "fasta_per_class": "sequences", "sequence_csv": "sequences", "bed": "sequences", "hdf5": "volumes",
         "volume_csv": "volumes"}
RANKS = {"sequences": 1, "images": 2, "volumes": 3}


@dataclasses.dataclass
class DataSource:
    """One labelled table and the way to load its samples.

    Attributes:
        kind: a key of :data:`KINDS`.
        modality: ``"sequences"``, ``"images"`` or ``"volumes"``.
        path: the input file or folder (for messages and ``config.json``).
        table: an :class:`biocnn.data.ImageTable`: ids, integer labels, class names, groups and
            predefined splits (either may be None).
        loader: ``indices -> float32 array (n, *sample_shape)``.
        streamer: ``(indices, batch_size, shuffle, seed) -> tf.data.Dataset`` of ``(x, y)``
            batches read from disk, or None when the samples are in memory already.
        inputs: what the run directory records about the input (``config.json`` ``inputs``).
        grouping: where the groups come from (``"the group column"``, ``"identical sequences"``), or None.
        records: the sequence records (DataFrame with ``sequence``), for sequence sources.
    """

    kind: str
    modality: str
    path: str
    table: ImageTable
    loader: object
    streamer: object = None
    inputs: dict = dataclasses.field(default_factory=dict)
    grouping: str | None = None
    records: pd.DataFrame | None = None

    def __len__(self):
        return len(self.table)

    @property
    def class_names(self):
        return list(self.table.class_names)

    @property
    def labels(self):
        return self.table.labels

    @property
    def groups(self):
        return self.table.groups

    @property
    def ids(self):
        return self.table.ids

    @property
    def rank(self):
        return RANKS[self.modality]

    def load(self, indices=None):
        """The samples ``indices`` (default: all) in memory, float32 ``(n, *sample_shape)``."""
        return self.loader(np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64))

    def split(self, test_size=0.2, val_size=0.1, seed=0):
        """dict ``train``/``val``/``test`` -> sorted sample indices.

        A predefined split (a CSV ``split`` column, the keys of an ``.npz``) is used as it is;
        otherwise the split is stratified by class and group-disjoint with groups
        (:func:`biocnn.splits.train_val_test_split`).

        Raises:
            ValueError: a predefined split missing one of train/val/test, classes too small to
                stratify, or a class with no training sample.
        """
        splits = self.table.splits
        if splits is not None:
            missing = [s for s in SPLIT_NAMES if not np.any(splits == s)]
            if missing:
                raise ValueError(f"{self.path}: the split column has no rows for {missing}; every one of "
                                 f"{', '.join(SPLIT_NAMES)} needs rows (or drop the column for a random split).")
            parts = {s: np.flatnonzero(splits == s) for s in SPLIT_NAMES}
        else:
            try:
                check_stratifiable(self.labels, 3, "train/validation/test split", self.class_names)
            except ValueError as error:
                raise ValueError(f"{self.path}: {error}") from None
            parts = train_val_test_split(self.labels, test_size, val_size, self.groups, seed, self.class_names)
        check_training_labels({s: self.labels[i] for s, i in parts.items()}, self.class_names)
        return parts

    def arrays(self, parts, stream=None, batch_size=32, seed=0):
        """dict split -> ``(x, y)``; with ``stream`` naming a split, that split is a tf.data.Dataset."""
        out = {}
        for split, index in parts.items():
            if split == stream and self.streamer is not None:
                out[split] = (self.streamer(index, batch_size, True, seed), self.labels[index])
            else:
                out[split] = (self.load(index), self.labels[index])
        return out

    def ids_of(self, parts):
        """dict split -> sample ids."""
        return {split: self.ids[index] for split, index in parts.items()}

    def describe(self):
        """The ``inputs`` section of ``config.json``: source, kind, modality, classes and the loader's settings."""
        return {"source": self.path, "kind": self.kind, "modality": self.modality, "samples": len(self),
                "class_names": self.class_names, "groups": self.grouping, **self.inputs}


def _with_group_column(table, csv_path, group_column):
    """The groups of ``table`` taken from ``group_column`` of its CSV (rows in file order)."""
    if group_column is None or group_column.lower() == "group":
        return table
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    columns = {str(c).strip().lower(): c for c in frame.columns}
    if group_column.lower() not in columns:
        raise ValueError(f"{csv_path}: --group-column {group_column!r} is not a column; found {list(frame.columns)}.")
    groups = frame[columns[group_column.lower()]].str.strip().to_numpy()
    if len(groups) != len(table):
        raise ValueError(f"{csv_path}: {len(groups)} rows but {len(table)} samples.")
    return dataclasses.replace(table, groups=groups.astype(str))


def csv_kind(path, sequence_column="sequence"):
    """``"image_csv"``, ``"volume_csv"`` or ``"sequence_csv"``, from a CSV's columns and first path.

    Raises:
        ValueError: a table with neither a ``path`` column nor ``sequence_column``.

    Example:
        >>> import tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> _ = open(path, "w").write("path,label\\na.tif,x\\n")
        >>> csv_kind(path)
        'image_csv'
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such CSV file: '{path}'.")
    head = pd.read_csv(path, dtype=str, nrows=5, sep=None, engine="python", keep_default_na=False)
    columns = [str(c).strip().lower() for c in head.columns]
    if sequence_column and sequence_column.lower() in columns:
        return "sequence_csv"
    if "path" in columns:
        first = str(head.iloc[0, columns.index("path")]).strip() if len(head) else ""
        if is_volume_file(first) and not is_image_file(first):
            return "volume_csv"
        return "image_csv"
    raise ValueError(f"{path}: cannot tell what the table lists: it has no 'path' column (image or volume files) "
                     f"and no sequence column {sequence_column!r}; found {list(head.columns)}. Name the sequence "
                     "column with --sequence-column, or add a 'path' column.")


def _image_loader(table, size, channels):
    load = dict(shape=size, channels=channels)

    def loader(index):
        return load_images(table.subset(index), **load)

    def streamer(index, batch_size, shuffle, seed):
        return image_dataset(table.subset(index), batch_size, shuffle=shuffle, seed=seed, **load)

    return loader, streamer


def from_image_folder(path, class_names=None, size=None, channels=None):
    """Images in a folder per class (:func:`biocnn.data.table_from_folder`)."""
    table = table_from_folder(path, class_names)
    loader, streamer = _image_loader(table, size, channels)
    return DataSource("image_folder", "images", path, table, loader, streamer,
                      inputs={"size": size, "channels": channels})


def from_image_csv(path, root=None, class_names=None, size=None, channels=None, group_column=None):
    """Images listed in a CSV (:func:`biocnn.data.table_from_csv`); groups from ``group_column``."""
    table = _with_group_column(table_from_csv(path, root, class_names), path, group_column)
    loader, streamer = _image_loader(table, size, channels)
    return DataSource("image_csv", "images", path, table, loader, streamer,
                      inputs={"size": size, "channels": channels},
                      grouping="the group column" if table.groups is not None else None)


def from_npz(path, class_names=None, size=None, channels=None, preprocessing=None):
    """A MedMNIST-style ``.npz``: its train/val/test arrays as one table with a split column.

    2D images (N, H, W, C) get ``channels`` and ``size``; 3D volumes (N, D, H, W, C) get the
    volume ``preprocessing`` (a :class:`biocnn.data.VolumePreprocessing`). The labels are class
    indices; ``class_names`` name them in index order (default ``"0"``, ``"1"``, ...).
    """
    splits = load_npz_splits(path)
    x = np.concatenate([splits[s][0] for s in SPLIT_NAMES])
    y = np.concatenate([splits[s][1] for s in SPLIT_NAMES])
    split = np.concatenate([[s] * len(splits[s][1]) for s in SPLIT_NAMES])
    ids = np.concatenate([[f"{s} {i}" for i in range(len(splits[s][1]))] for s in SPLIT_NAMES])
    if x.ndim not in (4, 5):
        raise ValueError(f"{path}: samples of shape {x.shape[1:]}; expected 2D images (H, W, C) or 3D volumes "
                         "(D, H, W, C).")
    modality = "images" if x.ndim == 4 else "volumes"
    num_classes = max(int(y.max()) + 1, len(class_names or ()))
    names = [str(c) for c in class_names] if class_names else [str(c) for c in range(num_classes)]
    if int(y.max()) >= len(names):
        raise ValueError(f"{path}: labels run up to {int(y.max())} but {len(names)} class names were given.")
    table = make_table(ids, [names[i] for i in y], "", splits=split, class_names=names, ids=ids, where=path)
    inputs = {"size": size, "channels": channels}
    if modality == "images":
        if channels:
            x = select_channels(x, channels, where=f"{path} images")
        if size:
            x = np.stack([resize(image, size) for image in x])
    else:
        preprocessing = preprocessing or VolumePreprocessing()
        x = load_volumes(ArrayVolumes(x, name=path), preprocessing=preprocessing)
        inputs = {"preprocessing": preprocessing.to_dict()}
    return DataSource("npz", modality, path, table, lambda index: x[index], inputs=inputs)


def from_sequences(records, encoding=None, length=None, kind="sequence_csv", alphabet="dna"):
    """Labelled sequence records (a reader's DataFrame: id, sequence, label[, group]) -> a source.

    Args:
        records: the DataFrame of :func:`biocnn.data.read_sequence_csv` and its siblings.
        encoding: an :class:`biocnn.data.Encoding`, or None: ``alphabet`` at ``length``.
        length: see ``encoding`` (default: the longest sequence).
        kind: the source kind, for the record.
        alphabet: see ``encoding``.

    Without a group column, identical sequences form one group, so that a sequence never lands
    on both sides of a split.
    """
    path = records.attrs.get("path", "the input")
    if encoding is None:
        encoding = Encoding(alphabet, length or int(records["sequence"].str.len().max()))
    if "group" in records:
        groups, grouping = records["group"].to_numpy(), "the group column"
    else:
        groups = identical_sequence_groups(records["sequence"])
        repeated = len(np.unique(groups)) < len(groups)
        groups, grouping = (groups, "identical sequences") if repeated else (None, None)
    sources = records["source"].to_numpy() if "source" in records else records["id"].to_numpy()
    table = make_table(sources, records["label"].tolist(), "", ids=records["id"].to_numpy(),
                       class_names=records.attrs.get("class_names"), where=path)
    # The groups keep their type: a group-aware split orders groups, and 10 < 2 as text.
    table = dataclasses.replace(table, groups=groups)
    x = encoding.encode(records["sequence"], names=records["source"] if "source" in records else None)
    return DataSource(kind, "sequences", path, table, lambda index: x[index],
                      inputs={"encoding": encoding.to_dict(), "records": len(records)}, grouping=grouping,
                      records=records)


def from_hdf5(path, key, labels_key=None, labels_csv=None, groups_key=None, class_names=None, preprocessing=None):
    """Volumes of an HDF5 stack or group; labels from a dataset of the file or a CSV."""
    if not key:
        raise ValueError("--hdf5 needs --key, the dataset or group that holds the volumes.")
    if bool(labels_key) == bool(labels_csv):
        raise ValueError("--hdf5 needs its labels from either --labels-key (a dataset in the file) or --csv.")
    volumes = HDF5Volumes(path, key)
    labels = read_hdf5_array(path, labels_key) if labels_key else None
    groups = read_hdf5_array(path, groups_key) if groups_key else None
    table = volume_table(volumes, labels=labels, csv_path=labels_csv, groups=groups, class_names=class_names)
    return _volume_source("hdf5", path, volumes, table, preprocessing)


def from_volume_csv(path, root=None, class_names=None, preprocessing=None, group_column=None):
    """Volume files (NIfTI, TIFF stacks, .npy, .h5) listed in a CSV ``path,label[,group][,split]``."""
    table = _with_group_column(volume_table_from_csv(path, root, class_names), path, group_column)
    return _volume_source("volume_csv", path, source_for_table(table), table, preprocessing)


def _volume_source(kind, path, volumes, table, preprocessing):
    preprocessing = preprocessing or VolumePreprocessing()
    check_volume_shapes(volumes, preprocessing=preprocessing)  # every header, before any split
    rows = volumes.indices_of(table.ids)

    def loader(index):
        return load_volumes(volumes, rows[index], preprocessing)

    def streamer(index, batch_size, shuffle, seed):
        return volume_dataset(volumes, table.labels[np.argsort(rows)], rows[index], batch_size, preprocessing,
                              shuffle=shuffle, seed=seed)

    return DataSource(kind, "volumes", path, table, loader, streamer,
                      inputs={"preprocessing": preprocessing.to_dict()},
                      grouping="the group column" if table.groups is not None else None)


def open_source(kind, path, *, class_names=None, size=None, channels=None, preprocessing=None, root=None,
                group_column=None, key=None, labels=None, labels_key=None, groups_key=None, sequence_column="sequence",
                label_column="label", id_column=None, alphabet="dna", encoding=None, encoding_options=None, length=None,
                reference=None,
                group_by_chromosome=False, drop_unlabelled=False, fastq=False, classes=None):
    """Open any input as a :class:`DataSource`: one entry point for every kind of :data:`KINDS`.

    Args:
        kind: a key of :data:`KINDS`, or ``"csv"`` to tell from the columns (:func:`csv_kind`).
        path: the file or folder (for ``fasta_per_class``: None, with ``classes``).
        class_names: the classes in label order.
        size, channels: images: resize to ``size`` (H, W), keep ``channels``.
        preprocessing: volumes: a :class:`biocnn.data.VolumePreprocessing`.
        root: CSVs of files: the data root (default: the CSV's folder).
        group_column: the column of groups (default ``group`` when present).
        key, labels_key, groups_key: HDF5: the volumes' dataset or group, labels and groups.
        labels: FASTA/BED (and HDF5 via CSV): the label table.
        sequence_column, label_column, id_column, alphabet, length: sequences.
        encoding: sequences: an :class:`biocnn.data.Encoding` (default: built from ``alphabet``,
            ``length`` and ``encoding_options``, e.g. ``{"align": "start"}``).
        reference, group_by_chromosome: BED.
        drop_unlabelled: FASTA/BED: leave out records missing from ``labels``.
        fastq: the FASTA file is FASTQ.
        classes: ``fasta_per_class``: dict class name -> FASTA file.

    Returns:
        A :class:`DataSource`.

    Raises:
        ValueError: an unknown kind or a reader's error (one line naming the file and the fix).

    Example:
        >>> import tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "s.csv")
        >>> _ = open(path, "w").write("sequence,label\\nACGT,10\\nACGA,2\\nTTTT,1\\n")
        >>> source = open_source("csv", path)
        >>> print(source.kind, source.class_names, source.load().shape)
        sequence_csv ['1', '2', '10'] (3, 4, 4)
    """
    if kind == "csv":
        kind = csv_kind(path, sequence_column)
    if kind not in KINDS:
        raise ValueError(f"Unknown data source kind {kind!r}; one of {', '.join(KINDS)} or csv.")
    if kind == "image_folder":
        return from_image_folder(path, class_names, size, channels)
    if kind == "image_csv":
        return from_image_csv(path, root, class_names, size, channels, group_column)
    if kind == "npz":
        if group_column:
            raise ValueError("--group-column needs a table with sample ids (--csv); an .npz has no ids or groups.")
        return from_npz(path, class_names, size, channels, preprocessing)
    if kind == "hdf5":
        return from_hdf5(path, key, labels_key, labels if labels else None, groups_key, class_names, preprocessing)
    if kind == "volume_csv":
        return from_volume_csv(path, root, class_names, preprocessing, group_column)
    missing = "drop" if drop_unlabelled else "error"
    if kind == "fasta":
        if not labels:
            raise ValueError(f"--{'fastq' if fastq else 'fasta'} needs --labels (a table: id, label[, group]); or "
                             "give one FASTA per class with --class NAME=PATH.")
        records = read_fasta_with_labels(path, labels, id_column or "id", label_column, group_column, alphabet,
                                         missing, fastq=fastq)
    elif kind == "fasta_per_class":
        records = read_fasta_per_class(classes, alphabet)
        path = records.attrs.get("path", path)
    elif kind == "bed":
        if not reference:
            raise ValueError("--bed needs --reference (the genome FASTA the intervals are on).")
        records = read_bed(path, reference, labels, id_column or "id", label_column, group_column,
                           group_by_chromosome, alphabet)
    else:
        records = read_sequence_csv(path, sequence_column, label_column, id_column, group_column, alphabet)
    path = records.attrs.get("path", path)
    records.attrs["class_names"] = class_names
    if encoding is None:
        longest = int(records["sequence"].str.len().max())
        encoding = Encoding(alphabet, length or longest, **(encoding_options or {}))
        if length is None and int(records["sequence"].str.len().min()) != longest:
            warnings.warn(f"lengths {int(records['sequence'].str.len().min())}-{longest}; padded to {longest} "
                          "(--length to choose)", UserWarning, stacklevel=2)
    return from_sequences(records, encoding, kind=kind)
