"""Test-time augmentation: average a classifier's outputs over mirrored views of each input.

A *view* is the set of tensor axes of ``x`` (batch axis 0) that are reversed; one rank-generic
implementation, :func:`average`, serves every modality:

- images and volumes (``flips``): every combination of flips of the spatial axes (4 views in
  2D, 8 in 3D); ``flips=2,3`` only the combinations of those spatial axes (e.g. in-plane only
  for anisotropic volumes). Classes of microscopy and scans do not depend on orientation, so
  this is a cheap, common gain (MedMNIST-style and Kaggle pipelines call it TTA).
- one-hot DNA/RNA (``rc``): the forward strand and the reverse complement, which for an ACGT
  (ACGU) one-hot is the length axis and the channel axis reversed together (view ``(1, 2)``,
  :func:`biocnn.data.reverse_complement`). Not for strand-specific tasks such as splice sites.

``--tta`` on a training command (:func:`resolve` reads its spec: ``auto`` the modality's natural
set, ``flips``, ``flips=AXES``, ``rc``, ``none``) evaluates the run with the views
(:func:`biocnn.experiment.train_and_evaluate`), records them in ``config.json`` under
``test_time``, and the run's export averages the same views inside its graph
(:func:`biocnn.export.save`'s ``tta``). :func:`with_tta` wraps a model as a Keras model that
averages the views (``.keras``-serialisable, via :class:`TestTimeAugmentation`).
"""

import itertools
import warnings

import keras
import numpy as np

__all__ = ["SPECS", "TRAINED_VIEWS", "TestTimeAugmentation", "average", "describe", "flip_views", "predict_flips",
           "resolve", "trained_on_views", "with_tta"]

#: The named view sets of ``--tta`` (``flips=AXES`` also).
SPECS = ("auto", "flips", "rc", "none")


def flip_views(rank, axes=None):
    """Every subset of the spatial axes ``axes`` (default all ``rank``; 1-based, after the batch axis).

    Example:
        >>> flip_views(2)
        [(), (1,), (2,), (1, 2)]
        >>> flip_views(3, axes=(2, 3))
        [(), (2,), (3,), (2, 3)]
    """
    axes = tuple(range(1, rank + 1)) if axes is None else tuple(axes)
    return [combo for r in range(len(axes) + 1) for combo in itertools.combinations(axes, r)]


def resolve(spec, *, rank, channels, alphabet=None):
    """The views of a ``--tta`` spec for inputs of ``rank`` spatial axes and ``channels`` channels.

    Args:
        spec: None or ``"none"`` (off), ``"auto"`` (reverse complement for one-hot DNA/RNA,
            every flip for images and volumes), ``"flips"``, ``"flips=AXES"`` (comma-separated
            spatial axes, 1-based), or ``"rc"``.
        rank: spatial axes of one input (1, 2 or 3).
        channels: channels of one input.
        alphabet: a sequence model's alphabet (``"dna"``, ``"rna"``, ``"protein"``), or None.

    Returns:
        ``{"spec": the spec resolved, "views": [[axes], ...]}``, or None when off.

    Raises:
        ValueError: an unknown spec, axes outside ``1..rank``, or ``rc`` for inputs that are not
            one-hot DNA/RNA. ``auto`` where no set is natural (protein, 1D signals) warns and
            returns None.

    Example:
        >>> resolve("auto", rank=2, channels=3)["views"]
        [[], [1], [2], [1, 2]]
        >>> resolve("auto", rank=1, channels=4, alphabet="dna")
        {'spec': 'rc', 'views': [[], [1, 2]]}
    """
    if spec is None or spec == "none":
        return None
    spec = str(spec).strip()
    nucleic = rank == 1 and channels == 4 and alphabet in ("dna", "rna")
    if spec == "auto":
        if nucleic:
            spec = "rc"
        elif rank >= 2:
            spec = "flips"
        else:  # e.g. protein: a modality default of "auto" must not stop the run
            warnings.warn(
                f"--tta: no natural test-time views for {rank}D inputs with {channels} channel(s)"
                f"{f' ({alphabet})' if alphabet else ''} (the reverse complement needs one-hot DNA/RNA); scored "
                "without test-time augmentation. Give --tta flips to average the sequence and its reversal.",
                stacklevel=2)
            return None
    if spec == "rc":
        if not nucleic:
            raise ValueError(
                f"--tta rc: the reverse complement needs one-hot DNA/RNA (length, 4) inputs; these are {rank}D with "
                f"{channels} channel(s){f' ({alphabet})' if alphabet else ''}. Use --tta flips, or leave --tta out.")
        return {"spec": "rc", "views": [[], [1, 2]]}
    name, equals, listed = spec.partition("=")
    if name != "flips":
        raise ValueError(f"--tta: unknown spec {spec!r}; one of {', '.join(SPECS)} or flips=AXES (e.g. flips=2,3).")
    axes = None
    if equals:
        try:
            axes = sorted({int(a) for a in listed.split(",") if a.strip()})
        except ValueError:
            raise ValueError(f"--tta {spec}: AXES must be comma-separated integers, e.g. flips=1,2.") from None
        if not axes or axes[0] < 1 or axes[-1] > rank:
            raise ValueError(f"--tta {spec}: the spatial axes of {rank}D inputs are 1..{rank}; got {listed!r}.")
    return {"spec": spec, "views": [list(v) for v in flip_views(rank, axes)]}


#: The training augmentations that show a model the views of each spec (class names).
TRAINED_VIEWS = {"rc": ("ReverseComplement",), "flips": ("RandomFlip", "RandomRot90")}


def trained_on_views(augmentation, tta):
    """Whether a serialised training augmentation (``config.json``'s ``augmentation``) showed the
    model the views of ``tta``: flips need a flip (or 90-degree rotation), ``rc`` a reverse complement.

    Views a model never saw can cost accuracy: on BreastMNIST, LeNet-5 trained without flips lost
    0.05 test accuracy to flip TTA (README, "Seeds, test-time augmentation and ensembles").

    Example:
        >>> trained_on_views({"class_name": "RandomFlip"}, {"spec": "flips", "views": [[], [1]]})
        True
        >>> trained_on_views(None, {"spec": "rc", "views": [[], [1, 2]]})
        False
    """
    wanted = TRAINED_VIEWS["rc" if tta["spec"] == "rc" else "flips"]

    def found(value):
        if isinstance(value, dict):
            return value.get("class_name") in wanted or any(found(v) for v in value.values())
        if isinstance(value, list):
            return any(found(v) for v in value)
        return False

    return found(augmentation)


def describe(tta):
    """One phrase for a resolved TTA (``None``: ``"off"``).

    Example:
        >>> describe(resolve("flips", rank=2, channels=1))
        'flips (4 views)'
    """
    if not tta:
        return "off"
    if tta["spec"] == "rc":
        return "rc (forward and reverse-complement strands)"
    return f"{tta['spec']} ({len(tta['views'])} views)"


def _views(views):
    views = [tuple(int(a) for a in v) for v in views]
    if not views:
        raise ValueError("test-time augmentation needs at least one view (the identity is ()).")
    return views


def average(function, x, views):
    """The mean of ``function`` over the views of ``x``: ``mean_v function(flip(x, v))``.

    The one implementation behind evaluation (:class:`TestTimeAugmentation`) and the export's
    graph (:func:`biocnn.export.save`); ``keras.ops`` only, so it runs in any backend and graph.

    Args:
        function: ``x -> (N, K)`` outputs (a model in inference mode).
        x: a batch, axis 0 the samples.
        views: axes to reverse per view, e.g. ``[(), (1,), (2,), (1, 2)]``.

    Returns:
        The mean of the outputs, as ``function`` returns them (cast to float32).

    Example:
        >>> import numpy as np
        >>> x = np.array([[1.0, 2.0, 3.0]])
        >>> print(keras.ops.convert_to_numpy(average(lambda v: v[:, :1], x, [(), (1,)])))
        [[2.]]
    """
    total = None
    views = _views(views)
    for axes in views:
        out = keras.ops.cast(function(keras.ops.flip(x, axis=axes) if axes else x), "float32")
        total = out if total is None else total + out
    return total / float(len(views))


@keras.saving.register_keras_serializable(package="biocnn")
class TestTimeAugmentation(keras.layers.Layer):
    """A layer that calls ``model`` on every view of its input and averages the outputs.

    The model is always called in inference mode (TTA is a prediction-time device).

    Args:
        model: a Keras model (or layer) taking the inputs.
        views: axes to reverse per view (:func:`resolve`'s ``"views"``).

    Example:
        >>> net = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
        ...                         keras.layers.Dense(2, activation="softmax")])
        >>> layer = TestTimeAugmentation(net, [[], [1], [2], [1, 2]])
        >>> print(layer(np.ones((3, 4, 4, 1), "float32")).shape)
        (3, 2)
    """

    def __init__(self, model, views, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.views = [list(v) for v in _views(views)]

    def call(self, inputs):
        return average(lambda v: self.model(v, training=False), inputs, self.views)

    def compute_output_shape(self, input_shape):
        return self.model.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "model": keras.saving.serialize_keras_object(self.model), "views": self.views}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)


def with_tta(model, views, name=None):
    """``model`` wrapped as a Keras model whose output is the mean over the views.

    Args:
        model: a Keras classifier with one input of known shape.
        views: axes to reverse per view.
        name: the wrapper's name (default ``<model>_tta``).

    Returns:
        a ``keras.Model`` (saved and loaded as ``.keras`` like any other).

    Example:
        >>> net = keras.Sequential([keras.Input((6, 4)), keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> print(with_tta(net, [[], [1, 2]]).output_shape)
        (None, 2)
    """
    inputs = keras.Input(model.input_shape[1:], name=f"{model.name}_tta_input")
    outputs = TestTimeAugmentation(model, views, name="test_time_augmentation")(inputs)
    return keras.Model(inputs, outputs, name=name or f"{model.name}_tta")


def predict_flips(model, x, *, batch_size=256):
    """Mean of ``model``'s outputs over every flip combination of the spatial axes of ``x``.

    Args:
        model: a Keras classifier taking ``(N, *spatial, C)`` (2D or 3D).
        x: the inputs, channels last.
        batch_size: prediction batch size.

    Returns:
        ``(N, K)`` float array: the mean of the model's outputs over the views.

    Raises:
        ValueError: for inputs without at least two spatial axes (use ``rc`` for sequences).

    Example:
        >>> net = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.GlobalAveragePooling2D(),
        ...                         keras.layers.Dense(2, activation="softmax")])
        >>> predict_flips(net, np.ones((3, 4, 4, 1), "float32")).shape
        (3, 2)
    """
    x = np.asarray(x)
    rank = x.ndim - 2
    if rank < 2:
        raise ValueError(f"predict_flips: inputs of shape {x.shape} have {rank} spatial axis; flips are for "
                         f"images and volumes (N, *spatial, C). For sequences use reverse-complement averaging (--tta rc).")
    wrapped = with_tta(model, flip_views(rank))
    return np.asarray(wrapped.predict(x, batch_size=batch_size, verbose=0), dtype="float64")
