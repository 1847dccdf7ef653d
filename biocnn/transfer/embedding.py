"""Embeddings from a trained network, and two uses of them: few-shot and zero-shot classification.

* :func:`embed` -- the features a model computes for some data: its output (a backbone), the
  input of its last layer (a classifier's penultimate features), or any named layer.
* :class:`PrototypeClassifier` -- few-shot learning by class prototypes (Snell et al. 2017,
  "Prototypical networks"): a class is the mean embedding of its few examples, and a query goes
  to the nearest prototype by cosine similarity or Euclidean distance.
* :class:`ConSE` -- zero-shot learning by a convex combination of semantic embeddings (Norouzi et
  al. 2014): a classifier of SEEN classes gives probabilities; the image's semantic vector is the
  probability-weighted mean of the semantic vectors (e.g. word vectors) of its top-k seen classes,
  and the UNSEEN class whose semantic vector is most similar (cosine) wins.
"""

import keras
import numpy as np
import tensorflow as tf
from sklearn.base import BaseEstimator, ClassifierMixin

from biocnn.utils import did_you_mean

__all__ = ["PENULTIMATE", "embed", "PrototypeClassifier", "ConSE"]

#: ``embed(..., layer=PENULTIMATE)``: the input of the model's last layer.
PENULTIMATE = "penultimate"
METRICS = ("cosine", "euclidean")
_EPS = 1e-12  # a zero vector has cosine similarity 0 with everything, not NaN


# --------------------------------------------------------------------------------------------
# embed
# --------------------------------------------------------------------------------------------


def _feature_model(model, layer):
    if layer is None:
        return model
    names = [sub.name for sub in model.layers]
    if layer in names:
        output = model.get_layer(layer).output
    elif layer == PENULTIMATE:
        output = model.layers[-1].input
    else:
        raise ValueError(
            f"embed: model '{model.name}' has no layer '{layer}'.{did_you_mean(layer, names)} Pass "
            f"layer=None for the model's output, layer='{PENULTIMATE}' for the input of its last "
            f"layer, or one of its layer names: {', '.join(names)}."
        )
    if isinstance(output, (list, tuple)):
        raise ValueError(f"embed: layer '{layer}' of model '{model.name}' has {len(output)} tensors; choose a layer with one.")
    return keras.Model(model.inputs, output, name=f"{model.name}_embedding")


def embed(model, data, layer=None, batch_size=256, verbose=0):
    """The features ``model`` computes for ``data``, one row per sample.

    Args:
        model: a built Keras model (a backbone such as ``biocnn.transfer.backbone(...)``, or a
            classifier).
        data: a NumPy array of inputs, or a ``tf.data.Dataset`` of input batches or of
            ``(inputs, labels[, weights])`` batches (labels are ignored).
        layer: None for the model's output; ``"penultimate"`` for the input of the model's last
            layer (a classifier's features before its head); or the name of a layer of
            ``model`` (top level), whose output is taken.
        batch_size: batch size for array data.
        verbose: Keras's ``predict`` verbosity (1: a progress bar with the time left).

    Returns:
        numpy.ndarray of shape ``(n, d)``, float. A feature map ``(n, h, w, c)`` is flattened
        to ``(n, h * w * c)``; take a pooled layer for pooled features.

    Raises:
        ValueError: ``layer`` is not a layer of ``model`` (with the closest name and the valid
            ones), or names a layer with several outputs; ``data`` is neither an array nor a
            ``tf.data.Dataset``.

    Example:
        >>> import keras, numpy as np
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="hidden"),
        ...                           keras.layers.Dense(2, name="head")])
        >>> print(embed(model, np.zeros((5, 4)), layer="hidden").shape)
        (5, 8)
    """
    features = _feature_model(model, layer)
    if isinstance(data, tf.data.Dataset):
        values = features.predict(data.map(lambda *batch: batch[0]), verbose=verbose)  # drop labels
    elif isinstance(data, (np.ndarray, list, tuple)) or hasattr(data, "__array__"):
        values = features.predict(np.asarray(data), batch_size=batch_size, verbose=verbose)
    else:
        raise ValueError(
            f"embed: data must be a NumPy array or a tf.data.Dataset, got {type(data).__name__}."
        )
    values = np.asarray(values)
    return values.reshape(len(values), -1)


# --------------------------------------------------------------------------------------------
# checks shared by the two classifiers
# --------------------------------------------------------------------------------------------


def _matrix(name, value, where):
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{where}: {name} must be a 2D array (samples, features), got shape {array.shape}.")
    return array


def _check_metric(metric):
    if metric not in METRICS:
        raise ValueError(
            f"PrototypeClassifier: unknown metric '{metric}'.{did_you_mean(metric, METRICS)} "
            f"Choose one of: {', '.join(METRICS)}."
        )


def _unit_rows(matrix):
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), _EPS)


def _cosine(a, b):
    """Cosine similarity of every row of ``a`` with every row of ``b``: (len(a), len(b))."""
    return _unit_rows(a) @ _unit_rows(b).T


def _softmax(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------------------------
# Few-shot: class prototypes
# --------------------------------------------------------------------------------------------


class PrototypeClassifier(ClassifierMixin, BaseEstimator):
    """Few-shot classification by class prototypes: the nearest class mean embedding wins.

    A scikit-learn classifier (``fit`` / ``predict`` / ``predict_proba`` / ``score``,
    ``get_params``, ``clone``) over embeddings, e.g. from :func:`embed`.

    Args:
        metric: ``"cosine"`` (largest cosine similarity) or ``"euclidean"`` (smallest
            Euclidean distance; the same decision as ``sklearn.neighbors.NearestCentroid``).
        temperature: divides the scores before the softmax of :meth:`predict_proba`.

    Attributes (after ``fit``):
        classes_: the sorted class labels.
        prototypes_: ``(n_classes, d)`` the mean embedding of each class, in ``classes_`` order.

    ``predict_proba`` is a softmax over the classes of the scores ``s / temperature``, with
    ``s`` the cosine similarity to each prototype (``metric="cosine"``) or the negative
    SQUARED Euclidean distance (``metric="euclidean"``, as in prototypical networks). Its
    argmax is :meth:`predict`'s class.

    Raises:
        ValueError: unknown ``metric`` (with did-you-mean); ``temperature`` not positive;
            embeddings that are not 2D, labels whose length differs from the embeddings' (naming
            both shapes); queries whose width differs from the prototypes'.

    Example:
        >>> import numpy as np
        >>> clf = PrototypeClassifier("euclidean").fit(np.array([[0., 0], [0, 2], [5, 5]]), ["a", "a", "b"])
        >>> print(clf.prototypes_.shape, clf.predict(np.array([[1., 1], [4, 4]])))
        (2, 2) ['a' 'b']
    """

    def __init__(self, metric="cosine", temperature=1.0):
        _check_metric(metric)
        self.metric = metric
        self.temperature = temperature

    def fit(self, embeddings, labels):
        """Store each class's mean embedding. Returns ``self``."""
        _check_metric(self.metric)
        if not self.temperature > 0:
            raise ValueError(f"PrototypeClassifier: temperature must be positive, got {self.temperature!r}.")
        x = _matrix("embeddings", embeddings, "PrototypeClassifier.fit")
        y = np.asarray(labels)
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(
                f"PrototypeClassifier.fit: labels must be 1D with one label per embedding; got "
                f"embeddings of shape {x.shape} and labels of shape {y.shape}."
            )
        self.classes_, index = np.unique(y, return_inverse=True)
        counts = np.bincount(index, minlength=len(self.classes_))
        self.prototypes_ = np.zeros((len(self.classes_), x.shape[1]))
        np.add.at(self.prototypes_, index, x)
        self.prototypes_ /= counts[:, None]
        self.n_features_in_ = x.shape[1]
        return self

    def decision_function(self, embeddings):
        """``(n, n_classes)`` scores, larger is nearer: cosine similarity, or minus the squared distance."""
        if not hasattr(self, "prototypes_"):
            raise ValueError("PrototypeClassifier: call fit(embeddings, labels) before predicting.")
        x = _matrix("embeddings", embeddings, "PrototypeClassifier")
        if x.shape[1] != self.prototypes_.shape[1]:
            raise ValueError(
                f"PrototypeClassifier: embeddings of shape {x.shape} do not match the prototypes of "
                f"shape {self.prototypes_.shape} (fitted on {self.prototypes_.shape[1]} features)."
            )
        if self.metric == "cosine":
            return _cosine(x, self.prototypes_)
        return -((x[:, None, :] - self.prototypes_[None, :, :]) ** 2).sum(axis=-1)

    def predict(self, embeddings):
        """The label of the nearest prototype for each row."""
        scores = self.decision_function(embeddings)  # first: it says when fit was not called
        return self.classes_[scores.argmax(axis=1)]

    def predict_proba(self, embeddings):
        """Softmax of ``decision_function / temperature`` over the classes (rows sum to 1)."""
        return _softmax(self.decision_function(embeddings) / self.temperature)


# --------------------------------------------------------------------------------------------
# Zero-shot: convex combination of semantic embeddings
# --------------------------------------------------------------------------------------------


class ConSE:
    """Zero-shot classification by convex combination of semantic embeddings (Norouzi et al. 2014).

    For an image with predicted probabilities ``p`` over the seen classes, let ``t_1..t_k`` be
    its ``top_k`` most probable seen classes (ties: the lower index first). Its semantic
    embedding is ``f = sum_i p[t_i] s(t_i) / sum_i p[t_i]``, and the predicted unseen class is
    the one whose semantic vector has the largest cosine similarity with ``f``.

    Args:
        semantic_seen: ``(n_seen, e)`` semantic vectors (word embeddings, attributes) of the
            classes the probabilities are over, in the classifier's class order.
        semantic_unseen: ``(n_unseen, e)`` semantic vectors of the candidate classes.
        top_k: how many of the most probable seen classes are combined (1 <= top_k <= n_seen;
            the paper uses 10).
        unseen_classes: optional labels of the unseen classes (default ``0..n_unseen-1``),
            returned by :meth:`predict`.

    Raises:
        ValueError: semantic matrices that are not 2D or differ in width (naming both
            shapes); ``top_k`` not an integer in ``1..n_seen``; ``unseen_classes`` of another
            length than ``semantic_unseen``; probabilities of the wrong shape, negative, or
            whose top-k sum is zero.

    Example:
        >>> import numpy as np
        >>> zsl = ConSE(np.eye(3), np.array([[1., 1, 0], [1, 0, 1]]), top_k=2, unseen_classes=["ab", "ac"])
        >>> print(zsl.predict(np.array([[0.6, 0.3, 0.1], [0.5, 0.1, 0.4]])))
        ['ab' 'ac']
    """

    def __init__(self, semantic_seen, semantic_unseen, top_k=10, unseen_classes=None):
        self.semantic_seen = _matrix("semantic_seen", semantic_seen, "ConSE")
        self.semantic_unseen = _matrix("semantic_unseen", semantic_unseen, "ConSE")
        if self.semantic_seen.shape[1] != self.semantic_unseen.shape[1]:
            raise ValueError(
                f"ConSE: semantic_seen of shape {self.semantic_seen.shape} and semantic_unseen of "
                f"shape {self.semantic_unseen.shape} must have the same number of columns (one "
                "semantic space)."
            )
        n_seen = len(self.semantic_seen)
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= n_seen:
            raise ValueError(f"ConSE: top_k must be an integer from 1 to the {n_seen} seen classes, got {top_k!r}.")
        self.top_k = int(top_k)
        n_unseen = len(self.semantic_unseen)
        classes = np.arange(n_unseen) if unseen_classes is None else np.asarray(unseen_classes)
        if classes.shape != (n_unseen,):
            raise ValueError(
                f"ConSE: unseen_classes has shape {classes.shape}; expected one label per row of "
                f"semantic_unseen, i.e. ({n_unseen},)."
            )
        self.unseen_classes = classes

    def _check_probabilities(self, probabilities):
        p = _matrix("probabilities", probabilities, "ConSE")
        if p.shape[1] != len(self.semantic_seen):
            raise ValueError(
                f"ConSE: probabilities of shape {p.shape} must have one column per seen class "
                f"({len(self.semantic_seen)}, the rows of semantic_seen of shape {self.semantic_seen.shape})."
            )
        if (p < 0).any():
            raise ValueError("ConSE: probabilities must not be negative (pass softmax outputs, not logits).")
        return p

    def embed(self, probabilities):
        """``(n, e)``: the convex combination of the top-k seen classes' semantic vectors."""
        p = self._check_probabilities(probabilities)
        top = np.argsort(-p, axis=1, kind="stable")[:, : self.top_k]
        weights = np.take_along_axis(p, top, axis=1)
        total = weights.sum(axis=1, keepdims=True)
        if (total <= 0).any():
            rows = np.flatnonzero(total[:, 0] <= 0)[:5].tolist()
            raise ValueError(f"ConSE: the top-{self.top_k} probabilities of rows {rows} sum to zero; no combination exists.")
        return np.einsum("nk,nke->ne", weights / total, self.semantic_seen[top])

    def decision_function(self, probabilities):
        """``(n, n_unseen)`` cosine similarities of each image's semantic embedding with each unseen class."""
        return _cosine(self.embed(probabilities), self.semantic_unseen)

    def predict(self, probabilities):
        """The unseen class (from ``unseen_classes``) with the most similar semantic vector."""
        return self.unseen_classes[self.decision_function(probabilities).argmax(axis=1)]
