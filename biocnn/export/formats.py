"""One entry point for every export format, and its command-line arguments.

:func:`export_as` turns a finished run directory (or a biocnn export) into one format:

* ``savedmodel``: the biocnn export folder (:func:`biocnn.export.from_run`) with ``MODEL_CARD.md``;
* ``onnx``: an ``.onnx`` file (:func:`biocnn.export.to_onnx`), checked in onnxruntime;
* ``bioimageio``: a bioimage.io model package folder (:func:`biocnn.export.to_bioimageio`);
* ``tflite``: a ``.tflite`` file (:func:`biocnn.export.to_tflite`), checked for parity.

:func:`add_format_arguments` and :func:`export_from_arguments` give a command line the same
vocabulary (``pipelines/export.py`` and ``biocnn export`` use them).
"""

import os
import tempfile

import numpy as np

from biocnn.export import metadata as metadata_module

__all__ = ["FORMATS", "export_as"]

FORMATS = ("savedmodel", "onnx", "bioimageio", "tflite")


def _is_export(path):
    return os.path.isfile(os.path.join(os.fspath(path), metadata_module.SIDECAR))


def _is_ensemble(source):
    """Several runs, or a parent of seed_K/fold_K runs (no model.keras of its own)."""
    if not isinstance(source, (str, os.PathLike)):
        return len(source) > 1
    source = os.fspath(source)
    if not os.path.isdir(source) or _is_export(source) or os.path.isfile(os.path.join(source, "model.keras")):
        return False
    return any(d.startswith(("seed_", "fold_")) for d in os.listdir(source))


def export_as(source, out, *, format="savedmodel", overwrite=False, license=None, authors=None, cite=None,
              test_input=None, opset=None):
    """Export a run directory or a biocnn export in one format.

    Args:
        source: a run directory (``model.keras`` + ``config.json``) or a biocnn export folder;
            or an ensemble: a list of run directories, or a parent of ``seed_K/``/``fold_K/``
            runs (``--seeds``, ``biocnn cv``), served as the mean of the members
            (:func:`biocnn.export.from_runs`; not ``bioimageio``).
        out: the folder (``savedmodel``, ``bioimageio``) or file (``onnx``, ``tflite``) to write.
        format: one of :data:`FORMATS`.
        overwrite: replace what a previous export of this kind wrote at ``out``.
        license, authors, cite: ``bioimageio`` only, required there (see
            :func:`biocnn.export.to_bioimageio`).
        test_input: ``bioimageio`` only: one input array, or a ``.npy`` file holding one.
        opset: ``onnx`` only: the ONNX opset (default 17).

    Returns:
        dict: what the format's function returned (metadata or file facts), with ``format``.

    Raises:
        ValueError: an unknown format, or what the format's function raises.

    Example:
        >>> export_as("runs/splice", "splice.onnx", format="onnx")["input"]["name"]  # doctest: +SKIP
        'one_hot'
    """
    from biocnn.export.bioimageio import to_bioimageio
    from biocnn.export.card import model_card
    from biocnn.export.onnx import to_onnx
    from biocnn.export.savedmodel import from_run, from_runs
    from biocnn.export.tflite import to_tflite

    if format not in FORMATS:
        raise ValueError(f"export: unknown format {format!r}; choose one of {', '.join(FORMATS)}.")
    if not isinstance(source, (str, os.PathLike)) and len(source) == 1:
        source = source[0]
    if _is_ensemble(source):
        if format == "bioimageio":
            raise ValueError("export: a bioimage.io package holds one model; export one run of the ensemble "
                             "(e.g. OUT/seed_0), or the ensemble as savedmodel, onnx or tflite.")
        if format == "savedmodel":
            return {"format": format, **from_runs([source] if isinstance(source, (str, os.PathLike)) else source,
                                                  out, overwrite=overwrite)}
        if os.path.exists(out) and not overwrite:
            raise FileExistsError(f"'{out}' already exists. Pass overwrite=True (--overwrite) or choose another file.")
        parent = os.path.dirname(os.path.abspath(os.fspath(out)))
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=parent) as work:
            export_dir = os.path.join(work, "export")
            from_runs([source] if isinstance(source, (str, os.PathLike)) else source, export_dir)
            return export_as(export_dir, out, format=format, overwrite=overwrite, opset=opset)
    source = os.fspath(source)
    if format == "bioimageio":
        if isinstance(test_input, (str, os.PathLike)):
            test_input = np.load(test_input, allow_pickle=False)
        result = to_bioimageio(source, out, license=license, authors=authors, cite=cite, test_input=test_input,
                               overwrite=overwrite)
        return {"format": format, **result}
    if format == "savedmodel":
        if _is_export(source):
            raise ValueError(f"export: '{source}' is already a SavedModel export; give its run directory.")
        result = from_run(source, out, overwrite=overwrite)
        model_card(source, out=out)
        return {"format": format, **result}
    if os.path.exists(out) and not overwrite:  # before the (slow) export of a run
        raise FileExistsError(f"'{out}' already exists. Pass overwrite=True (--overwrite) or choose another file.")
    if _is_export(source):
        function = to_onnx if format == "onnx" else to_tflite
        options = {"opset": opset} if format == "onnx" else {}
        return {"format": format, **function(source, out, overwrite=overwrite, **options)}
    parent = os.path.dirname(os.path.abspath(os.fspath(out)))
    os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent) as work:
        export_dir = os.path.join(work, "export")
        from_run(source, export_dir, embeddings=False)
        return export_as(export_dir, out, format=format, overwrite=overwrite, opset=opset)
