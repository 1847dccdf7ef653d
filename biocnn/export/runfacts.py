"""What an export needs to know about a finished run: its reader steps, its raw data, its card facts.

:func:`reader_of_run` turns a run's ``config.json`` into the reader description that
:func:`biocnn.export.save` puts in the graph (channel choice, integer scaling, NaN policy, CT
window, resizing) and the dtype and channel count of the files the run read, so the export's
signature declares them. The dtype comes from ``config["inputs"]["raw_dtype"]`` when the
pipeline recorded it, otherwise from the headers of the run's data source (an ``.npz``, an
image folder or CSV, an HDF5 file, a CSV of volume files). :func:`card_facts` collects what a
model card states: data source, split sizes and class counts, test metrics.
"""

import collections
import os
import warnings
import zipfile

import numpy as np

from biocnn import rundir

__all__ = ["card_facts", "reader_of_run"]

_PROBED = 20  # files whose headers are read to find the data's dtype


def _existing(path):
    return path if path and os.path.exists(os.fspath(path)) else None


def _npz_header(path, key):
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith(".npy")]
        name = f"{key}.npy" if f"{key}.npy" in names else (names[0] if names else None)
        if name is None:
            return None
        with archive.open(name) as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
    return np.dtype(dtype), shape


def _most_common(dtypes_and_channels):
    dtypes = collections.Counter(str(d) for d, _ in dtypes_and_channels)
    channels = {c for _, c in dtypes_and_channels}
    return dtypes.most_common(1)[0][0], (channels.pop() if len(channels) == 1 else None)


def _probe_images(paths):
    from biocnn.data.images import probe_image

    found = [probe_image(p) for p in paths[:_PROBED]]
    return _most_common([(dtype, shape[-1]) for shape, dtype in found])


def _probe_source(config, modality):
    """(raw dtype, raw channel count) of the run's files from their headers, or (None, None)."""
    args = config.get("arguments") or {}
    npz = _existing(args.get("npz"))
    if npz:
        header = _npz_header(npz, "train_images")
        if header is None:
            return None, None
        dtype, shape = header
        rank = {"image": 2, "volume": 3, "signal": 1}[modality]
        return str(dtype), (shape[-1] if len(shape) == rank + 2 else 1)
    if modality == "volume" and _existing(args.get("hdf5")):
        import h5py

        with h5py.File(args["hdf5"], "r") as f:
            node = f[args["key"]] if args.get("key") else None
            if isinstance(node, h5py.Group):
                node = next((v for v in node.values() if isinstance(v, h5py.Dataset)), None)
            if node is None:
                return None, None
            return str(node.dtype), (node.shape[-1] if node.ndim == 5 else 1)
    if modality == "volume" and _existing(args.get("csv")):
        from biocnn.data.volume_datasets import volume_table_from_csv
        from biocnn.data.volumes import read_volume

        table = volume_table_from_csv(args["csv"])
        array = read_volume(table.paths[0]).array
        return str(array.dtype), array.shape[-1]
    if modality == "image" and (_existing(args.get("folder")) or _existing(args.get("csv"))):
        from biocnn.data.image_datasets import table_from_csv, table_from_folder

        table = (table_from_folder(args["folder"]) if args.get("folder") else
                 table_from_csv(args["csv"], args.get("root")))
        return _probe_images(list(table.paths))
    return None, None


def reader_of_run(config, modality):
    """The reader description of a run, for :func:`biocnn.export.save`'s ``reader``.

    Args:
        config: the run's ``config.json`` as a dict.
        modality: ``"image"``, ``"volume"`` or ``"signal"`` (sequences have none).

    Returns:
        (reader, found_in): a dict of :data:`biocnn.export.READER_KEYS`, and where the raw dtype
        came from (recorded in the export's metadata as ``training.raw_dtype_from``).

    Example:
        >>> reader, found_in = reader_of_run({"inputs": {"size": [8, 8], "channels": [0, 2], "raw_dtype": "uint16"}}, "image")
        >>> reader["resize_to"], found_in
        ([8, 8], "the run's config.json")
    """
    from biocnn.data.intensity import window_bounds

    inputs = rundir.inputs_of(config)
    args = config.get("arguments") or {}
    reader = {}
    if modality == "volume" and isinstance(config.get("preprocessing"), dict):
        volume = config["preprocessing"]
        window = volume.get("window")
        if window is not None:
            reader["window"] = list(window_bounds(preset=window) if isinstance(window, str) else window_bounds(*window))
        reader["nan_policy"] = volume.get("nan_policy", "raise")
        reader["resize_to"] = volume.get("target_shape")
        # HDF5, NIfTI, TIFF and .npy volumes keep their units (Hounsfield); .npz files are scaled as images.
        reader["scale_integers"] = not (args.get("hdf5") or args.get("csv"))
    elif modality == "image":
        reader["channels"] = inputs.get("channels")
        reader["resize_to"] = inputs.get("size")
    raw_dtype, raw_channels = inputs.get("raw_dtype"), inputs.get("raw_channels")
    found_in = "the run's config.json" if raw_dtype is not None else None
    if raw_dtype is None:
        try:
            raw_dtype, probed_channels = _probe_source(config, modality)
        except (OSError, ValueError, KeyError) as error:
            raw_dtype, probed_channels = None, None
            warnings.warn(f"from_run: could not read the run's data to find its dtype ({error}).", stacklevel=3)
        raw_channels = raw_channels if raw_channels is not None else probed_channels
        found_in = "the headers of the run's data files" if raw_dtype is not None else None
    if raw_dtype is None:
        warnings.warn(
            "from_run: the run's data files were not found, so the export declares float32 input (values as the "
            "files hold them, not rescaled); pass raw_dtype='uint8'/'uint16'/... to declare the files' dtype.",
            stacklevel=3)
    reader["raw_dtype"] = raw_dtype or "float32"
    if reader.get("channels") is not None:
        reader["raw_channels"] = raw_channels
    reader = {k: v for k, v in reader.items() if v is not None or k == "raw_channels"}
    return reader, found_in or "assumed float32 (the run's data were not found)"


def card_facts(config):
    """Facts for a model card: where the data came from, split sizes and class counts.

    Returns:
        dict with ``data_source`` (the run's data arguments), ``split_sizes`` ({split: n}),
        ``class_counts`` ({split: {class: n}}) and ``run_command``; keys without a value are
        left out.

    Example:
        >>> card_facts({"data": {"train": {"samples": 8, "class_counts": {"a": 4, "b": 4}}}})["split_sizes"]
        {'train': 8}
    """
    args = config.get("arguments") or {}
    data = config.get("data") or {}
    source_keys = ("folder", "csv", "npz", "hdf5", "key", "labels_key", "fasta", "labels", "bed", "reference", "root")
    source = {k: args[k] for k in source_keys if args.get(k) is not None}
    if not source and rundir.inputs_of(config).get("source"):
        source = {"source": rundir.inputs_of(config)["source"]}
    facts = {
        "data_source": source or None,
        "split_sizes": {s: d["samples"] for s, d in data.items() if isinstance(d, dict) and "samples" in d} or None,
        "class_counts": {s: d["class_counts"] for s, d in data.items()
                         if isinstance(d, dict) and "class_counts" in d} or None,
        "run_command": config.get("command"),
    }
    return {k: v for k, v in facts.items() if v is not None}
