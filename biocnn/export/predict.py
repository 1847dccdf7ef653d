"""Apply an export to new lab data: read the files, check them against the export, tabulate.

The files are read with biocnn's own readers and the export's recorded reader steps
(``preprocessing.before_graph``: image resizing and channel choice, a volume's NaN policy,
CT window and resampling), so new data reach the graph exactly as the training data did.
Every sample is checked before the model runs: a wrong shape or a letter outside the alphabet
is a ``ValueError`` naming the file (and record) and the expected spec.
"""

import os

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
    "check_output",
    "predict_files",
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
        validate_sequence(sequence, alphabet, where=name)
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
    before = exported.metadata["preprocessing"]["before_graph"]
    size = before.get("resize_to") or (exported.input_shape[:-1] if resize else None)
    images = [_checked(exported, load_image(p, shape=size, channels=before.get("channels")), f"'{p}'") for p in paths]
    return ids, np.stack(images)


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
    from biocnn.data.volumes import is_volume_file, read_volume  # volume readers load h5py; only when needed

    if (folder is None) == (paths is None):
        raise ValueError("Give one volume input: a folder or a list of volume files.")
    ids, paths = _files_in(folder, is_volume_file, "volume") if folder is not None else (list(paths), list(paths))
    step = _volume_preprocessing(exported, resize)
    volumes = [_checked(exported, step(read_volume(p).array, name=f"'{p}'"), f"'{p}'") for p in paths]
    return ids, np.stack(volumes)


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
    array = scale_intensities(array)
    before = exported.metadata["preprocessing"]["before_graph"]
    samples = []
    for i, sample in enumerate(array):
        where = f"{path}: {key}[{i}]"
        if exported.modality == "volume":
            sample = _volume_preprocessing(exported, resize)(sample if sample.ndim == 4 else sample[..., None], where)
        elif exported.modality == "image":
            if before.get("channels"):
                sample = preprocess.select_channels(sample if sample.ndim == 3 else sample[..., None],
                                                    before["channels"], where=where)
            size = before.get("resize_to") or (exported.input_shape[:-1] if resize else None)
            if size is not None:
                sample = preprocess.resize(sample if sample.ndim == 3 else sample[..., None], size)
        samples.append(_checked(exported, np.asarray(sample, np.float32), where))
    if not samples:
        raise ValueError(f"{path}: '{key}' holds no samples.")
    return [f"{key}[{i}]" for i in range(len(samples))], np.stack(samples)


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
