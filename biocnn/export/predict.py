"""Apply an export to new lab data: read the files, check them against the export, tabulate.

The files are read with biocnn's own readers and the export's recorded reader steps
(``preprocessing.before_graph``: image resizing and channel choice, a volume's NaN policy,
CT window and resampling), so new data reach the graph exactly as the training data did.
Every sample is checked before the model runs: a wrong shape or a letter outside the alphabet
is a ``ValueError`` naming the file (and record) and the expected spec.
"""

import contextlib
import os
import re

import numpy as np
import pandas as pd

from biocnn.data import preprocess
from biocnn.data.encoding import validate_sequence
from biocnn.data.images import is_image_file, load_image
from biocnn.data.npz import scale_intensities
from biocnn.data.sequences import read_fasta
from biocnn.export.savedmodel import ExportedModel, load
from biocnn.rundir import write_text

__all__ = [
    "INPUT_KINDS",
    "STREAM_INPUT_KINDS",
    "check_output",
    "describe_run",
    "predict_files",
    "predict_stream",
    "predictions_table",
    "read_images",
    "read_npz",
    "read_sequences",
    "read_volumes",
    "write_predictions",
]

#: Which inputs each modality accepts (the keyword arguments of :func:`predict_files`).
INPUT_KINDS = {
    "sequence": ("fasta", "csv"),
    "image": ("folder", "images", "npz"),
    "volume": ("folder", "volumes", "npz"),
    "signal": ("npz",),
}
_FLAGS = {"fasta": "--fasta", "csv": "--csv", "folder": "--folder", "images": "--images", "volumes": "--volumes",
          "npz": "--npz"}


@contextlib.contextmanager
def _export_hint(exported):
    """Reword validate_sequence's fix for an export, whose alphabet is not an option to choose."""
    try:
        yield
    except ValueError as error:
        alphabet = exported.encoding.alphabet.upper()
        message = re.sub(
            r"use the '(\w+)' alphabet \(--alphabet \w+\)\.",
            lambda m: f"this export was trained on {alphabet}; predict them with a model trained on {m.group(1).upper()}.",
            str(error),
        )
        if message == str(error):
            raise
        raise ValueError(message) from None


def _check_letters(sequence, exported, where):
    with _export_hint(exported):
        validate_sequence(sequence, exported.encoding.alphabet, where=where)


def read_sequences(exported, fasta=None, csv=None, sequence_column="sequence", id_column=None):
    """Sequences for a sequence export from a FASTA file or a CSV/TSV table.

    Args:
        exported: an :class:`ExportedModel` of a sequence model.
        fasta: a FASTA file (gzip or not); ids are the first word of each header.
        csv: a CSV (TSV for ``.tsv``/``.tab``/``.txt``) with one sequence per row.
        sequence_column: the column of ``csv`` holding the sequences.
        id_column: the column of ``csv`` holding ids (default: ``id`` if present, else the
            line numbers).

    Returns:
        (ids, sequences, names): lists; ``names`` say where each record is, for messages.

    Raises:
        FileNotFoundError: no such file.
        ValueError: both or neither input, a missing column, an empty cell, or a letter
            outside the export's alphabet (naming the file, record and letter).
    """
    if (fasta is None) == (csv is None):
        raise ValueError("Give one sequence input: a FASTA file or a CSV table.")
    alphabet = exported.encoding.alphabet
    if fasta is not None:
        with _export_hint(exported):
            records = read_fasta(fasta, alphabet=alphabet)
        names = [f"{source} ({identifier!r})" for source, identifier in zip(records["source"], records["id"])]
        return records["id"].tolist(), records["sequence"].tolist(), names
    csv = os.fspath(csv)
    if not os.path.isfile(csv):
        raise FileNotFoundError(f"No such sequence table: '{csv}'.")
    sep = "\t" if csv.lower().removesuffix(".gz").endswith((".tsv", ".tab", ".txt")) else ","
    table = pd.read_csv(csv, sep=sep, dtype=str, keep_default_na=False)
    table.columns = [str(c).strip() for c in table.columns]
    if id_column is None and "id" in table.columns:
        id_column = "id"
    for column, flag in ((sequence_column, "--sequence-column"), (id_column, "--id-column")):
        if column is not None and column not in table.columns:
            raise ValueError(f"{csv}: no column {column!r} ({flag}); the columns are {list(table.columns)}.")
    sequences = [s.strip() for s in table[sequence_column]]
    lines = [f"line {i + 2}" for i in range(len(table))]
    ids = [s.strip() for s in table[id_column]] if id_column is not None else lines
    names = [f"{csv}, {line} ({identifier!r})" for line, identifier in zip(lines, ids)]
    for sequence, name in zip(sequences, names):
        _check_letters(sequence, exported, name)
    if not sequences:
        raise ValueError(f"{csv}: the table has no rows.")
    return ids, sequences, names


def _files_in(folder, accept, what):
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"No such folder: '{folder}'.")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".") and accept(f)]
    if not found:
        raise ValueError(f"'{folder}' holds no {what} files.")
    return [os.path.relpath(p, folder) for p in found], found


def _checked(exported, array, where):
    expected = exported.input_shape
    if array.shape != expected and expected[-1] == 1 and array.shape == expected[:-1]:
        array = array[..., None]
    if array.shape != expected:
        raise ValueError(exported.shape_message(array.shape, where))
    return array


def read_images(exported, folder=None, paths=None, resize=False):
    """Images for an image export, read like training images and checked against its input.

    Integer images are divided by their dtype's maximum, the training run's channel choice is
    applied, and images are resized to the training size when the run resized them (or to the
    export's input size with ``resize=True``).

    Args:
        exported: an :class:`ExportedModel` of an image model.
        folder: a folder searched recursively for image files (ids: relative paths).
        paths: image files (ids: the paths as given).
        resize: resize every image to the export's input size (bilinear).

    Returns:
        (ids, images): a list and a float32 array ``(N, H, W, C)``.

    Raises:
        FileNotFoundError: a missing file or folder.
        ValueError: both or neither input, no image files, or an image whose shape differs from
            the export's input (the message names the file, the expected shape and ``--resize``).
    """
    if (folder is None) == (paths is None):
        raise ValueError("Give one image input: a folder or a list of image files.")
    ids, paths = _files_in(folder, is_image_file, "image") if folder is not None else (list(paths), list(paths))
    read = _image_reader(exported, resize)
    return ids, np.stack([read(p) for p in paths])


def _image_reader(exported, resize):
    """path -> one checked image, read as the training run read its images."""
    before = exported.metadata["preprocessing"]["before_graph"]
    size = before.get("resize_to") or (exported.input_shape[:-1] if resize else None)
    return lambda p: _checked(exported, load_image(p, shape=size, channels=before.get("channels")), f"'{p}'")


def _volume_preprocessing(exported, resize):
    from biocnn.data.volume_datasets import VolumePreprocessing  # volume readers load h5py; only when needed

    settings = dict(exported.metadata["preprocessing"]["before_graph"].get("volume_preprocessing") or {})
    if resize and not settings.get("target_shape"):
        settings["target_shape"] = exported.input_shape[:-1]
    return VolumePreprocessing(**settings)


def read_volumes(exported, folder=None, paths=None, resize=False):
    """Volumes for a volume export, with the training run's NaN policy, window and resampling.

    Args:
        exported: an :class:`ExportedModel` of a volume model.
        folder: a folder searched recursively for volume files (NIfTI, TIFF stacks, ``.npy``,
            single-dataset HDF5).
        paths: volume files.
        resize: resample every volume to the export's input size (trilinear) when the run
            did not resample.

    Returns:
        (ids, volumes): a list and a float32 array ``(N, D, H, W, C)``.

    Raises:
        FileNotFoundError: a missing file or folder.
        ValueError: both or neither input, no volume files, NaN voxels under the run's
            ``"raise"`` policy, or a shape that differs from the export's input.
    """
    from biocnn.data.volumes import is_volume_file  # volume readers load h5py; only when needed

    if (folder is None) == (paths is None):
        raise ValueError("Give one volume input: a folder or a list of volume files.")
    ids, paths = _files_in(folder, is_volume_file, "volume") if folder is not None else (list(paths), list(paths))
    read = _volume_reader(exported, resize)
    return ids, np.stack([read(p) for p in paths])


def _volume_reader(exported, resize):
    """path -> one checked volume, with the training run's NaN policy, window and resampling."""
    from biocnn.data.volumes import read_volume  # volume readers load h5py; only when needed

    step = _volume_preprocessing(exported, resize)
    return lambda p: _checked(exported, step(read_volume(p).array, name=f"'{p}'"), f"'{p}'")


def read_npz(exported, path, key=None, resize=False):
    """Samples for an image, volume or signal export from one array of an ``.npz`` (no pickle).

    Integer arrays are divided by their dtype's maximum (as the training readers do); a
    missing channel axis is added when the export takes one channel.

    Args:
        exported: an :class:`ExportedModel`.
        path: the ``.npz`` file.
        key: the array to read (default: the only array, or ``test_images``).
        resize: resize each sample to the export's input size.

    Returns:
        (ids, samples): ids ``"<key>[<i>]"`` and a float32 array ``(N, *spatial, C)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unreadable file, an unknown or ambiguous key, or samples of another shape.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such .npz file: '{path}'.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if key is None:
                key = keys[0] if len(keys) == 1 else "test_images" if "test_images" in keys else None
            if key is None or key not in keys:
                raise ValueError(f"{path}: choose the array with --key; it holds {keys}.")
            array = archive[key]
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error}).") from None
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{path}: '{key}' has dtype {array.dtype}; expected numbers.")
    prepare = _array_sample(exported, resize)
    samples = [prepare(sample, f"{path}: {key}[{i}]") for i, sample in enumerate(scale_intensities(array))]
    if not samples:
        raise ValueError(f"{path}: '{key}' holds no samples.")
    return [f"{key}[{i}]" for i in range(len(samples))], np.stack(samples)


def _array_sample(exported, resize):
    """(sample of a stack, where) -> the sample as the export takes it (channel choice, resizing)."""
    before = exported.metadata["preprocessing"]["before_graph"]
    step = _volume_preprocessing(exported, resize) if exported.modality == "volume" else None

    def prepare(sample, where):
        if step is not None:
            sample = step(sample if sample.ndim == 4 else sample[..., None], where)
        elif exported.modality == "image":
            if before.get("channels"):
                sample = preprocess.select_channels(sample if sample.ndim == 3 else sample[..., None],
                                                    before["channels"], where=where)
            size = before.get("resize_to") or (exported.input_shape[:-1] if resize else None)
            if size is not None:
                sample = preprocess.resize(sample if sample.ndim == 3 else sample[..., None], size)
        return _checked(exported, np.asarray(sample, np.float32), where)

    return prepare


def predictions_table(exported, inputs, ids, names=None, batch_size=256):
    """One row per sample: ``id``, ``predicted`` (class name), ``probability_<class>`` ...

    Args:
        exported: an :class:`ExportedModel`.
        inputs: sequences or an array, as :meth:`ExportedModel.check` accepts.
        ids: one id per sample.
        names: optional names of the samples for error messages.
        batch_size: samples per SavedModel call.

    Returns:
        pandas.DataFrame.

    Example:
        >>> table = predictions_table(model, ["ACGT"], ["r1"])  # doctest: +SKIP
        >>> list(table.columns)  # doctest: +SKIP
        ['id', 'predicted', 'probability_bound', 'probability_unbound']
    """
    result = exported(inputs, names=names, batch_size=batch_size)
    table = pd.DataFrame({"id": list(ids), "predicted": result["class_name"]})
    for c, name in enumerate(exported.class_names):
        table[f"probability_{name}"] = result["probabilities"][:, c]
    return table


def predict_files(model, *, fasta=None, csv=None, sequence_column="sequence", id_column=None, folder=None,
                  images=None, volumes=None, npz=None, key=None, resize=False, batch_size=256):
    """Read one input of lab data and predict it with an export.

    Args:
        model: an export directory or an :class:`ExportedModel`.
        fasta, csv, sequence_column, id_column: sequence inputs (see :func:`read_sequences`).
        folder: a folder of images or volumes (by the export's modality).
        images: image files. volumes: volume files.
        npz, key: an ``.npz`` array of images, volumes or signals (see :func:`read_npz`).
        resize: resize images/volumes to the export's input size.
        batch_size: samples per SavedModel call.

    Returns:
        pandas.DataFrame as :func:`predictions_table`.

    Raises:
        ValueError: no input or several, an input the export's modality does not take (the
            message lists those it does), or any reading/checking error of the readers.
    """
    exported = model if isinstance(model, ExportedModel) else load(model)
    given = {k: v for k, v in dict(fasta=fasta, csv=csv, folder=folder, images=images, volumes=volumes,
                                   npz=npz).items() if v is not None}
    accepted = INPUT_KINDS[exported.modality]
    if len(given) != 1 or next(iter(given)) not in accepted:
        what = (f"{exported.encoding.alphabet.upper()} sequences" if exported.modality == "sequence"
                else f"{exported.modality}s of shape {exported.input_shape}")
        got = ", ".join(_FLAGS[k] for k in given) or "nothing"
        raise ValueError(
            f"The export '{exported.path}' takes {what}; give one of {', '.join(_FLAGS[k] for k in accepted)} "
            f"(got {got})."
        )
    names = None
    if exported.modality == "sequence":
        ids, inputs, names = read_sequences(exported, fasta, csv, sequence_column, id_column)
    elif npz is not None:
        ids, inputs = read_npz(exported, npz, key, resize)
    elif exported.modality == "image":
        ids, inputs = read_images(exported, folder, images, resize)
    else:
        ids, inputs = read_volumes(exported, folder, volumes, resize)
    return predictions_table(exported, inputs, ids, names=names, batch_size=batch_size)


def check_output(path, overwrite=False):
    """Raise unless ``path`` may be written: missing, or an existing file with ``overwrite``.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False, or it is a folder.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise FileExistsError(f"'{path}' is a folder; --out must be a file name such as predictions.csv.")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"'{path}' already exists. Pass --overwrite to replace it, or choose another --out.")


def write_predictions(table, path, overwrite=False):
    """Write a predictions table as CSV, atomically; an existing file needs ``overwrite``.

    Raises:
        FileExistsError: see :func:`check_output`.
    """
    check_output(path, overwrite)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    write_text(path, table.to_csv(index=False))


# --- streaming: inputs of any size ---------------------------------------------------------------

#: Which inputs each modality accepts in :func:`predict_stream` (``pipelines/predict.py``).
STREAM_INPUT_KINDS = {
    "sequence": ("fasta", "csv", "bed", "genome"),
    "image": ("folder", "images", "csv", "npz", "h5"),
    "volume": ("folder", "volumes", "csv", "npz", "h5"),
    "signal": ("npz", "h5"),
}
_STREAM_FLAGS = {**_FLAGS, "bed": "--bed", "genome": "--genome", "h5": "--h5"}
_ALIGN_WORDS = {"center": "centre-cropped", "start": "cropped to their start", "end": "cropped to their end"}


class _Counts:
    """What the readers did to the samples (cropped, padded), for the run's report."""

    def __init__(self):
        self.cropped = self.padded = 0


def _sequence_samples(exported, records, counts):
    """Check letters and lengths of ``(key, sequence, where)`` records, counting crops and pads."""
    length = exported.input_shape[0]
    fits = exported.encoding.length is not None
    for key, sequence, where in records:
        _check_letters(sequence, exported, where)
        if len(sequence) > length and fits:
            counts.cropped += 1
        elif len(sequence) < length and fits:
            counts.padded += 1
        elif len(sequence) != length:
            raise ValueError(
                f"{where} has {len(sequence)} letters; this model takes sequences of exactly {length} (it was "
                "trained without a crop/pad length). Crop or pad the sequences to that length."
            )
        yield key, sequence, where


def _csv_records(exported, csv, sequence_column, id_column):
    from biocnn.data.streams import TableRows

    rows = TableRows(csv, {"--sequence-column": sequence_column})
    header = rows.header()
    if id_column is None and "id" in header:
        id_column = "id"
    columns = {"--sequence-column": sequence_column}
    if id_column is not None:
        columns["--id-column"] = id_column
    rows.columns = columns

    def records():
        for line, row in rows:
            identifier = row[id_column].strip() if id_column is not None else f"line {line}"
            yield (identifier,), row[sequence_column].strip(), f"{rows.path}, line {line} ({identifier!r})"

    return records(), rows.fraction_read


def _fai_lengths(reference):
    fai = os.fspath(reference) + ".fai"
    if not os.path.isfile(fai):
        return None
    with open(fai) as f:
        return {line.split("\t")[0]: int(line.split("\t")[1]) for line in f if line.strip()}


def _genome_source(exported, genome, window, stride, regions, last, max_n, counts):
    from biocnn.data.genome import GenomeWindows, count_windows

    if exported.encoding.alphabet not in ("dna", "rna"):
        raise ValueError(f"--genome needs a DNA or RNA export; '{exported.path}' reads "
                         f"{exported.encoding.alphabet} sequences.")
    if window is None or stride is None:
        raise ValueError("--genome needs --window W and --stride S (bases).")
    length = exported.input_shape[0]
    if exported.encoding.length is None and (window != length or last == "pad"):
        raise ValueError(
            f"--window {window}{' with --last pad' if last == 'pad' else ''}: this model takes sequences of exactly "
            f"{length} letters (trained without a crop/pad length); scan with --window {length} and --last drop "
            "or shift."
        )
    windows = GenomeWindows(genome, window, stride, regions=regions, last=last, alphabet=exported.encoding.alphabet,
                            max_n=max_n)
    lengths = _fai_lengths(genome)
    total = count_windows(lengths, window, stride, windows.regions, last) if lengths and max_n is None else None

    def samples():
        for chrom, start, end, sequence in windows:
            if len(sequence) > length:
                counts.cropped += 1
            elif len(sequence) < length:
                counts.padded += 1
            yield (chrom, start, end), sequence, f"{windows.reference}, {chrom}:{start}-{end}"

    return windows, samples(), total


def _stack_source(exported, path, key, resize, h5):
    """(ids, samples, total) of an .npz array or an HDF5 dataset, read a block at a time."""
    prepare = _array_sample(exported, resize)
    if not h5:
        with np.load(os.fspath(path), allow_pickle=False) as archive:  # an .npz member is read whole
            keys = list(archive.keys())
            key = key if key is not None else keys[0] if len(keys) == 1 else "test_images" if "test_images" in keys else None
            if key is None or key not in keys:
                raise ValueError(f"{path}: choose the array with --key; it holds {keys}.")
            array = archive[key]
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{path}: '{key}' has dtype {array.dtype}; expected numbers.")

        def samples():
            for i, sample in enumerate(array):
                where = f"{path}: {key}[{i}]"
                yield (f"{key}[{i}]",), prepare(scale_intensities(sample), where), where

        return samples(), len(array)
    import h5py

    from biocnn.data.volumes import hdf5_contents

    handle = h5py.File(os.fspath(path), "r")
    datasets = hdf5_contents(handle)
    if key is None:
        names = []
        handle.visititems(lambda name, node: names.append(name) if isinstance(node, h5py.Dataset) else None)
        key = names[0] if len(names) == 1 else None
    if key is None or key not in handle or not isinstance(handle[key], h5py.Dataset):
        handle.close()
        raise ValueError(f"{path}: choose the dataset with --key; the file holds {', '.join(datasets)}.")
    dataset = handle[key]
    if dataset.dtype.kind not in "biuf" or dataset.ndim < 2:
        handle.close()
        raise ValueError(f"{path}: '{key}' has shape {dataset.shape} and dtype {dataset.dtype}; expected a numeric "
                         "stack (N, *spatial[, C]).")

    def samples():
        with handle:
            for first in range(0, len(dataset), 64):
                block = scale_intensities(dataset[first:first + 64])
                for i, sample in enumerate(block, start=first):
                    where = f"{path}: {key}[{i}]"
                    yield (f"{key}[{i}]",), prepare(sample, where), where

    return samples(), len(dataset)


def predict_stream(model, out=None, *, fasta=None, csv=None, sequence_column="sequence", id_column=None,
                   path_column="path", bed=None,
                   reference=None, genome=None, window=None, stride=None, regions=None, last="drop", max_n=None,
                   bedgraph=None, bedgraph_classes=None, folder=None, images=None, volumes=None, npz=None, h5=None,
                   key=None, resize=False, batch_size=256, prefetch=4, progress_every=10.0, overwrite=False):
    """Predict one input of any size with an export, streaming: bounded memory, atomic outputs.

    Samples are read in a thread a few batches ahead of the model (:func:`biocnn.export.stream.
    stream_predict`), checked as :func:`predict_files` checks them, and written batch by batch
    to a temporary CSV (and bedGraph) renamed into place at the end. Progress and ETA go to
    stderr.

    Args:
        model: an export directory or an :class:`ExportedModel`.
        out: the CSV to write (one row per sample: key columns, ``predicted``,
            ``probability_<class>``); may be None with ``bedgraph`` for a genome scan.
        fasta, csv, sequence_column, id_column: sequences as :func:`read_sequences` (rows keyed
            by ``id``). For an image or volume export, ``csv`` is a table of files instead, one
            per row in ``path_column`` (relative paths from the table's folder), keyed by that path.
        bed, reference: BED intervals cut from an uncompressed reference (rows keyed by
            ``chrom, start, end, strand, name``; ``-`` intervals reverse-complemented).
        genome, window, stride, regions, last, max_n: a genome scan: every window of the
            reference (see :class:`biocnn.data.genome.GenomeWindows`; rows keyed by ``chrom,
            start, end``). Both strands are averaged when the export says ``rc_average``.
        bedgraph: a genome scan's bedGraph file; ``bedgraph_classes`` the classes to write
            (default: the second class of a two-class model, i.e. the positive class; every
            class otherwise), one track each.
        folder, images, volumes: image or volume files (keyed by relative path or path).
        npz, h5, key: a stack ``(N, *spatial[, C])`` in an ``.npz`` (read whole) or an HDF5
            dataset (read 64 samples at a time).
        resize: resize images/volumes to the export's input size.
        batch_size: samples per SavedModel call. prefetch: batches read ahead.
        progress_every: seconds between progress lines on a non-terminal stderr.
        overwrite: replace existing outputs.

    Returns:
        dict: ``samples``, ``unit``, ``cropped``, ``padded`` (sequences longer/shorter than the
        model's input, cropped or padded by its encoding), ``outputs`` (paths), ``strands``
        (genome scans), ``skipped_n`` and ``short_regions`` (genome scans).

    Raises:
        ValueError: no input or several, an input the export does not take, a sample it
            refuses (named), or bad scan arguments.
        FileExistsError: an output exists and ``overwrite`` is False.

    Example:
        >>> summary = predict_stream("exports/ctcf", "scan.csv", genome="hg38.fa", window=200,
        ...                          stride=50, bedgraph="scan.bedgraph")  # doctest: +SKIP
    """
    from biocnn.export.stream import Progress, stream_predict

    exported = model if isinstance(model, ExportedModel) else load(model)
    given = {k: v for k, v in dict(fasta=fasta, csv=csv, bed=bed, genome=genome, folder=folder, images=images,
                                   volumes=volumes, npz=npz, h5=h5).items() if v is not None}
    accepted = STREAM_INPUT_KINDS[exported.modality]
    if len(given) != 1 or next(iter(given)) not in accepted:
        what = (f"{exported.encoding.alphabet.upper()} sequences" if exported.modality == "sequence"
                else f"{exported.modality}s of shape {exported.input_shape}")
        got = ", ".join(_STREAM_FLAGS[k] for k in given) or "nothing"
        raise ValueError(f"The export '{exported.path}' takes {what}; give one of "
                         f"{', '.join(_STREAM_FLAGS[k] for k in accepted)} (got {got}).")
    kind = next(iter(given))
    if bedgraph is not None and kind != "genome":
        raise ValueError("--bedgraph is written for genome scans only (--genome); the other inputs have no coordinates "
                         "to plot.")
    if out is None and bedgraph is None:
        raise ValueError("Give an output: --out predictions.csv (and, for a genome scan, --bedgraph scan.bedgraph).")
    if bed is not None and reference is None:
        raise ValueError("--bed needs --reference genome.fa (the FASTA the intervals are cut from).")
    for path in (out, bedgraph):
        if path is not None:
            check_output(path, overwrite)

    counts, summary = _Counts(), {}
    source = _stream_source(exported, kind, given[kind], counts, summary, sequence_column=sequence_column,
                            id_column=id_column, path_column=path_column, reference=reference, window=window,
                            stride=stride, regions=regions, last=last, max_n=max_n, key=key, resize=resize)
    writers = _writers(exported, source.keys, out, bedgraph, bedgraph_classes, stride, summary)
    progress = Progress(source.unit, total=source.total, fraction=source.fraction, every=progress_every)
    done = stream_predict(exported, source.samples, writers, batch_size=batch_size, prefetch=prefetch,
                          progress=progress, check=source.check)
    summary.update(samples=done, unit=source.unit, cropped=counts.cropped, padded=counts.padded,
                   outputs=[w.path for w in writers])
    if source.windows is not None:
        summary.update(skipped_n=source.windows.skipped_n, short_regions=source.windows.short_regions)
    return summary


class _Source:
    """What a stream reads: samples ``(key, input, name)``, the key columns, progress hints."""

    def __init__(self, samples, keys, unit, total=None, fraction=None, check=True, windows=None):
        self.samples, self.keys, self.unit, self.total = samples, keys, unit, total
        self.fraction, self.check, self.windows = fraction, check, windows


def _stream_source(exported, kind, value, counts, summary, *, sequence_column, id_column, path_column, reference,
                   window, stride, regions, last, max_n, key, resize):
    from biocnn.data.streams import BedSequences, FastaRecords

    # Sequences: letters and lengths are checked by _sequence_samples or GenomeWindows, so not again.
    if kind == "fasta":
        records = FastaRecords(value)
        samples = _sequence_samples(exported, (((i,), s, w) for i, s, w in records), counts)
        return _Source(samples, ["id"], "sequences", fraction=records.fraction_read, check=False)
    if kind == "csv" and exported.modality != "sequence":
        return _file_table_source(exported, value, path_column, resize)
    if kind == "csv":
        records, fraction = _csv_records(exported, value, sequence_column, id_column)
        return _Source(_sequence_samples(exported, records, counts), ["id"], "sequences", fraction=fraction,
                       check=False)
    if kind == "bed":
        intervals = BedSequences(value, reference)
        samples = _sequence_samples(exported, (((c, a, b, st, n), s, f"{w} ({c}:{a}-{b})")
                                               for c, a, b, st, n, s, w in intervals), counts)
        return _Source(samples, ["chrom", "start", "end", "strand", "name"], "intervals",
                       fraction=intervals.fraction_read, check=False)
    if kind == "genome":
        windows, samples, total = _genome_source(exported, value, window, stride, regions, last, max_n, counts)
        summary["strands"] = ("both strands averaged (the export's rc_average)"
                              if exported.metadata.get("outputs", {}).get("rc_average") else "forward strand only")
        return _Source(samples, ["chrom", "start", "end"], "windows", total=total, fraction=windows.fraction_read,
                       check=False, windows=windows)
    unit = f"{exported.modality}s"
    if kind in ("npz", "h5"):
        samples, total = _stack_source(exported, value, key, resize, h5=kind == "h5")
        return _Source(samples, ["id"], unit, total=total)
    is_volume = exported.modality == "volume"
    if kind == "folder":
        from biocnn.data.volumes import is_volume_file

        ids, paths = _files_in(value, is_volume_file if is_volume else is_image_file, exported.modality)
    else:
        ids = paths = list(value)
    read = _volume_reader(exported, resize) if is_volume else _image_reader(exported, resize)
    return _Source((((i,), read(p), f"'{p}'") for i, p in zip(ids, paths)), ["id"], unit, total=len(paths))


def _file_table_source(exported, csv, path_column, resize):
    """Image or volume files listed in a table (any number of rows, read in blocks)."""
    from biocnn.data.streams import TableRows

    rows = TableRows(csv, {"--path-column": path_column})
    folder = os.path.dirname(os.path.abspath(rows.path))
    read = _volume_reader(exported, resize) if exported.modality == "volume" else _image_reader(exported, resize)

    def samples():
        for line, row in rows:
            name = row[path_column].strip()
            path = name if os.path.isabs(name) else os.path.join(folder, name)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{rows.path}, line {line}: no such file '{path}' (column {path_column!r}; "
                                        "relative paths are read from the table's folder).")
            yield (name,), read(path), f"{rows.path}, line {line} ('{name}')"

    return _Source(samples(), ["id"], f"{exported.modality}s", fraction=rows.fraction_read)


def _writers(exported, keys, out, bedgraph, bedgraph_classes, stride, summary):
    from biocnn.export.stream import BedGraphWriter, CsvWriter

    writers = []
    try:
        if out is not None:
            writers.append(CsvWriter(out, keys, exported.class_names))
        if bedgraph is not None:
            classes = list(bedgraph_classes or (exported.class_names[1:] if len(exported.class_names) == 2
                                                else exported.class_names))
            writers.append(BedGraphWriter(bedgraph, exported.class_names, classes, stride,
                                          name=os.path.basename(exported.path)))
            summary["bedgraph_classes"] = classes
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    return writers


def describe_run(exported, summary):
    """Lines that report what :func:`predict_stream` did to the samples (crops, pads, strands).

    Example:
        >>> describe_run(model, {"samples": 3, "unit": "sequences", "cropped": 1, "padded": 0,
        ...                      "outputs": ["p.csv"]})  # doctest: +SKIP
        ['1 sequences longer than the model's input (10) were centre-cropped.']
    """
    lines = []
    if exported.modality == "sequence":
        length, align = exported.input_shape[0], exported.encoding.align
        if summary.get("cropped"):
            lines.append(f"{summary['cropped']:,} {summary['unit']} longer than the model's input ({length}) were "
                         f"{_ALIGN_WORDS[align]} (the export's encoding).")
        if summary.get("padded"):
            lines.append(f"{summary['padded']:,} {summary['unit']} shorter than the model's input ({length}) were "
                         "padded with zeros (the export's encoding).")
    if "strands" in summary:
        lines.append(f"strands: {summary['strands']}.")
    if summary.get("bedgraph_classes"):
        lines.append(f"bedGraph tracks: P({'), P('.join(summary['bedgraph_classes'])}), each window's value on the "
                     "stride bases at its centre.")
    if summary.get("skipped_n"):
        lines.append(f"{summary['skipped_n']:,} windows skipped for their share of N (--max-n).")
    if summary.get("short_regions"):
        lines.append(f"{summary['short_regions']:,} chromosomes/regions shorter than a window gave no window "
                     "(--last pad scans them).")
    return lines
