"""ONNX files from biocnn exports and Keras models, converted by tf2onnx and checked in onnxruntime.

:func:`to_onnx` freezes one TensorFlow function and hands its graph to tf2onnx:

* from a biocnn export (a folder written by :func:`biocnn.export.save`), the numeric signature
  the SavedModel serves: ``serving_default`` for images, volumes and signals (so whatever
  preprocessing the SavedModel carries, normalisation fitted on the training split, percentile
  clipping, is in the ONNX graph too) and ``encoded`` for sequences (one-hot input; ONNX's
  standard operators have no string splitting, so the raw-text encoding stays a SavedModel
  feature, as it does for TFLite). Outputs: ``probabilities`` (N, K) float32 and
  ``class_index`` (N,) int64; the class names, the export's metadata and its model card travel
  in the ONNX file's ``metadata_props`` (``biocnn_class_names``, ``biocnn_export``,
  ``biocnn_model_card``);
* from a built ``keras.Model``, ``model(x, training=False)``: input ``input``, output ``output``.

After conversion ``onnx.checker`` validates the file and onnxruntime runs it next to TensorFlow
on a probe batch; the file is written (atomically) only when the largest difference is below
``atol``. Every registered model converts in every rank it supports (``tests/test_export_onnx.py``).

tf2onnx, onnx and onnxruntime are optional: ``pip install "biocnn[onnx]"``.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from biocnn.rundir import atomic_path

__all__ = ["DEFAULT_OPSET", "onnx_session", "to_onnx"]

# ONNX opset 17 (2022): LayerNormalization, and what every current runtime (onnxruntime >= 1.13,
# OpenCV DNN, ONNX.js successors, deepImageJ's ONNX engine) loads.
DEFAULT_OPSET = 17
_BATCH = "batch"


def _require():
    """Import tf2onnx, onnx and onnxruntime, or fail with one line saying how to install them."""
    try:
        import onnx
        import onnxruntime
        import tf2onnx
    except ImportError as error:
        raise ImportError(
            f"to_onnx needs tf2onnx, onnx and onnxruntime ({error.name} is missing): "
            'pip install "biocnn[onnx]".'
        ) from None
    return onnx, onnxruntime, tf2onnx


def onnx_session(path_or_bytes):
    """An onnxruntime CPU session for an ONNX file (or its bytes), on as many threads as TensorFlow.

    Example:
        >>> session = onnx_session("cells.onnx")  # doctest: +SKIP
        >>> print([i.name for i in session.get_inputs()])  # doctest: +SKIP
        ['image']
    """
    _, ort, _ = _require()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only; its warnings about unused initialisers are noise here
    # onnxruntime's default is one thread per physical core (1 on a 2-vCPU machine); TensorFlow uses
    # every logical CPU it may run on, so give onnxruntime the same for a fair comparison.
    options.intra_op_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    return ort.InferenceSession(path_or_bytes, sess_options=options, providers=["CPUExecutionProvider"])


# --- what to convert ---------------------------------------------------------------------------


class _Source:
    """One TensorFlow function to convert: its input spec, named outputs, and reference outputs."""

    def __init__(self, concrete, input_name, outputs, reference, metadata=None, owner=None):
        self.owner = owner  # what holds the function's variables (a loaded SavedModel), kept alive
        self.concrete = concrete
        self.input_name = input_name
        self.outputs = outputs  # ONNX output name -> TF tensor name in concrete's graph
        self.reference = reference  # x (NumPy) -> {ONNX output name: NumPy array}
        self.metadata = metadata


def _output_tensors(concrete):
    """Output key -> the graph tensor's name (``concrete.outputs`` follow the flattened structure)."""
    keys = tf.nest.flatten({key: key for key in concrete.structured_outputs})
    return {key: tensor.name for key, tensor in zip(keys, concrete.outputs)}


def _from_export(folder, signature, keep):
    from biocnn.export.savedmodel import load

    exported = load(folder)  # biocnn's own loading (and its checks) of an export
    metadata, saved = exported.metadata, exported.saved_model
    modality = metadata.get("modality")
    signature = signature or ("encoded" if modality == "sequence" else "serving_default")
    if signature not in saved.signatures:
        raise ValueError(f"to_onnx: the export '{folder}' has no signature {signature!r}; it has "
                         f"{sorted(saved.signatures.keys())}.")
    function = saved.signatures[signature]
    specs = function.structured_input_signature[1]
    (input_name, spec), = specs.items()
    if spec.dtype == tf.string:
        raise ValueError(
            f"to_onnx: signature {signature!r} takes raw strings, and ONNX's standard operators have no string "
            "splitting; convert signature='encoded' (one-hot input) instead."
        )
    numeric = [name for name in sorted(function.structured_outputs)
               if function.structured_outputs[name].dtype != tf.string]
    wanted = list(keep) if keep is not None else numeric
    if not wanted or any(name not in numeric for name in wanted):
        raise ValueError(f"to_onnx: outputs {list(keep or [])} are not all numeric outputs of signature {signature!r}; it "
                         f"has {numeric}.")
    tensors = _output_tensors(function)
    outputs = {name: tensors[name] for name in wanted}

    def reference(x):
        result = function(**{input_name: tf.constant(x)})
        return {name: result[name].numpy() for name in wanted}

    return _Source(function, input_name, outputs, reference, metadata, owner=saved)


def _from_model(model):
    if not model.built or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"to_onnx: expected a built keras.Model with one input and one output, got {len(model.inputs)} "
            f"input(s) and {len(model.outputs)} output(s)."
        )
    shape = tuple(model.input_shape[1:])
    if any(s is None for s in shape):
        raise ValueError(f"to_onnx: the model's input shape {model.input_shape} has unknown sizes; build it with a "
                         "fixed input shape.")

    @tf.function(input_signature=[tf.TensorSpec((None, *shape), tf.float32, name="input")])
    def inference(x):
        return {"output": tf.cast(model(x, training=False), tf.float32)}

    concrete = inference.get_concrete_function()
    return _Source(concrete, "input", _output_tensors(concrete),
                   lambda x: {"output": keras.ops.convert_to_numpy(model(x, training=False))}, owner=model)


# --- conversion --------------------------------------------------------------------------------


def _rename(graph, old, new):
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
    for value in (*graph.input, *graph.output):
        if value.name == old:
            value.name = new


def _convert(source, opset):
    onnx, _, tf2onnx = _require()
    from tf2onnx import tf_loader

    input_names = [source.concrete.inputs[0].name]  # the argument; captured constants and variables follow
    output_names = list(source.outputs.values())
    graph_def = tf_loader.from_function(source.concrete, input_names, output_names)
    model, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=input_names, output_names=output_names,
                                              opset=opset)
    _rename(model.graph, input_names[0], source.input_name)
    for name, tensor in source.outputs.items():
        _rename(model.graph, tensor, name)
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = _BATCH
    model.producer_name = "biocnn (tf2onnx)"
    return model


def _probe(session, count, seed, fallback_shape):
    (spec,) = session.get_inputs()
    # A size the graph leaves open (an export that resizes in the graph) is probed at the model's own size.
    shape = [d if isinstance(d, int) else count if i == 0 else (fallback_shape or [None] * len(spec.shape))[i]
             for i, d in enumerate(spec.shape)]
    if any(d is None for d in shape):
        raise ValueError(f"to_onnx: cannot make a probe batch for the input shape {spec.shape}; pass check=False.")
    rng = np.random.default_rng(seed)
    dtype = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16,
             "tensor(int16)": np.int16, "tensor(int32)": np.int32, "tensor(double)": np.float64}.get(spec.type)
    if dtype is None:
        raise ValueError(f"to_onnx: cannot make a probe batch for an input of type {spec.type}.")
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.random(shape).astype(dtype)


def _parity(session, source, count, seed):
    model_shape = ((source.metadata or {}).get("input") or {}).get("model_input_shape")
    x = _probe(session, count, seed, model_shape)
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(names, {source.input_name: x})))
    reference = source.reference(x)
    differences = {}
    for name, expected in reference.items():
        if name == "class_index":
            continue
        differences[name] = float(np.max(np.abs(got[name].astype(np.float64) - expected.astype(np.float64))))
    agree = "class_index" not in reference or np.array_equal(got["class_index"], reference["class_index"])
    return differences, agree


def to_onnx(export_or_model, path, *, opset=None, check=True, overwrite=False, signature=None, outputs=None,
            atol=1e-4, probe_size=8, seed=0):
    """Convert a biocnn export or a Keras model to an ONNX file, checked against TensorFlow.

    Args:
        export_or_model: a biocnn export folder (see :func:`biocnn.export.save`) or a built
            ``keras.Model`` with one input and one output.
        path: the ``.onnx`` file to write (atomically).
        opset: the ONNX opset (default :data:`DEFAULT_OPSET`, 17).
        check: validate the file with ``onnx.checker`` and compare onnxruntime's outputs with
            TensorFlow's on a random probe batch; nothing is written if they differ by more
            than ``atol``. With False the file is written unchecked.
        overwrite: replace an existing file at ``path``.
        signature: the export's signature to convert (default ``serving_default``, or
            ``encoded`` for sequence exports); ignored for a Keras model.
        outputs: the export's outputs to keep, in ONNX output order (default every numeric
            output: ``class_index`` and ``probabilities``); e.g. ``["probabilities"]`` for
            tools that expect one output. Ignored for a Keras model.
        atol: the largest allowed difference between onnxruntime's and TensorFlow's outputs.
        probe_size, seed: the probe batch (uniform in [0, 1) for float inputs, the full range
            for integer inputs).

    Returns:
        dict: ``path``, ``opset``, ``input`` (name, dtype, shape), ``outputs`` (names),
        ``max_abs_difference`` (per output, None unchecked), ``class_names`` (exports only)
        and ``preprocessing_in_graph`` (the export's in-graph steps, now in the ONNX graph too).

    Raises:
        ImportError: tf2onnx, onnx or onnxruntime is not installed.
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        ValueError: not a biocnn export or a suitable model, an unknown or string signature, or
            outputs that differ by more than ``atol`` (nothing is written).

    Example:
        >>> import keras, tempfile
        >>> net = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3),
        ...                         keras.layers.GlobalAveragePooling2D(), keras.layers.Softmax()])
        >>> info = to_onnx(net, tempfile.mkdtemp() + "/net.onnx")
        >>> info["input"]["shape"], info["max_abs_difference"]["output"] < 1e-4
        (['batch', 8, 8, 1], True)
    """
    onnx, _, _ = _require()
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"'{path}' already exists. Pass overwrite=True (--overwrite) or choose another file.")
    opset = DEFAULT_OPSET if opset is None else int(opset)
    if isinstance(export_or_model, keras.Model):
        source = _from_model(export_or_model)
    elif isinstance(export_or_model, (str, os.PathLike)):
        source = _from_export(export_or_model, signature, outputs)
    else:
        raise TypeError(f"to_onnx: expected a biocnn export folder or a keras.Model, got "
                        f"{type(export_or_model).__name__}.")
    model = _convert(source, opset)
    if source.metadata is not None:
        from biocnn.export.card import model_card

        meta = source.metadata
        for key, value in (("biocnn_class_names", json.dumps(meta.get("class_names"))),
                           ("biocnn_export", json.dumps(meta, sort_keys=True)),
                           ("biocnn_model_card", json.dumps(model_card(export_or_model), sort_keys=True))):
            model.metadata_props.add(key=key, value=value)
    content = model.SerializeToString()

    differences = None
    if check:
        onnx.checker.check_model(model, full_check=True)
        session = onnx_session(content)
        differences, agree = _parity(session, source, probe_size, seed)
        worst = max(differences.values())
        if not worst <= atol or not agree:
            raise ValueError(
                f"to_onnx: onnxruntime's outputs differ from TensorFlow's by {worst:.3g} (allowed {atol:g}"
                f"{'; the predicted classes differ' if not agree else ''}) on a probe batch; '{path}' was not "
                "written. Report this with the model's name (a tf2onnx conversion bug), or pass a larger atol."
            )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(content)  # atomic_path gives it the umask's permissions

    graph_input = model.graph.input[0]
    dims = graph_input.type.tensor_type.shape.dim
    meta = source.metadata or {}
    return {
        "path": os.path.abspath(path),
        "opset": opset,
        "input": {"name": graph_input.name,
                  "dtype": onnx.helper.tensor_dtype_to_np_dtype(graph_input.type.tensor_type.elem_type).name,
                  "shape": [d.dim_param or d.dim_value for d in dims]},
        "outputs": [o.name for o in model.graph.output],
        "max_abs_difference": differences,
        "class_names": meta.get("class_names"),
        "preprocessing_in_graph": (meta.get("preprocessing") or {}).get("in_graph"),
    }
