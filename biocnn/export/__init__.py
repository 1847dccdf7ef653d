"""Export: TensorFlow SavedModels with their metadata, loading them, and predicting with them.

* :func:`save`: a Keras classifier -> a SavedModel whose ``serving_default`` signature takes raw
  inputs (strings for sequences, intensities for images and volumes), with augmentation and
  dropout off and the preprocessing inside the graph, plus ``biocnn_export.json``;
* :func:`from_run`: the same for a finished run directory (``model.keras`` + ``config.json``);
* :func:`from_runs`: one SavedModel averaging a seed or fold ensemble of runs (refusing members
  whose classes, inputs or shapes differ);
* :func:`load`: an :class:`ExportedModel`, a callable that checks its inputs and carries the
  metadata, after :func:`check_graph` has checked the SavedModel's operations against
  :data:`ALLOWED_OPS` (``trust_export=True`` skips it); :func:`predict_files` applies it to
  FASTA/CSV/image/volume files;
* :func:`predict_stream`: the same for inputs of any size (FASTA, CSV, BED, genome scans,
  image/volume folders, HDF5 stacks), streamed in bounded memory to atomic CSV/bedGraph files;
* :func:`to_tflite`: a TFLite file from an export, checked for output parity;
* :func:`to_onnx`: an ONNX file from an export or a Keras model, checked in onnxruntime;
* :func:`to_bioimageio`: a bioimage.io model package of an image or volume classifier;
* :func:`model_card`: what a model was trained on and how well it does (dict, ``MODEL_CARD.md``);
* :func:`export_as`: every format behind one call (the command line: ``biocnn export``);
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
from biocnn.export.allowlist import ALLOWED_OPS, check_graph
from biocnn.export.savedmodel import (
    INPUT_NAMES,
    READER_KEYS,
    ExportedModel,
    check_target,
    ensemble_members,
    from_run,
    from_runs,
    load,
    save,
)
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
from biocnn.export.cli import add_export_argument, add_trust_export_argument, check_export_argument, export_run
from biocnn.export.onnx import to_onnx
from biocnn.export.card import model_card
from biocnn.export.bioimageio import to_bioimageio
from biocnn.export.formats import FORMATS, export_as

__all__ = [
    "ALLOWED_OPS",
    "FORMAT",
    "FORMAT_VERSION",
    "INPUT_KINDS",
    "INPUT_NAMES",
    "READER_KEYS",
    "SIDECAR",
    "STREAM_INPUT_KINDS",
    "ExportedModel",
    "add_export_argument",
    "add_trust_export_argument",
    "check_export_argument",
    "check_graph",
    "check_output",
    "check_target",
    "describe_run",
    "encode_sequences",
    "ensemble_members",
    "export_run",
    "from_run",
    "from_runs",
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
    "to_onnx",
    "to_bioimageio",
    "model_card",
    "FORMATS",
    "export_as",
    "write_predictions",
]
