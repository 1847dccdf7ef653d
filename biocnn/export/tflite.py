"""TFLite files from biocnn exports, converted by TensorFlow's own converter and checked.

``tf.lite.TFLiteConverter.from_saved_model`` converts one numeric signature of an export:
``prepared`` for images, volumes and signals (float32 as biocnn's readers give them, the
same outputs; older exports without it: ``serving_default``), and ``encoded`` for sequences
(a one-hot input; TFLite's built-in ops have no string splitting, so the raw-string
``serving_default`` stays a SavedModel feature). After
conversion the TFLite interpreter and the SavedModel are run on the same probe batch and the
file is kept only when their outputs agree.
"""

import os
import warnings

import numpy as np
import tensorflow as tf

from biocnn.export.savedmodel import load
from biocnn.rundir import atomic_path

__all__ = ["to_tflite"]


def _interpreter(content):
    try:  # TensorFlow's successor to tf.lite.Interpreter, when installed
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        with warnings.catch_warnings():  # it works; the warning only announces ai_edge_litert
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
            return tf.lite.Interpreter(model_content=content)
    return Interpreter(model_content=content)


def _probe(shape, signature, count, seed):
    rng = np.random.default_rng(seed)
    if signature == "encoded":  # one-hot rows of random letters
        letters = rng.integers(0, shape[-1], size=(count, shape[0]))
        return np.eye(shape[-1], dtype=np.float32)[letters]
    return rng.random((count, *shape), dtype=np.float32)


def to_tflite(export_dir, path, overwrite=False, signature=None, atol=1e-5, probe_size=4, seed=0, trust_export=False):
    """Convert a biocnn export to a ``.tflite`` file and check that its outputs match.

    Args:
        export_dir: a biocnn export (see :func:`biocnn.export.save`).
        path: the ``.tflite`` file to write (atomically).
        overwrite: replace an existing file at ``path``.
        signature: the signature to convert (default ``prepared``, or ``encoded`` for
            sequence exports).
        atol: the largest allowed difference between TFLite and SavedModel probabilities.
        probe_size, seed: the random probe batch used for the check.
        trust_export: skip the graph allowlist check (see :func:`biocnn.export.load`).

    Returns:
        dict: ``path``, ``signature``, ``inputs``/``outputs`` (the TFLite signature's names)
        and ``max_abs_difference`` on the probe batch.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        ValueError: not a biocnn export, an unknown signature, the raw-string signature of a
            sequence export, or outputs that differ by more than ``atol`` (nothing is written).

    Example:
        >>> info = to_tflite("exports/cells", "cells.tflite")  # doctest: +SKIP
        >>> info["max_abs_difference"] < 1e-5  # doctest: +SKIP
        True
    """
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"'{path}' already exists. Pass overwrite=True (--overwrite) or choose another file.")
    exported = load(export_dir, trust_export=trust_export)
    default = "encoded" if exported.modality == "sequence" else "prepared"
    signature = signature or (default if default in exported.signatures else "serving_default")
    if signature not in exported.signatures:
        raise ValueError(f"to_tflite: the export has no signature {signature!r}; it has {exported.signatures}.")
    if exported.modality == "sequence" and signature != "encoded":
        raise ValueError(
            "to_tflite: a sequence export's raw-string signatures use string ops that TFLite's built-in "
            "operators lack; convert signature='encoded' (one-hot input) instead."
        )
    converter = tf.lite.TFLiteConverter.from_saved_model(exported.path, signature_keys=[signature])
    content = converter.convert()

    interpreter = _interpreter(content)
    runner = interpreter.get_signature_runner(signature)
    names = interpreter.get_signature_list()[signature]
    x = _probe(exported.input_shape, signature, probe_size, seed)
    input_name = names["inputs"][0]
    lite = runner(**{input_name: x})
    reference = exported.saved_model.signatures[signature](**{input_name: tf.constant(x)})
    difference = float(np.max(np.abs(lite["probabilities"] - reference["probabilities"].numpy())))
    same_class = np.array_equal(lite["class_index"], reference["class_index"].numpy())
    if not difference <= atol or not same_class:
        raise ValueError(
            f"to_tflite: the TFLite model's probabilities differ from the SavedModel's by {difference:.3g} "
            f"(allowed {atol:g}) on a probe batch; the file was not written."
        )
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(content)  # atomic_path gives it the umask's permissions
    return {"path": os.path.abspath(path), "signature": signature, "inputs": list(names["inputs"]),
            "outputs": list(names["outputs"]), "max_abs_difference": difference}
