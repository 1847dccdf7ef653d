"""Export: TensorFlow SavedModels with their metadata, loading them, and predicting with them.

* :func:`save`: a Keras classifier -> a SavedModel whose ``serving_default`` signature takes raw
  inputs (strings for sequences, intensities for images and volumes), with augmentation and
  dropout off and the preprocessing inside the graph, plus ``biocnn_export.json``;
* :func:`from_run`: the same for a finished run directory (``model.keras`` + ``config.json``);
* :func:`load`: an :class:`ExportedModel`, a callable that checks its inputs and carries the
  metadata; :func:`predict_files` applies it to FASTA/CSV/image/volume files in memory;
* :func:`predict_stream`: the same for inputs of any size (FASTA, CSV, BED, genome scans,
  image/volume folders, HDF5 stacks), streamed in bounded memory to atomic CSV/bedGraph files;
* :func:`to_tflite`: a TFLite file from an export, checked for output parity;
* :func:`encode_sequences`: the in-graph one-hot encoder (equal to ``Encoding.encode``);
* :func:`add_export_argument`, :func:`check_export_argument`, :func:`export_run`: ``--export``
  for the training pipelines.

Example:
    >>> import keras, numpy as np, tempfile
    >>> from biocnn import export
    >>> net = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                         keras.layers.Dense(2, activation="softmax")])
    >>> path = tempfile.mkdtemp() + "/model"
    >>> _ = export.save(net, path, class_names=["a", "b"])
    >>> print(export.load(path)(np.zeros((1, 8, 8, 1), "float32"))["class_name"].shape)
    (1,)
"""

from biocnn.export.metadata import FORMAT, FORMAT_VERSION, SIDECAR
from biocnn.export.savedmodel import INPUT_NAMES, ExportedModel, check_target, from_run, load, save
from biocnn.export.sequence_graph import encode_sequences
from biocnn.export.predict import (
    INPUT_KINDS,
    STREAM_INPUT_KINDS,
    check_output,
    describe_run,
    predict_files,
    predict_stream,
    predictions_table,
    read_images,
    read_npz,
    read_sequences,
    read_volumes,
    write_predictions,
)
from biocnn.export.tflite import to_tflite
from biocnn.export.cli import add_export_argument, check_export_argument, export_run

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "INPUT_KINDS",
    "INPUT_NAMES",
    "SIDECAR",
    "STREAM_INPUT_KINDS",
    "ExportedModel",
    "add_export_argument",
    "check_export_argument",
    "check_output",
    "check_target",
    "describe_run",
    "encode_sequences",
    "export_run",
    "from_run",
    "load",
    "predict_files",
    "predict_stream",
    "predictions_table",
    "read_images",
    "read_npz",
    "read_sequences",
    "read_volumes",
    "save",
    "to_tflite",
    "write_predictions",
]
