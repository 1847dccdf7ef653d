"""The metadata of a biocnn export: what a downstream tool needs to trust a SavedModel.

Written twice, identically: ``biocnn_export.json`` next to ``saved_model.pb`` (the sidecar, for
people and scripts) and ``assets/biocnn_export.json`` (inside the SavedModel's own folder, so it
travels with copies that keep only the SavedModel layout). The sidecar is also what marks a
folder as a biocnn export: :func:`read` refuses any folder without it.

Contents (all plain JSON)::

    format, format_version    "biocnn-export", 1
    modality                  "sequence", "image", "volume" or "signal"
    class_names               in output order
    signatures                {"serving_default": {"inputs": {...}, "outputs": {...}}, ...}
    input                     name, dtype (the declared raw dtype), shape, layout ("NHWC" ...),
                              model_input_shape, and what the values must be
    reader                    images/volumes/signals: raw_dtype, raw_channels, channels,
                              scale_integers, nan_policy, window [low, high], resize_to
                              (the steps serving_default does before the model); else null
    encoding                  sequences only: Encoding.to_dict() (alphabet, length, align ...)
    outputs                   model_outputs, rc_average, binary_sigmoid_expanded, tta (the
                              test-time views averaged in the graph: {spec, views}, or null)
    preprocessing             in_graph (every step the serving graph does, in order, with its
                              constants) and before_graph (the reader steps in the form
                              predict_files applies before the ``prepared`` signature)
    training                  seed, data (samples, input shape, class counts per split),
                              metrics (metrics.json), and from a run: data_source, split_sizes,
                              class_counts, run_command (the facts a model card needs)
    model, source             the model's name and size; the run it came from
    versions                  biocnn, tensorflow, keras, numpy, python ...
"""

import json
import os

from biocnn.rundir import write_json

__all__ = ["FORMAT", "FORMAT_VERSION", "SIDECAR", "read", "write"]

FORMAT = "biocnn-export"
FORMAT_VERSION = 1
SIDECAR = "biocnn_export.json"
ASSET = os.path.join("assets", SIDECAR)


def write(folder, metadata):
    """Write ``metadata`` as the sidecar and as the asset copy inside ``folder``."""
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, **metadata}
    os.makedirs(os.path.join(folder, "assets"), exist_ok=True)
    write_json(os.path.join(folder, SIDECAR), metadata)
    write_json(os.path.join(folder, ASSET), metadata)
    with open(os.path.join(folder, SIDECAR)) as f:
        return json.load(f)  # as a reader will see it (NaN metrics are null)


def read(folder):
    """The metadata of the biocnn export in ``folder``.

    Args:
        folder: an export directory written by :func:`biocnn.export.save`.

    Returns:
        dict (see the module docstring).

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        ValueError: ``folder`` is not a biocnn export (no readable ``biocnn_export.json`` of
            this format), or was written by a newer biocnn.

    Example:
        >>> read("/tmp")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: '/tmp' is not a biocnn export: it has no biocnn_export.json. ...
    """
    folder = os.fspath(folder)
    if not os.path.exists(folder):
        raise FileNotFoundError(f"No such export directory: '{folder}'.")
    hint = ("Give the folder written by biocnn.export.save, biocnn.export.from_run or a training "
            "pipeline's --export.")
    if not os.path.isdir(folder):
        raise ValueError(f"'{folder}' is not a biocnn export: it is a file, not a folder. {hint}")
    path = os.path.join(folder, SIDECAR)
    if not os.path.isfile(path):
        saved_model = os.path.isfile(os.path.join(folder, "saved_model.pb"))
        what = "a SavedModel without biocnn's metadata" if saved_model else "a folder"
        raise ValueError(f"'{folder}' is not a biocnn export: it has no {SIDECAR}. It is {what}. {hint}")
    try:
        with open(path) as f:
            metadata = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"'{path}' is not valid JSON ({error}); the export is damaged. Export the model again.") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"'{path}' is not a biocnn export description (its 'format' is not {FORMAT!r}). {hint}")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"'{folder}' was written in export format version {version!r}; this biocnn reads up to "
            f"{FORMAT_VERSION}. Update biocnn."
        )
    if not os.path.isfile(os.path.join(folder, "saved_model.pb")):
        raise ValueError(f"'{folder}' has {SIDECAR} but no saved_model.pb; the export is incomplete. Export the model again.")
    return metadata
