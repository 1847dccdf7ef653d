"""TensorFlow SavedModels that downstream tools can trust, and loading them back.

:func:`save` writes a model through ``keras.export.ExportArchive`` and calls every layer with
``training=False``. (A plain ``model.export()`` leaves the flag to each layer's default, and
Keras's own augmentation layers default to training mode, so its served outputs are random.)
The ``serving_default`` signature's input and outputs are named and typed:

* input, by modality: ``sequence`` tf.string ``[None]`` (raw text, one-hot encoded in the
  graph); ``image`` ``[None, H, W, C]``; ``volume`` ``[None, D, H, W, C]``; ``signal``
  ``[None, L, C]`` (1D data without an encoding). Arrays are the files' own values, channels
  last, in the declared raw dtype (``uint8``, ``uint16``, ``int16``, ``float32`` ...); spatial
  sizes are ``None`` when the export resizes;
* outputs: ``probabilities`` float32 ``[None, K]``, ``class_index`` int64 ``[None]`` and
  ``class_name`` tf.string ``[None]``.

An optional ``embeddings`` signature (same input, output ``embedding``) returns the features
that feed the last Dense layer; sequence exports also have ``encoded`` (input ``one_hot``,
float32 ``[None, L, channels]``) for tools that encode themselves and for TFLite; image,
volume and signal exports also have ``prepared`` (input float32 at the model's input shape:
what biocnn's NumPy readers give after their steps, for :func:`biocnn.export.predict_files`
and TFLite).

Everything between the file and the network is in the ``serving_default`` graph, in the
readers' order (:func:`biocnn.data.preprocess.reader_layers`): channel choice, integer
scaling by the raw dtype's maximum, the NaN policy, a CT window, resizing; then the model's
own preprocessing (normalisation fitted on the training split, percentile clipping). Each
step is listed with its constants under ``preprocessing.in_graph`` in the metadata
(``preprocessing.before_graph`` repeats the reader steps for callers of ``prepared``).
Writes are atomic: the export is built in a temporary folder next to ``path`` and renamed
into place only when complete.
"""

import contextlib
import os
import shutil
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from biocnn import tta as tta_module
from biocnn.data.encoding import Encoding, validate_sequence
from biocnn.data.preprocess import PercentileClip, reader_layers
from biocnn.export import metadata as metadata_module
from biocnn.export.runfacts import card_facts, reader_of_run
from biocnn.export.sequence_graph import encode_sequences
from biocnn import rundir
from biocnn.rundir import share_permissions

__all__ = ["ExportedModel", "check_target", "ensemble_members", "from_run", "from_runs", "load", "save"]

INPUT_NAMES = {"sequence": "sequence", "image": "image", "volume": "volume", "signal": "signal"}
_RANK_MODALITY = {1: "signal", 2: "image", 3: "volume"}
_OUTPUT_KINDS = ("auto", "probabilities", "logits")
_SHAPE_WORDS = {"image": ("H", "W"), "volume": ("D", "H", "W"), "signal": ("L",), "sequence": ("L",)}


# --- where the export goes --------------------------------------------------------------------


def check_target(path, overwrite=False):
    """Raise unless ``path`` may receive an export: missing, empty, or (with ``overwrite``) an export.

    A folder that is not a biocnn export is never replaced or deleted, whatever ``overwrite``.

    Args:
        path: the export directory to be written.
        overwrite: allow replacing a previous biocnn export there.

    Raises:
        FileExistsError: ``path`` is a file, a non-empty folder that is not a biocnn export, or
            an export and ``overwrite`` is False.

    Example:
        >>> import tempfile
        >>> check_target(tempfile.mkdtemp() + "/new_export")  # nothing there: fine
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.exists(path):
        return
    if not os.path.isdir(path):
        raise FileExistsError(f"Export path '{path}' exists and is a file; choose another export directory.")
    entries = os.listdir(path)
    if not entries:
        return
    if metadata_module.SIDECAR not in entries:
        raise FileExistsError(
            f"Export directory '{path}' is not empty and is not a biocnn export (no "
            f"{metadata_module.SIDECAR}); biocnn will not write into it or delete it. Choose another directory."
        )
    if not overwrite:
        raise FileExistsError(
            f"Export directory '{path}' already holds a biocnn export. Pass overwrite=True (--overwrite) "
            "to replace it, or choose another directory."
        )


@contextlib.contextmanager
def atomic_folder(path, overwrite=False, check=None):
    """Yield a temporary folder next to ``path``; move it onto ``path`` if the block succeeds.

    Every export folder (SavedModel, bioimage.io package) is written this way: a failure leaves
    the previous folder, or nothing, and the folder and files get the umask's permissions.

    Args:
        path: the folder to write.
        overwrite: whether an earlier folder of the same kind may be replaced.
        check: ``check(path, overwrite)`` that refuses a target (default :func:`check_target`).
    """
    path = os.path.abspath(os.fspath(path))
    (check or check_target)(path, overwrite)
    parent, base = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=parent)
    try:
        yield tmp
        _umask_permissions(tmp)
        if os.path.exists(path):
            old = tmp + ".old"
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)  # put the previous export back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask_permissions(folder):
    # mkdtemp/mkstemp create private (0700/0600) entries; an export is meant to be shared
    # (a serving container often runs as another user), so give it the usual permissions.
    for root, _, files in os.walk(folder):
        share_permissions(root)
        for name in files:
            share_permissions(os.path.join(root, name))


# --- what the model is ------------------------------------------------------------------------


def _last_layer(model):
    layer = model.layers[-1] if model.layers else model
    while isinstance(layer, keras.Model) and layer.layers:
        layer = layer.layers[-1]
    return layer


def _output_kind(model, outputs):
    if outputs not in _OUTPUT_KINDS:
        raise ValueError(f"save: outputs must be one of {_OUTPUT_KINDS}, got {outputs!r}.")
    if outputs != "auto":
        return outputs
    layer = _last_layer(model)
    if isinstance(layer, keras.layers.Softmax):
        return "probabilities"
    activation = layer.get_config().get("activation")
    if activation in ("softmax", "sigmoid"):
        return "probabilities"
    if isinstance(layer, keras.layers.Dense) and activation == "linear":
        return "logits"
    raise ValueError(
        f"save: cannot tell whether the model's last layer '{layer.name}' ({type(layer).__name__}) gives "
        "probabilities or logits. Pass outputs='probabilities' or outputs='logits'."
    )


def _embedding_function(model):
    """A function x -> the input of the model's last Dense layer, or None if not found.

    Nested models (preprocessing in front of a network) are followed down their last layer;
    the layers in front of a nested model are checked to form a chain (calling them in order,
    then the nested model, must give the model's own output on a probe batch).
    """
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.Dense):
            return keras.Model(model.inputs, layer.input, name=f"{model.name}_embedding")
        if isinstance(layer, keras.Model):
            inner = _embedding_function(layer)
            front = [lay for lay in model.layers if not isinstance(lay, keras.layers.InputLayer)]
            front = front[:front.index(layer)]

            def chain(x, training=False, front=front):
                for step in front:
                    x = step(x, training=training)
                return x

            probe = np.random.default_rng(0).random((2, *model.input_shape[1:])).astype(np.float32)
            same = np.allclose(keras.ops.convert_to_numpy(layer(chain(probe), training=False)),
                               keras.ops.convert_to_numpy(model(probe, training=False)), rtol=1e-4, atol=1e-5)
            if inner is None or not same:
                return None
            return lambda x, training=False: inner(chain(x, training), training=training)
    return None


def _in_graph_steps(*layers):
    """Descriptions of the preprocessing layers inside ``layers``, with their constants."""
    steps = []

    def visit(layer):
        if isinstance(layer, keras.layers.Normalization):
            steps.append({
                "step": "normalization", "layer": layer.name,
                "mean": np.ravel(keras.ops.convert_to_numpy(layer.mean)).tolist(),
                "variance": np.ravel(keras.ops.convert_to_numpy(layer.variance)).tolist(),
                "note": "per channel, (x - mean) / sqrt(variance), fitted on the training split",
            })
        elif isinstance(layer, PercentileClip):
            steps.append({"step": "percentile_clip", "layer": layer.name, "low": layer.low, "high": layer.high,
                          "note": "per image and channel, to [0, 1]"})
        for sub in getattr(layer, "layers", []):
            visit(sub)

    for layer in layers:
        if layer is not None:
            visit(layer)
    return steps


def _describe_input(modality, shape, encoding, reader):
    words = _SHAPE_WORDS[modality]
    spatial, channels = shape[:-1], shape[-1]
    sizes = " x ".join(str(s) for s in spatial)
    if modality == "sequence":
        return (f"a batch of raw {encoding.alphabet.upper()} strings (any case, IUPAC codes allowed), "
                f"cropped/padded in the graph to {spatial[0]} ({encoding.align}-aligned)"
                if encoding.length is not None else
                f"a batch of raw {encoding.alphabet.upper()} strings of exactly {spatial[0]} letters (any case)")
    what = "voxels" if modality == "volume" else "pixels" if modality == "image" else "steps"
    size = (f"any size (resized to {sizes} in the graph)" if reader["resize_to"] is not None else f"{sizes} {what}")
    raw_channels = reader["raw_channels"]
    if reader["channels"] is not None:
        kept = f"channels {reader['channels']} kept in the graph"
        channel_text = (f"{raw_channels} channel(s) last, {kept}" if raw_channels is not None
                        else f"any number of channels last, {kept}")
    else:
        channel_text = f"{channels} channel(s) last"
    scaled = np.dtype(reader["raw_dtype"]).kind in "iu" and reader["scale_integers"]
    return (f"{reader['raw_dtype']} batch (N, {', '.join(words)}, C): the files' own values, {size}, {channel_text}"
            + (f"; divided by {np.iinfo(np.dtype(reader['raw_dtype'])).max} in the graph" if scaled else ""))


def _check_model(model, class_names, encoding, rc_average):
    """Validate what :func:`save` was given; returns (input shape, output shape, class names,
    encoding, modality)."""
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(f"save: expected a built keras.Model, got {type(model).__name__}.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"save: the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; biocnn exports "
            "classifiers with one input and one output."
        )
    shape = tuple(model.input_shape[1:])
    if any(s is None for s in shape) or len(shape) not in (2, 3, 4):
        raise ValueError(
            f"save: the model's input shape is {model.input_shape}; expected (None, *spatial, channels) with 1 to 3 "
            "known spatial sizes. Build the model with a fixed input shape."
        )
    out_shape = tuple(model.output_shape)
    if len(out_shape) != 2 or out_shape[-1] is None:
        raise ValueError(f"save: the model's output shape is {out_shape}; expected (None, number of classes).")
    num_classes = 2 if out_shape[-1] == 1 else int(out_shape[-1])
    class_names = [str(c) for c in (class_names if class_names is not None else range(num_classes))]
    if len(class_names) != num_classes:
        raise ValueError(
            f"save: {len(class_names)} class names {class_names} for a model with {num_classes} classes "
            f"(output shape {out_shape}). Give one name per class, in output order."
        )
    rank = len(shape) - 1
    if encoding is not None:
        encoding = Encoding.from_dict(encoding) if isinstance(encoding, dict) else encoding
        if rank != 1 or shape[-1] != encoding.channels:
            raise ValueError(
                f"save: the {encoding.alphabet} encoding gives (length, {encoding.channels}) inputs, but the model "
                f"takes {shape}. Give the encoding the model was trained with."
            )
        if encoding.length is not None and encoding.length != shape[0]:
            raise ValueError(
                f"save: the encoding crops/pads to length {encoding.length}, but the model takes sequences of "
                f"{shape[0]}. Give the encoding the model was trained with."
            )
        modality = "sequence"
    else:
        modality = _RANK_MODALITY[rank]
    if rc_average and (encoding is None or encoding.alphabet == "protein"):
        raise ValueError("save: rc_average needs a DNA or RNA encoding (proteins have no reverse complement).")
    return shape, out_shape, class_names, encoding, modality


# --- the reader steps in the graph -------------------------------------------------------------

READER_KEYS = ("raw_dtype", "raw_channels", "channels", "scale_integers", "nan_policy", "window", "resize_to")
_RAW_DTYPES = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "float16", "float32", "float64")


def _check_reader(reader, modality, shape):
    """The complete reader description (see :func:`save`), validated against the model's input."""
    if modality == "sequence":
        if reader:
            raise ValueError("save: reader steps are for image, volume and signal models; a sequence export "
                             "encodes raw strings with its encoding.")
        return None
    reader = dict(reader or {})
    unknown = sorted(set(reader) - set(READER_KEYS))
    if unknown:
        raise ValueError(f"save: unknown reader keys {unknown}; the keys are {list(READER_KEYS)}.")
    raw_dtype = np.dtype(reader.get("raw_dtype") or "float32").name  # ">i2" (big-endian HDF5) -> "int16"
    if raw_dtype not in _RAW_DTYPES:
        raise ValueError(f"save: raw_dtype {raw_dtype!r} is not one biocnn's readers give; choose one of {_RAW_DTYPES}.")
    spatial, model_channels = tuple(shape[:-1]), shape[-1]
    channels = reader.get("channels")
    if channels is not None:
        channels = [int(c) for c in channels]
        if len(channels) != model_channels:
            raise ValueError(f"save: reader channels {channels} give {len(channels)} channel(s); the model takes "
                             f"{model_channels}.")
    raw_channels = reader.get("raw_channels")
    if raw_channels is None and channels is None:
        raw_channels = model_channels
    if raw_channels is not None and channels is None and int(raw_channels) != model_channels:
        raise ValueError(f"save: raw_channels={raw_channels} without a channel choice; the model takes {model_channels}.")
    resize_to = reader.get("resize_to")
    if resize_to is not None:
        resize_to = [int(n) for n in resize_to]
        if tuple(resize_to) != spatial:
            raise ValueError(f"save: the reader resizes to {resize_to}, but the model takes {list(spatial)}.")
    window = reader.get("window")
    if window is not None:
        window = [float(window[0]), float(window[1])]
    floating = np.dtype(raw_dtype).kind == "f"
    nan_policy = reader.get("nan_policy", "raise" if floating else None)
    return {
        "raw_dtype": raw_dtype,
        "raw_channels": None if raw_channels is None else int(raw_channels),
        "channels": channels,
        "scale_integers": bool(reader.get("scale_integers", True)),
        "nan_policy": nan_policy if floating else None,  # integers hold no NaN
        "window": window,
        "resize_to": resize_to,
    }


def _reader_steps_doc(reader):
    """The reader steps of ``serving_default``, in order, with their constants (for the metadata)."""
    if reader is None:
        return []
    dtype = np.dtype(reader["raw_dtype"])
    steps = []
    if reader["channels"] is not None:
        steps.append({"step": "select_channels", "channels": reader["channels"], "note": "channels last"})
    if dtype.kind in "iu" and reader["scale_integers"]:
        steps.append({"step": "scale_intensities", "raw_dtype": dtype.name, "divisor": int(np.iinfo(dtype).max),
                      "note": "integer input divided by its dtype's maximum, to float32"})
    else:
        steps.append({"step": "cast", "raw_dtype": dtype.name, "note": "to float32, values unchanged"})
    if reader["nan_policy"] is not None:
        steps.append({"step": "nan_policy", "policy": reader["nan_policy"],
                      "note": "see biocnn.data.intensity.replace_nonfinite"})
    if reader["window"] is not None:
        low, high = reader["window"]
        steps.append({"step": "window", "low": low, "high": high, "note": "clip to [low, high], scale to [0, 1]"})
    if reader["resize_to"] is not None:
        steps.append({"step": "resize", "to": reader["resize_to"], "method": "linear (half-pixel centres)"})
    return steps


def _raw_spec(modality, shape, reader):
    spatial = [None] * (len(shape) - 1) if reader["resize_to"] is not None else list(shape[:-1])
    return tf.TensorSpec((None, *spatial, reader["raw_channels"]), tf.as_dtype(reader["raw_dtype"]),
                         name=INPUT_NAMES[modality])


def _shape_check(spec, modality):
    """x -> x, failing the call (with a readable message) unless x has ``spec``'s rank and known sizes.

    A loaded SavedModel's signature checks only the dtype of what it is fed, not the shape, so a
    channels-first or wrongly sized array would otherwise run through the graph.
    """
    expected = [None if d is None else int(d) for d in spec.shape]
    words = ("N", *_SHAPE_WORDS.get(modality, ("L",)), "C") if len(expected) > 1 else ("N",)
    shown = ", ".join("any" if d is None else str(d) for d in expected)
    message = (f"biocnn {modality} export, input {spec.name}: expected {spec.dtype.name} of shape ({', '.join(words)}) = "
               f"({shown}), channels last (move the channel axis of a channels-first array last); got shape")
    fixed = [i for i, d in enumerate(expected) if d is not None]

    def check(x):
        shape = tf.shape(x)
        right_rank = tf.equal(tf.size(shape), len(expected))
        if fixed:
            ok = tf.cond(right_rank, lambda: tf.reduce_all(tf.equal(tf.gather(shape, fixed), [expected[i] for i in fixed])),
                         lambda: tf.constant(False))
        else:
            ok = right_rank
        with tf.control_dependencies([tf.debugging.Assert(ok, [message, shape])]):
            return tf.identity(x)

    return check


def _reader_function(reader):
    """raw tensor -> the model's float32 input, through the reader layers."""
    steps = reader_layers(channels=reader["channels"], scale_integers=reader["scale_integers"],
                          nan_policy=reader["nan_policy"], window=reader["window"], resize_to=reader["resize_to"])

    def read(x):
        for step in steps:
            x = step(x)
        return x

    return read


# --- save --------------------------------------------------------------------------------------


def save(model, path, *, class_names=None, encoding=None, preprocessing=None, rc_average=False,
         outputs="auto", embeddings="auto", reader=None, before_graph=None, metrics=None, data=None, seed=None,
         source=None, run=None, overwrite=False, tta=None):
    """Export a Keras classifier as a TensorFlow SavedModel with biocnn's metadata.

    Args:
        model: a built Keras model with one input ``(None, *spatial, C)`` and one output
            ``(None, K)``. It is called with ``training=False``: augmentation, dropout and
            batch-norm updates are off in the export.
        path: the export directory (created; must not exist unless ``overwrite``).
        class_names: names of the K classes in output order (default ``"0"``, ``"1"`` ...).
        encoding: for a sequence model, the :class:`biocnn.data.Encoding` (or its dict) used in
            training; the export then takes raw strings and encodes them in the graph.
        preprocessing: an optional Keras layer/model applied before ``model`` in the graph
            (e.g. :func:`biocnn.data.preprocess.fit_preprocessing`'s result) when the model
            does not contain its preprocessing already.
        rc_average: sequences only: serve the mean of the forward and reverse-complement
            strands' probabilities (DNA/RNA); embeddings stay those of the forward strand.
        outputs: ``"auto"`` (read the last layer), ``"probabilities"`` (softmax or sigmoid
            outputs, served as they are) or ``"logits"`` (a softmax is applied in the graph).
        embeddings: ``"auto"``: add an ``embeddings`` signature when the last Dense layer can be
            found (a warning otherwise); True: require it; False: none.
        reader: images, volumes and signals: what biocnn's reader did between the file and the
            model, put in the ``serving_default`` graph (see
            :func:`biocnn.data.preprocess.reader_layers`); a dict with any of
            ``raw_dtype`` (the files' dtype, declared by the signature; default float32),
            ``raw_channels`` (the files' channel count; default the model's, or any when
            ``channels`` is given), ``channels`` (indices kept), ``scale_integers`` (divide
            integer input by its dtype's maximum; default True), ``nan_policy`` (default
            "raise" for float input), ``window`` ((low, high)), ``resize_to`` (the model's
            spatial shape: the signature then takes any size).
        before_graph: the same reader steps in the form :func:`biocnn.export.predict_files`
            applies in NumPy before the ``prepared`` signature: images ``{"resize_to": [H, W],
            "channels": [0, 2]}``, volumes ``{"volume_preprocessing":
            VolumePreprocessing(...).to_dict()}``.
        metrics, data, seed: the training run's metrics, data summary and seed, for the metadata.
        source: where the model came from (e.g. the run directory), for the metadata.
        run: facts for a model card (``data_source``, ``split_sizes``, ``class_counts`` ...),
            recorded under ``training``.
        overwrite: replace a previous biocnn export in ``path``.
        tta: test-time augmentation served in the graph: a resolved ``--tta``
            (:func:`biocnn.tta.resolve`, ``{"spec", "views"}``); the probabilities are the mean
            over the views (:func:`biocnn.tta.average`, as the run was scored). ``rc_average``
            is the two-strand case of it.

    Returns:
        dict: the metadata written to ``biocnn_export.json``.

    Raises:
        FileExistsError: ``path`` holds an export and ``overwrite`` is False, or is a non-empty
            folder that is not a biocnn export (never replaced).
        ValueError: a model with several inputs or outputs or an unknown input length, class
            names that do not match the outputs, an encoding that does not match the model's
            input, ``rc_average`` without a DNA/RNA encoding, or embeddings=True when none
            can be found.

    Example:
        >>> import keras, tempfile
        >>> net = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
        ...                         keras.layers.Dense(2, activation="softmax")])
        >>> meta = save(net, tempfile.mkdtemp() + "/cells", class_names=["rbc", "wbc"])
        >>> print(meta["input"]["name"], meta["input"]["shape"])
        image [None, 8, 8, 1]
    """
    shape, out_shape, class_names, encoding, modality = _check_model(model, class_names, encoding, rc_average)
    kind = _output_kind(model, outputs)
    if preprocessing is not None and not preprocessing.built:
        preprocessing.build((None, *shape))  # e.g. fit_preprocessing's Sequential, made without an Input
    views = (tta or {}).get("views") or ([[], [1, 2]] if rc_average else [[]])
    head = _head(model, preprocessing, kind, out_shape[-1] == 1, views, class_names)
    reader = _check_reader(reader, modality, shape)
    spec, numeric_spec, to_model_input = _input_specs(modality, shape, encoding, reader)
    embed = _embedding(model, preprocessing, embeddings)

    archive = keras.export.ExportArchive()
    archive.track(model)
    if preprocessing is not None:
        archive.track(preprocessing)
    check, check_numeric = _shape_check(spec, modality), _shape_check(numeric_spec, modality)
    archive.add_endpoint("serving_default", lambda x: head(to_model_input(check(x))), input_signature=[spec])
    signatures = {"serving_default": _signature_doc(spec, class_names)}
    if embed is not None:
        endpoint = archive.add_endpoint(
            "embeddings", lambda x: {"embedding": tf.cast(embed(to_model_input(check(x))), tf.float32)},
            input_signature=[spec])
        width = endpoint.get_concrete_function().structured_outputs["embedding"].shape[-1]
        signatures["embeddings"] = _signature_doc(spec, embedding_width=width)
    numeric_name = "encoded" if modality == "sequence" else "prepared"
    archive.add_endpoint(numeric_name, lambda x: head(check_numeric(x)), input_signature=[numeric_spec])
    signatures[numeric_name] = _signature_doc(numeric_spec, class_names)

    from biocnn.runtime import versions

    info = {
        "modality": modality,
        "class_names": class_names,
        "signatures": signatures,
        "input": {
            "name": spec.name,
            "dtype": spec.dtype.name,
            "shape": [None if d is None else int(d) for d in spec.shape],
            "layout": "N" if modality == "sequence" else "N" + "".join(_SHAPE_WORDS[modality]) + "C",
            "model_input_shape": [None, *shape],
            "description": _describe_input(modality, shape, encoding, reader),
        },
        "reader": reader,
        "encoding": None if encoding is None else encoding.to_dict(),
        "outputs": {"model_outputs": kind, "rc_average": bool(rc_average),
                    "binary_sigmoid_expanded": out_shape[-1] == 1, "tta": tta or None},
        "preprocessing": {
            "in_graph": ([{"step": "one_hot", "encoding": encoding.to_dict()}] if encoding is not None else [])
            + _reader_steps_doc(reader) + _in_graph_steps(preprocessing, model),
            "before_graph": before_graph or {},
        },
        "training": {"seed": seed, "data": data, "metrics": metrics, **(run or {})},
        "model": {"name": model.name, "parameters": int(model.count_params())},
        "source": source,
        "versions": versions(),
    }
    with atomic_folder(path, overwrite) as tmp:
        archive.write_out(tmp, verbose=False)
        written = metadata_module.write(tmp, info)
    return written


def _head(model, preprocessing, kind, one_sigmoid, views, class_names):
    """x (model input) -> the named outputs, every layer in inference mode; the probabilities
    averaged over the test-time ``views`` (``[[]]``: the input as it is)."""

    def scores(x):
        y = model(preprocessing(x, training=False) if preprocessing is not None else x, training=False)
        y = tf.cast(y, tf.float32)
        y = tf.nn.softmax(y, axis=-1) if kind == "logits" else y
        return tf.concat([1.0 - y, y], axis=-1) if one_sigmoid else y

    def head(x):
        # Reverse complement of an ACGT/ACGU one-hot is the view [1, 2]: length and channels reversed.
        probabilities = tta_module.average(scores, x, views) if views != [[]] else scores(x)
        index = tf.argmax(probabilities, axis=-1)
        return {
            "probabilities": probabilities,
            "class_index": index,
            "class_name": tf.gather(tf.constant(class_names), index),
        }

    return head


def _input_specs(modality, shape, encoding, reader):
    """The served input's spec, the model's numeric spec, and the function between them."""
    numeric = tf.TensorSpec((None, *shape), tf.float32, name="one_hot" if modality == "sequence" else INPUT_NAMES[modality])
    if modality != "sequence":
        return _raw_spec(modality, shape, reader), numeric, _reader_function(reader)
    strings = tf.TensorSpec((None,), tf.string, name=INPUT_NAMES["sequence"])
    return strings, numeric, lambda s: encode_sequences(s, encoding, length=shape[0])


def _embedding(model, preprocessing, embeddings):
    """x -> embedding (inference mode), None when not asked for or (with "auto") not found."""
    if not embeddings:
        return None
    found = _embedding_function(model)
    if found is None:
        if embeddings is True:
            raise ValueError("save: no Dense layer found whose input could serve as the embedding; "
                             "export with embeddings=False.")
        warnings.warn("save: no Dense layer found whose input could serve as the embedding; exported without "
                      "an 'embeddings' signature (pass embeddings=False to silence this).", stacklevel=3)
        return None
    if preprocessing is None:
        return lambda x: found(x, training=False)
    return lambda x: found(preprocessing(x, training=False), training=False)


def _signature_doc(spec, class_names=None, embedding_width=None):
    inputs = {spec.name: {"dtype": spec.dtype.name, "shape": [None if d is None else int(d) for d in spec.shape]}}
    if class_names is None:
        return {"inputs": inputs, "outputs": {"embedding": {"dtype": "float32", "shape": [None, embedding_width]}}}
    return {"inputs": inputs, "outputs": {
        "probabilities": {"dtype": "float32", "shape": [None, len(class_names)]},
        "class_index": {"dtype": "int64", "shape": [None]},
        "class_name": {"dtype": "string", "shape": [None]},
    }}


# --- load --------------------------------------------------------------------------------------


class ExportedModel:
    """A biocnn export loaded with TensorFlow: call it on inputs, read its metadata.

    Two ways in, both checked before the graph runs (a wrong dtype, layout or shape, or a
    letter outside the alphabet, is a ``ValueError`` that names the sample and says what was
    expected, not a TensorFlow error from inside the graph):

    * ``model(x, raw=True)``: the files' own arrays (``serving_default``: the reader steps,
      e.g. integer scaling, channel choice, CT window, resizing, run in the graph);
    * ``model(x)``: arrays as biocnn's NumPy readers give them after those steps (float32 at
      the model's input shape; the ``prepared`` signature), as :func:`predict_files` passes.

    Sequence exports take strings either way.

    Before TensorFlow loads it, the SavedModel's graph is checked against an allowlist of
    operations (:func:`biocnn.export.check_graph`): an export that could read or write files
    or run Python is refused unless ``trust_export=True``.

    Args:
        path: the export directory.
        trust_export: skip the graph check (only for exports from a source you trust).

    Attributes:
        path: the export directory (absolute).
        metadata: the dict of ``biocnn_export.json``.
        class_names: the class names in output order.
        modality: ``"sequence"``, ``"image"``, ``"volume"`` or ``"signal"``.
        input_name: the ``serving_default`` input's name.
        encoding: the :class:`biocnn.data.Encoding` of a sequence export, else None.
        input_shape: the model's per-sample input shape (for sequences, after encoding).
        raw_dtype: the dtype ``serving_default`` declares (``"string"`` for sequences).
        raw_shape: ``serving_default``'s per-sample shape (None: any size).

    Raises:
        FileNotFoundError: no such directory.
        ValueError: the directory is not a biocnn export, or its graph holds an operation
            outside the allowlist (without ``trust_export``).

    Example:
        >>> import keras, tempfile
        >>> net = keras.Sequential([keras.Input((6, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
        >>> path = tempfile.mkdtemp() + "/signal"
        >>> _ = save(net, path, reader={"raw_dtype": "uint8"})
        >>> print(load(path)(np.zeros((3, 6, 1), "uint8"), raw=True)["probabilities"].shape)
        (3, 2)
    """

    def __init__(self, path, trust_export=False):
        from biocnn.export.allowlist import check_graph  # the graph check, before TensorFlow loads anything

        self.path = os.path.abspath(os.fspath(path))
        self.metadata = metadata_module.read(self.path)
        if not trust_export:
            check_graph(self.path)
        self._saved = tf.saved_model.load(self.path)
        self.class_names = list(self.metadata["class_names"])
        self.modality = self.metadata["modality"]
        self.input_name = self.metadata["input"]["name"]
        encoding = self.metadata.get("encoding")
        self.encoding = Encoding.from_dict(encoding) if encoding else None
        self.input_shape = tuple(self.metadata["input"]["model_input_shape"][1:])
        self.reader = self.metadata.get("reader")
        self.raw_dtype = self.metadata["input"]["dtype"]
        self.raw_shape = tuple(self.metadata["input"]["shape"][1:])

    def __repr__(self):
        return f"ExportedModel('{self.path}', {self.modality}, classes={self.class_names})"

    @property
    def saved_model(self):
        """The object ``tf.saved_model.load`` returned (its ``signatures`` are TF functions)."""
        return self._saved

    @property
    def signatures(self):
        """Names of the SavedModel's signatures (``serving_default``, ``embeddings`` ...)."""
        return sorted(self._saved.signatures.keys())

    def check(self, inputs, names=None, raw=False):
        """Inputs as the signature takes them, or a ValueError saying why not.

        Args:
            inputs: for a sequence export, a str or a list of str; otherwise an array
                ``(N, *spatial, C)`` (one sample without the batch axis, and a missing
                channel axis when C is 1, are accepted).
            names: optional names of the samples, for error messages.
            raw: the array holds the files' own values (``serving_default``); otherwise it is
                float32 as biocnn's readers give it (``prepared``).

        Returns:
            a list of str (sequences) or an array ``(N, *spatial, C)`` (float32, or the raw
            dtype with ``raw``).

        Raises:
            ValueError: strings for an image export or arrays for a sequence export, a letter
                outside the alphabet, a sequence of the wrong length (when the model has no
                crop/pad length), a wrong dtype (``raw``), a channels-first or otherwise wrong
                shape, or non-finite values.
        """
        if self.modality == "sequence":
            return self._check_sequences(inputs, names)
        if raw:
            return self._check_raw(inputs, names)
        return self._check_array(inputs, names)

    def _check_sequences(self, inputs, names):
        if isinstance(inputs, str):
            inputs = [inputs]
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind in "biuf":
            raise ValueError(
                f"This export takes raw {self.encoding.alphabet.upper()} strings (input '{self.input_name}'), "
                f"got a numeric array of shape {inputs.shape}. Pass the sequences as text."
            )
        sequences = [s.decode() if isinstance(s, bytes) else s for s in inputs]
        names = list(names) if names is not None else [f"sequence {i + 1}" for i in range(len(sequences))]
        length = self.input_shape[0]
        for sequence, name in zip(sequences, names):
            if not isinstance(sequence, str):
                raise ValueError(f"{name}: expected a string, got {type(sequence).__name__}.")
            validate_sequence(sequence, self.encoding.alphabet, where=name)
            if self.encoding.length is None and len(sequence) != length:
                raise ValueError(
                    f"{name} has {len(sequence)} letters; this model takes sequences of exactly {length} (it "
                    "was trained without a crop/pad length). Crop or pad the sequences to that length."
                )
        return sequences

    def _check_array(self, inputs, names):
        x = np.asarray(inputs)
        if x.dtype.kind not in "biuf":
            raise ValueError(
                f"This export takes a numeric array for '{self.input_name}', got dtype {x.dtype}."
            )
        expected = self.input_shape
        if x.shape == expected:
            x = x[None]
        elif expected[-1] == 1 and x.shape[1:] == expected[:-1]:
            x = x[..., None]
        if x.ndim != len(expected) + 1 or x.shape[1:] != expected:
            got = x.shape[1:] if x.ndim == len(expected) + 1 else x.shape
            raise ValueError(self.shape_message(got, names[0] if names is not None and len(names) == 1 else "the input"))
        _check_finite(x, names)
        return x.astype(np.float32, copy=False)

    def _check_raw(self, inputs, names):
        x = np.asarray(inputs)
        where = names[0] if names is not None and len(names) == 1 else "the input"
        expected, dtype = self.raw_shape, np.dtype(self.raw_dtype)
        if x.dtype.kind not in "biuf":
            raise ValueError(f"{where}: this export takes numbers for '{self.input_name}', got dtype {x.dtype}.")
        if x.dtype != dtype:
            if not (x.dtype.kind == "f" and dtype.kind == "f") and x.dtype.name != dtype.name:
                # float -> float keeps the values, and so does a byte-order change (big-endian files)
                raise ValueError(
                    f"{where} has dtype {x.dtype}; this {self.modality} export takes the files' own {dtype} values "
                    f"for '{self.input_name}' ({_scaling_text(self.reader)}). Pass the array as read from the file, "
                    "or pass arrays already read by biocnn's readers without raw=True."
                )
            x = x.astype(dtype)

        def fits(shape):
            return len(shape) == len(expected) and all(e is None or e == g for e, g in zip(expected, shape))

        if fits(x.shape):
            x = x[None]
        elif expected[-1] == 1 and x.ndim == len(expected) and fits((*x.shape[1:], 1)):
            x = x[..., None]
        if x.ndim != len(expected) + 1 or not fits(x.shape[1:]):
            raise ValueError(self.raw_shape_message(x.shape[1:] if x.ndim == len(expected) + 1 else x.shape, where))
        channels = (self.reader or {}).get("channels")
        if channels and x.shape[-1] <= max(channels):
            raise ValueError(
                f"{where} has {x.shape[-1]} channel(s) (last axis); this export keeps channels {channels} as in "
                f"training, so it needs at least {max(channels) + 1}, channels last."
            )
        if (self.reader or {}).get("nan_policy") == "raise":
            _check_finite(x, names)
        return x

    def shape_message(self, got, where="the input"):
        """The error for a sample of shape ``got``: the expected shape and how to get it."""
        expected = self.input_shape
        spatial, channels = expected[:-1], expected[-1]
        words = _SHAPE_WORDS[self.modality]
        hint = ""
        if len(got) == len(expected) and tuple(got[:-1]) != tuple(spatial):
            hint = (f" Resize to {' x '.join(map(str, spatial))} first (pipelines/predict.py --resize; "
                    "biocnn.data.preprocess.resize in Python), as in training.")
        elif len(got) == len(expected) and got[-1] != channels:
            hint = f" Give {channels} channel(s) (select or convert the channels as in training)."
        return (f"{where} has shape {tuple(got)}; this {self.modality} export takes '{self.input_name}' of shape "
                f"({', '.join(words)}, C) = {tuple(expected)} per sample.{hint}")

    def raw_shape_message(self, got, where="the input"):
        """The error for a raw sample of shape ``got`` (``serving_default``): the layout and how to get it."""
        expected = self.raw_shape
        words = _SHAPE_WORDS[self.modality]
        shown = tuple("any" if e is None else e for e in expected)
        hint = ""
        got = tuple(got)
        if len(got) == len(expected) and expected[-1] is not None and got[-1] != expected[-1]:
            if got[0] == expected[-1]:
                hint = (" It looks channels-first; this export takes channels last: move the channel axis "
                        "(np.moveaxis(x, 1, -1) on a batch).")
            else:
                hint = f" Give {expected[-1]} channel(s), channels last."
        elif len(got) != len(expected):
            hint = f" Give {len(expected)} axes per sample ({', '.join(words)}, C), channels last."
        elif self.reader and self.reader.get("resize_to") is None:
            hint = (f" This model was trained without resizing; resize to {' x '.join(map(str, expected[:-1]))} "
                    "first, as the training data were.")
        return (f"{where} has shape {got}; this {self.modality} export takes '{self.input_name}' of shape "
                f"({', '.join(words)}, C) = {shown} per sample ({self.raw_dtype}, channels last).{hint}")

    def _signature_for(self, raw):
        if raw or self.modality == "sequence" or "prepared" not in self._saved.signatures:
            return "serving_default"
        return "prepared"

    def _run(self, signature, inputs, names, batch_size, raw):
        data = self.check(inputs, names, raw=raw)
        function = self._saved.signatures[signature]
        parts = []
        for start in range(0, len(data), batch_size):
            batch = data[start:start + batch_size]
            tensor = tf.constant(batch, tf.string) if self.modality == "sequence" else tf.constant(batch)
            parts.append({k: v.numpy() for k, v in function(**{self.input_name: tensor}).items()})
        if not parts:
            raise ValueError("No inputs to predict on.")
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def __call__(self, inputs, names=None, batch_size=256, raw=False):
        """Class probabilities of inputs.

        Args:
            inputs, names, raw: see :meth:`check`.
            batch_size: samples per call of the SavedModel.

        Returns:
            dict: ``probabilities`` (N, K) float32, ``class_index`` (N,) int64, ``class_name``
            (N,) str.

        Raises:
            ValueError: see :meth:`check`; or no inputs.
        """
        result = self._run(self._signature_for(raw), inputs, names, batch_size, raw)
        result["class_name"] = np.array([c.decode() for c in result["class_name"]], dtype=object)
        return result

    def embed(self, inputs, names=None, batch_size=256):
        """The ``embeddings`` signature's output ``(N, D)`` on raw inputs, the input of the last Dense layer.

        Raises:
            ValueError: see :meth:`check` (with ``raw=True``); or the export has no
                ``embeddings`` signature.
        """
        if "embeddings" not in self._saved.signatures:
            raise ValueError(f"The export '{self.path}' has no 'embeddings' signature (exported with embeddings=False).")
        return self._run("embeddings", inputs, names, batch_size, raw=True)["embedding"]


def _check_finite(x, names):
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.dtype.kind == "f" else np.zeros(len(x), bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        which = names[i] if names is not None else f"sample {i + 1}"
        raise ValueError(f"{which} has NaN or infinite values; replace them before predicting.")


def _scaling_text(reader):
    if not reader:
        return "values unchanged"
    dtype = np.dtype(reader["raw_dtype"])
    if dtype.kind in "iu" and reader.get("scale_integers", True):
        return f"divided by {np.iinfo(dtype).max} in the graph"
    return "values as in the files"


def load(path, trust_export=False):
    """Load a biocnn export: a callable on inputs that carries the export's metadata.

    The SavedModel's graph is checked first (:func:`biocnn.export.check_graph`): an export whose
    graph could read or write files, or run Python, is refused with a line naming the operation.

    Args:
        path: the export directory written by :func:`save` or :func:`from_run`.
        trust_export: skip that check (``--trust-export``), for exports from a source you trust.

    Returns:
        an :class:`ExportedModel`: ``model(inputs)`` gives probabilities, class indices and
        names; ``model.metadata`` is the export's metadata.

    Raises:
        FileNotFoundError: no such directory.
        ValueError: not a biocnn export (no ``biocnn_export.json``), a damaged one, or a graph
            with an operation outside the allowlist.

    Example:
        >>> load("/tmp")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: '/tmp' is not a biocnn export: it has no biocnn_export.json. ...
    """
    return ExportedModel(path, trust_export=trust_export)


# --- from a run directory ----------------------------------------------------------------------


def _before_graph(config):
    """The reader steps of a run (outside its model), from its config.json."""
    if config.get("encoding"):
        return {}
    if isinstance(config.get("preprocessing"), dict):  # volumes
        return {"reader": "biocnn.data.read_volume", "volume_preprocessing": config["preprocessing"]}
    inputs = rundir.inputs_of(config)
    return {
        "reader": "biocnn.data.load_image",
        "intensity_scaling": "integer images divided by their dtype maximum (uint8 / 255, uint16 / 65535); "
                             "float images unchanged",
        "resize_to": inputs.get("size"),
        "channels": inputs.get("channels"),
    }


def from_run(run_dir, export_dir, overwrite=False, embeddings="auto", *, raw_dtype=None):
    """Export the model of a finished run directory with its class names, encoding and metrics.

    What every training pipeline's ``--export DIR`` does: reads ``model.keras``,
    ``config.json`` (class names, encoding, reader steps, seed, data summary) and
    ``metrics.json``, and calls :func:`save` with the run's reader steps in the graph
    (:func:`biocnn.export.runfacts.reader_of_run`) and the facts a model card needs.

    Args:
        run_dir: a run directory written by :func:`biocnn.experiment.train_and_evaluate`.
        export_dir: the export directory to write.
        overwrite: replace a previous biocnn export in ``export_dir``.
        embeddings: as for :func:`save`.
        raw_dtype: the dtype of the run's files (e.g. ``"uint16"``), when the run did not record
            it and its data are not where the run read them.

    Returns:
        dict: the export's metadata.

    Raises:
        FileNotFoundError: ``run_dir`` does not exist.
        ValueError: ``run_dir`` is not a biocnn run or has no ``model.keras`` yet.
        FileExistsError: as for :func:`save`.

    Example:
        >>> from_run("runs/splice", "exports/splice")  # doctest: +SKIP
    """
    run_dir = os.path.abspath(os.fspath(run_dir))
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"No such run directory: '{run_dir}'.")
    config = rundir.read_config(run_dir)
    model_path = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(model_path):
        raise ValueError(
            f"'{run_dir}' has no model.keras: its training has not finished. Finish it (rerun the pipeline with "
            "--resume), then export."
        )
    check_target(export_dir, overwrite)  # before the (slow) model load
    metrics = rundir.read_metrics(run_dir, required=False)
    model = keras.saving.load_model(model_path, compile=False)
    encoding = config.get("encoding") or None
    reader, facts = None, card_facts(config)
    modality = _RANK_MODALITY.get(len(model.input_shape) - 2) if encoding is None else None
    if modality is not None:
        if raw_dtype is not None:
            config = {**config, "inputs": {**rundir.inputs_of(config), "raw_dtype": str(np.dtype(raw_dtype))}}
        reader, found_in = reader_of_run(config, modality)
        facts["raw_dtype_from"] = "given (raw_dtype=)" if raw_dtype is not None else found_in
    source = {
        "run_directory": run_dir,
        "model_file": "model.keras",
        "model": config.get("model"),
        "command": config.get("command"),
        "training": config.get("training"),
        "trained_with_augmentation": config.get("augmentation") is not None,
        "training_versions": config.get("versions"),
    }
    return save(
        model, export_dir,
        class_names=config.get("class_names"),
        encoding=encoding,
        rc_average=bool((config.get("test_time") or {}).get("rc_average", False)),
        tta=(config.get("test_time") or {}).get("tta"),
        embeddings=embeddings,
        reader=reader,
        before_graph=_before_graph(config),
        run=facts,
        metrics=metrics,
        data=config.get("data"),
        seed=config.get("seed"),
        source=source,
        overwrite=overwrite,
    )


# --- from several run directories: a seed or fold ensemble -------------------------------------

#: The sub-folders of a parent run (``--seeds``, ``biocnn cv``) that are ensemble members.
MEMBER_PREFIXES = ("seed_", "fold_")


def ensemble_members(paths):
    """The run directories that ``paths`` name: each path a run (``model.keras``) or a parent of
    ``seed_K/`` or ``fold_K/`` runs (``--seeds``, ``biocnn cv``), in numeric order.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a path that is neither a finished run nor a parent of runs; a member named twice.

    Example:
        >>> ensemble_members(["runs/seeds"])  # doctest: +SKIP
        ['/.../runs/seeds/seed_0', '/.../runs/seeds/seed_1', '/.../runs/seeds/seed_2']
    """
    members = []
    for path in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        path = os.path.abspath(os.fspath(path))
        if not os.path.isdir(path):
            raise FileNotFoundError(f"No such run directory: '{path}'.")
        if os.path.isfile(os.path.join(path, "model.keras")):
            members.append(path)
            continue
        subs = [d for d in os.listdir(path) if d.startswith(MEMBER_PREFIXES) and d.split("_", 1)[1].isdigit()
                and os.path.isdir(os.path.join(path, d))]
        if not subs:
            raise ValueError(f"'{path}' is neither a finished run (no model.keras) nor a parent of seed_K/ or fold_K/ "
                             "runs; give a training command's --out.")
        for sub in sorted(subs, key=lambda d: (d.split("_", 1)[0], int(d.split("_", 1)[1]))):
            member = os.path.join(path, sub)
            if not os.path.isfile(os.path.join(member, "model.keras")):
                raise ValueError(f"'{member}' has no model.keras: its training has not finished. Finish it "
                                 "(rerun with --resume), then use the ensemble.")
            members.append(member)
    repeated = sorted({m for m in members if members.count(m) > 1})
    if repeated:
        raise ValueError(f"The run '{repeated[0]}' is named twice; give each member once.")
    return members


def _member_facts(config, model):
    """What every member of an ensemble must share: field -> value."""
    inputs = config.get("inputs") or {}
    test_time = config.get("test_time") or {}
    return {
        "class_names": config.get("class_names"),
        "encoding": config.get("encoding") or None,
        "preprocessing": config.get("preprocessing") if isinstance(config.get("preprocessing"), dict) else None,
        "inputs.size": inputs.get("size"),
        "inputs.channels": inputs.get("channels"),
        "inputs.raw_dtype": inputs.get("raw_dtype"),
        "model input shape": [int(d) for d in model.input_shape[1:]],
        "model output shape": [int(d) for d in model.output_shape[1:]],
        "test_time.tta": test_time.get("tta"),
        "test_time.rc_average": bool(test_time.get("rc_average", False)),
    }


def from_runs(runs, export_dir, overwrite=False, *, tta="recorded", raw_dtype=None):
    """Export a seed or fold ensemble: one SavedModel serving the mean of the members' probabilities.

    Every member is a finished run directory (:func:`ensemble_members`: a run, or a parent of
    ``seed_K``/``fold_K`` runs). They must share classes, inputs and preprocessing outside the
    model, model input and output shapes, and test-time views; each keeps its own in-model
    normalisation. One member is exported as :func:`from_run` would (with ``tta`` applied).

    Args:
        runs: run directories and/or parents of member runs.
        export_dir: the export directory to write.
        overwrite: replace a previous biocnn export there.
        tta: ``"recorded"``: the views the members were scored with; or a ``--tta`` spec
            (:func:`biocnn.tta.resolve`) to serve instead (``"none"``: no views).
        raw_dtype: as for :func:`from_run`.

    Returns:
        dict: the export's metadata (``source.ensemble`` lists the members).

    Raises:
        ValueError: a member differs from the first in one of those fields (the message names
            the member, the field and both values), a member whose outputs are logits, or what
            :func:`ensemble_members` raises.

    Example:
        >>> from_runs(["runs/splice_seeds"], "exports/splice_ensemble")  # doctest: +SKIP
    """
    from biocnn.models.ensemble import ensemble

    members = ensemble_members(runs)
    check_target(export_dir, overwrite)
    configs = [rundir.read_config(m) for m in members]
    models = [keras.saving.load_model(os.path.join(m, "model.keras"), compile=False) for m in members]
    facts = [_member_facts(c, m) for c, m in zip(configs, models)]
    override = tta != "recorded"
    for member, fact in zip(members[1:], facts[1:]):
        for field, value in fact.items():
            if value != facts[0][field] and not (override and field.startswith("test_time")):
                raise ValueError(
                    f"ensemble: member '{member}' differs from '{members[0]}' in {field}: {value!r} vs "
                    f"{facts[0][field]!r}. An ensemble averages models of the same classes and inputs; leave that "
                    "member out.")
    kinds = {_output_kind(m, "auto") for m in models}
    if "logits" in kinds:
        raise ValueError(f"ensemble: the members {[m for m, k in zip(members, models) if _output_kind(k, 'auto') == 'logits']} "
                         "give logits; an ensemble averages probabilities (softmax or sigmoid outputs).")
    config = configs[0]
    encoding = config.get("encoding") or None
    if override:
        shape = models[0].input_shape[1:]
        tta = tta_module.resolve(tta, rank=len(shape) - 1, channels=shape[-1],
                                 alphabet=(encoding or {}).get("alphabet"))
        rc_average = bool(tta and tta["spec"] == "rc")
    else:
        tta, rc_average = facts[0]["test_time.tta"], facts[0]["test_time.rc_average"]
    reader, card = None, card_facts(config)
    modality = _RANK_MODALITY.get(len(models[0].input_shape) - 2) if encoding is None else None
    if modality is not None:
        if raw_dtype is not None:
            config = {**config, "inputs": {**(config.get("inputs") or {}), "raw_dtype": str(np.dtype(raw_dtype))}}
        reader, _ = reader_of_run(config, modality)
    metrics = {}
    for member in members:
        test = (rundir.read_metrics(member, required=False) or {}).get("test") or {}
        metrics[os.path.basename(member)] = {k: v for k, v in test.items() if k != "per_class"}
    single = len(models) == 1
    return save(
        models[0] if single else ensemble(models), export_dir,
        class_names=config.get("class_names"), encoding=encoding, rc_average=rc_average, tta=tta,
        outputs="probabilities", embeddings="auto" if single else False, reader=reader,
        before_graph=_before_graph(config), run=card, metrics={"members": metrics}, data=config.get("data"),
        seed=[c.get("seed") for c in configs] if not single else config.get("seed"),
        source={"ensemble": members, "members": len(members), "model": config.get("model"),
                "training": config.get("training"), "command": config.get("command")},
        overwrite=overwrite,
    )
