"""TensorFlow SavedModels that downstream tools can trust, and loading them back.

:func:`save` writes a model through ``keras.export.ExportArchive`` and calls every layer with
``training=False``. (A plain ``model.export()`` leaves the flag to each layer's default, and
Keras's own augmentation layers default to training mode, so its served outputs are random.)
The ``serving_default`` signature's input and outputs are named and typed:

* input, by modality: ``sequence`` tf.string ``[None]`` (raw text, one-hot encoded in the
  graph); ``image`` float32 ``[None, H, W, C]``; ``volume`` float32 ``[None, D, H, W, C]``;
  ``signal`` float32 ``[None, L, C]`` (1D data without an encoding);
* outputs: ``probabilities`` float32 ``[None, K]``, ``class_index`` int64 ``[None]`` and
  ``class_name`` tf.string ``[None]``.

An optional ``embeddings`` signature (same input, output ``embedding``) returns the features
that feed the last Dense layer; sequence exports also have ``encoded`` (input ``one_hot``,
float32 ``[None, L, channels]``) for tools that encode themselves and for TFLite.

In-model preprocessing (normalisation fitted on the training split, percentile clipping)
is part of the graph, so a caller feeds raw intensities; reader steps outside the model
(resizing, channel choice, a CT window) are recorded in the metadata under
``preprocessing.before_graph``. Writes are atomic: the export is built in a temporary folder
next to ``path`` and renamed into place only when complete.
"""

import contextlib
import json
import os
import shutil
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from biocnn.data.encoding import Encoding, validate_sequence
from biocnn.data.preprocess import PercentileClip
from biocnn.export import metadata as metadata_module
from biocnn.export.sequence_graph import encode_sequences

__all__ = ["ExportedModel", "check_target", "from_run", "load", "save"]

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
def _atomic_folder(path, overwrite):
    """Yield a temporary folder next to ``path``; move it onto ``path`` if the block succeeds."""
    path = os.path.abspath(os.fspath(path))
    check_target(path, overwrite)
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
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for name in (metadata_module.SIDECAR, metadata_module.ASSET):
        os.chmod(os.path.join(folder, name), 0o666 & ~umask)


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


def _describe_input(modality, shape, encoding):
    words = _SHAPE_WORDS[modality]
    spatial, channels = shape[:-1], shape[-1]
    sizes = " x ".join(str(s) for s in spatial)
    if modality == "sequence":
        return (f"a batch of raw {encoding.alphabet.upper()} strings (any case, IUPAC codes allowed), "
                f"cropped/padded in the graph to {spatial[0]} ({encoding.align}-aligned)"
                if encoding.length is not None else
                f"a batch of raw {encoding.alphabet.upper()} strings of exactly {spatial[0]} letters (any case)")
    return (f"float32 batch (N, {', '.join(words)}, C) = (N, {', '.join(map(str, shape))}): {sizes} "
            f"{'voxels' if modality == 'volume' else 'pixels' if modality == 'image' else 'steps'}, "
            f"{channels} channel(s) last, raw intensities as biocnn's readers give them")


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


# --- save --------------------------------------------------------------------------------------


def save(model, path, *, class_names=None, encoding=None, preprocessing=None, rc_average=False,
         outputs="auto", embeddings="auto", before_graph=None, metrics=None, data=None, seed=None,
         source=None, overwrite=False):
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
        before_graph: reader steps a caller must repeat before the graph, for the metadata
            and for :func:`biocnn.export.predict_files`: images ``{"resize_to": [H, W],
            "channels": [0, 2]}``, volumes ``{"volume_preprocessing":
            VolumePreprocessing(...).to_dict()}``.
        metrics, data, seed: the training run's metrics, data summary and seed, for the metadata.
        source: where the model came from (e.g. the run directory), for the metadata.
        overwrite: replace a previous biocnn export in ``path``.

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
    head = _head(model, preprocessing, kind, out_shape[-1] == 1, rc_average, class_names)
    spec, numeric_spec, to_model_input = _input_specs(modality, shape, encoding)
    embed = _embedding(model, preprocessing, embeddings)

    archive = keras.export.ExportArchive()
    archive.track(model)
    if preprocessing is not None:
        archive.track(preprocessing)
    archive.add_endpoint("serving_default", lambda x: head(to_model_input(x)), input_signature=[spec])
    signatures = {"serving_default": _signature_doc(spec, class_names)}
    if embed is not None:
        endpoint = archive.add_endpoint(
            "embeddings", lambda x: {"embedding": tf.cast(embed(to_model_input(x)), tf.float32)}, input_signature=[spec])
        width = endpoint.get_concrete_function().structured_outputs["embedding"].shape[-1]
        signatures["embeddings"] = _signature_doc(spec, embedding_width=width)
    if modality == "sequence":
        archive.add_endpoint("encoded", head, input_signature=[numeric_spec])
        signatures["encoded"] = _signature_doc(numeric_spec, class_names)

    from biocnn.experiment import versions  # lazily: it pulls in plotting

    info = {
        "modality": modality,
        "class_names": class_names,
        "signatures": signatures,
        "input": {
            "name": spec.name,
            "dtype": spec.dtype.name,
            "shape": [None, *shape] if modality != "sequence" else [None],
            "model_input_shape": [None, *shape],
            "description": _describe_input(modality, shape, encoding),
        },
        "encoding": None if encoding is None else encoding.to_dict(),
        "outputs": {"model_outputs": kind, "rc_average": bool(rc_average),
                    "binary_sigmoid_expanded": out_shape[-1] == 1},
        "preprocessing": {
            "in_graph": ([{"step": "one_hot", "encoding": encoding.to_dict()}] if encoding is not None else [])
            + _in_graph_steps(preprocessing, model),
            "before_graph": before_graph or {},
        },
        "training": {"seed": seed, "data": data, "metrics": metrics},
        "model": {"name": model.name, "parameters": int(model.count_params())},
        "source": source,
        "versions": versions(),
    }
    with _atomic_folder(path, overwrite) as tmp:
        archive.write_out(tmp, verbose=False)
        written = metadata_module.write(tmp, info)
    return written


def _head(model, preprocessing, kind, one_sigmoid, rc_average, class_names):
    """x (model input) -> the named outputs, every layer in inference mode."""

    def scores(x):
        y = model(preprocessing(x, training=False) if preprocessing is not None else x, training=False)
        y = tf.cast(y, tf.float32)
        y = tf.nn.softmax(y, axis=-1) if kind == "logits" else y
        return tf.concat([1.0 - y, y], axis=-1) if one_sigmoid else y

    def head(x):
        # Reverse complement of an ACGT/ACGU one-hot: reverse the length and the channel axes.
        probabilities = (scores(x) + scores(x[:, ::-1, ::-1])) / 2.0 if rc_average else scores(x)
        index = tf.argmax(probabilities, axis=-1)
        return {
            "probabilities": probabilities,
            "class_index": index,
            "class_name": tf.gather(tf.constant(class_names), index),
        }

    return head


def _input_specs(modality, shape, encoding):
    """The served input's spec, the model's numeric spec, and the function between them."""
    numeric = tf.TensorSpec((None, *shape), tf.float32, name="one_hot" if modality == "sequence" else INPUT_NAMES[modality])
    if modality != "sequence":
        return numeric, numeric, lambda x: x
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
    """A biocnn export loaded with TensorFlow: call it on raw inputs, read its metadata.

    Calling it checks the inputs against the export's spec first, so a wrong shape or a letter
    outside the alphabet is a ``ValueError`` that names the sample and says what was expected,
    not a TensorFlow error from inside the graph.

    Args:
        path: the export directory.

    Attributes:
        path: the export directory (absolute).
        metadata: the dict of ``biocnn_export.json``.
        class_names: the class names in output order.
        modality: ``"sequence"``, ``"image"``, ``"volume"`` or ``"signal"``.
        input_name: the ``serving_default`` input's name.
        encoding: the :class:`biocnn.data.Encoding` of a sequence export, else None.
        input_shape: the model's per-sample input shape (for sequences, after encoding).

    Raises:
        FileNotFoundError: no such directory.
        ValueError: the directory is not a biocnn export.

    Example:
        >>> import keras, tempfile
        >>> net = keras.Sequential([keras.Input((6, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
        >>> path = tempfile.mkdtemp() + "/signal"
        >>> _ = save(net, path)
        >>> print(load(path)(np.zeros((3, 6, 1), "float32"))["probabilities"].shape)
        (3, 2)
    """

    def __init__(self, path):
        self.path = os.path.abspath(os.fspath(path))
        self.metadata = metadata_module.read(self.path)
        self._saved = tf.saved_model.load(self.path)
        self.class_names = list(self.metadata["class_names"])
        self.modality = self.metadata["modality"]
        self.input_name = self.metadata["input"]["name"]
        encoding = self.metadata.get("encoding")
        self.encoding = Encoding.from_dict(encoding) if encoding else None
        self.input_shape = tuple(self.metadata["input"]["model_input_shape"][1:])

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

    def check(self, inputs, names=None):
        """Inputs as the ``serving_default`` signature takes them, or a ValueError saying why not.

        Args:
            inputs: for a sequence export, a str or a list of str; otherwise an array
                ``(N, *spatial, C)`` (one sample without the batch axis, and a missing
                channel axis when C is 1, are accepted).
            names: optional names of the samples, for error messages.

        Returns:
            a list of str (sequences) or a float32 array ``(N, *spatial, C)``.

        Raises:
            ValueError: strings for an image export or arrays for a sequence export, a letter
                outside the alphabet, a sequence of the wrong length (when the model has no
                crop/pad length), a wrong shape, or non-finite values.
        """
        if self.modality == "sequence":
            return self._check_sequences(inputs, names)
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
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.dtype.kind == "f" else np.zeros(len(x), bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            which = names[i] if names is not None else f"sample {i + 1}"
            raise ValueError(f"{which} has NaN or infinite values; replace them before predicting.")
        return x.astype(np.float32, copy=False)

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

    def _run(self, signature, inputs, names, batch_size):
        data = self.check(inputs, names)
        function = self._saved.signatures[signature]
        parts = []
        for start in range(0, len(data), batch_size):
            batch = data[start:start + batch_size]
            tensor = tf.constant(batch, tf.string) if self.modality == "sequence" else tf.constant(batch)
            parts.append({k: v.numpy() for k, v in function(**{self.input_name: tensor}).items()})
        if not parts:
            raise ValueError("No inputs to predict on.")
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def __call__(self, inputs, names=None, batch_size=256):
        """Class probabilities of raw inputs, via the ``serving_default`` signature.

        Args:
            inputs, names: see :meth:`check`.
            batch_size: samples per call of the SavedModel.

        Returns:
            dict: ``probabilities`` (N, K) float32, ``class_index`` (N,) int64, ``class_name``
            (N,) str.

        Raises:
            ValueError: see :meth:`check`; or no inputs.
        """
        result = self._run("serving_default", inputs, names, batch_size)
        result["class_name"] = np.array([c.decode() for c in result["class_name"]], dtype=object)
        return result

    def embed(self, inputs, names=None, batch_size=256):
        """The ``embeddings`` signature's output ``(N, D)``, the input of the last Dense layer.

        Raises:
            ValueError: see :meth:`check`; or the export has no ``embeddings`` signature.
        """
        if "embeddings" not in self._saved.signatures:
            raise ValueError(f"The export '{self.path}' has no 'embeddings' signature (exported with embeddings=False).")
        return self._run("embeddings", inputs, names, batch_size)["embedding"]


def load(path):
    """Load a biocnn export: a callable on raw inputs that carries the export's metadata.

    Args:
        path: the export directory written by :func:`save` or :func:`from_run`.

    Returns:
        an :class:`ExportedModel`: ``model(inputs)`` gives probabilities, class indices and
        names; ``model.metadata`` is the export's metadata.

    Raises:
        FileNotFoundError: no such directory.
        ValueError: not a biocnn export (no ``biocnn_export.json``), or a damaged one.

    Example:
        >>> load("/tmp")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: '/tmp' is not a biocnn export: it has no biocnn_export.json. ...
    """
    return ExportedModel(path)


# --- from a run directory ----------------------------------------------------------------------


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _before_graph(config):
    """The reader steps of a run (outside its model), from its config.json."""
    if config.get("encoding"):
        return {}
    if isinstance(config.get("preprocessing"), dict):  # volumes
        return {"reader": "biocnn.data.read_volume", "volume_preprocessing": config["preprocessing"]}
    inputs = config.get("inputs") or {}
    return {
        "reader": "biocnn.data.load_image",
        "intensity_scaling": "integer images divided by their dtype maximum (uint8 / 255, uint16 / 65535); "
                             "float images unchanged",
        "resize_to": inputs.get("size"),
        "channels": inputs.get("channels"),
    }


def from_run(run_dir, export_dir, overwrite=False, embeddings="auto"):
    """Export the model of a finished run directory with its class names, encoding and metrics.

    What every training pipeline's ``--export DIR`` does: reads ``model.keras``,
    ``config.json`` (class names, encoding, reader steps, seed, data summary) and
    ``metrics.json``, and calls :func:`save`.

    Args:
        run_dir: a run directory written by :func:`biocnn.experiment.train_and_evaluate`.
        export_dir: the export directory to write.
        overwrite: replace a previous biocnn export in ``export_dir``.
        embeddings: as for :func:`save`.

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
    config_path = os.path.join(run_dir, "config.json")
    model_path = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(config_path):
        raise ValueError(f"'{run_dir}' is not a biocnn run directory (no config.json). Give a pipeline's --out folder.")
    if not os.path.isfile(model_path):
        raise ValueError(
            f"'{run_dir}' has no model.keras: its training has not finished. Finish it (rerun the pipeline with "
            "--resume), then export."
        )
    check_target(export_dir, overwrite)  # before the (slow) model load
    config = _read_json(config_path)
    metrics_path = os.path.join(run_dir, "metrics.json")
    metrics = _read_json(metrics_path) if os.path.isfile(metrics_path) else None
    model = keras.saving.load_model(model_path, compile=False)
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
        encoding=config.get("encoding") or None,
        rc_average=bool((config.get("test_time") or {}).get("rc_average", False)),
        embeddings=embeddings,
        before_graph=_before_graph(config),
        metrics=metrics,
        data=config.get("data"),
        seed=config.get("seed"),
        source=source,
        overwrite=overwrite,
    )
