"""Classification metrics for the run directory's ``metrics.json``.

AUROC and AUPRC come from scikit-learn: for two classes, of the positive class's score; for
more, the macro average over classes, one class against the rest.
"""

import warnings

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn import metrics as skm

from biocnn import losses as losses_module


def class_scores(predictions):
    """Turn model outputs into an (N, C) score matrix; a single sigmoid column becomes two."""
    scores = np.asarray(predictions, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2:
        raise ValueError(f"Expected class scores of shape (N, C), got {scores.shape}.")
    if scores.shape[1] == 1:
        scores = np.concatenate([1.0 - scores, scores], axis=1)
    return scores


def integer_labels(labels, num_classes):
    """Accept integer labels ((N,) or (N, 1)) or one-hot labels (N, C); return (N,) integers."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == num_classes and num_classes > 1:
        return labels.argmax(axis=1)
    labels = labels.reshape(len(labels))
    if not np.all(np.equal(np.mod(labels, 1), 0)) or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"Labels must be integers in [0, {num_classes - 1}] for a {num_classes}-class model; "
            f"got values from {labels.min()} to {labels.max()}."
        )
    return labels.astype(np.int64)


def classification_metrics(labels, scores):
    """Accuracy, AUROC (macro, one-vs-rest) and AUPRC (macro average precision).

    Args:
        labels: integer or one-hot labels.
        scores: (N, C) class scores (probabilities or raw scores), or (N, 1) sigmoid outputs.

    Returns:
        dict with ``accuracy``, ``auroc``, ``auprc`` and ``num_samples``. A metric that is
        undefined (a class missing from ``labels``) is NaN, with a warning.

    Example:
        >>> m = classification_metrics([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        >>> round(m["accuracy"], 3), m["auroc"]
        (0.667, 1.0)
    """
    scores = class_scores(scores)
    num_classes = scores.shape[1]
    y = integer_labels(labels, num_classes)
    result = {"num_samples": int(len(y)), "accuracy": float(np.mean(scores.argmax(1) == y))}
    present = np.unique(y)
    if len(present) < num_classes:
        warnings.warn(
            f"AUROC and AUPRC are undefined: classes {sorted(set(range(num_classes)) - set(present))} "
            "have no samples in this split; they are reported as NaN.",
            RuntimeWarning,
            stacklevel=2,
        )
        return {**result, "auroc": float("nan"), "auprc": float("nan")}
    result["auroc"] = roc_auc(y, scores)
    result["auprc"] = average_precision(y, scores)
    return result


def _binary_auroc(positive, score):
    # The Mann-Whitney statistic with average ranks for ties: equal to scikit-learn's
    # roc_auc_score (the trapezoidal area under the ROC curve), without its overhead.
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _binary_average_precision(positive, score):
    # scikit-learn's average_precision_score: sum over distinct thresholds (descending) of the
    # recall gained times the precision there.
    order = np.argsort(-score, kind="mergesort")
    score, positive = score[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]  # the end of each run of ties
    true_positives = np.cumsum(positive)[last]
    precision = true_positives / (last + 1.0)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _per_class(function, labels, scores):
    scores = class_scores(scores)
    y = integer_labels(labels, scores.shape[1])
    if scores.shape[1] == 2:
        return function(y == 1, scores[:, 1])
    return float(np.mean([function(y == c, scores[:, c]) for c in range(scores.shape[1])]))


def roc_auc(labels, scores):
    """AUROC as every table and figure of biocnn reports it: of the positive class's score for
    two classes, else the macro average of the one-vs-rest AUROCs (scikit-learn's definition;
    every class must be present).

    Example:
        >>> roc_auc([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
        0.75
    """
    return _per_class(_binary_auroc, labels, scores)


def average_precision(labels, scores):
    """AUPRC (average precision) as :func:`roc_auc` reports AUROC: positive class, or macro.

    Example:
        >>> average_precision([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
        0.8333333333333333
    """
    return _per_class(_binary_average_precision, labels, scores)


def per_class_metrics(labels, scores, class_names=None):
    """One row per class: support, precision, recall, F1, and the class's one-vs-rest AUROC/AUPRC.

    Example:
        >>> per_class_metrics([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], ["a", "b"])["recall"].tolist()
        [1.0, 0.5]
    """
    scores = class_scores(scores)
    num_classes = scores.shape[1]
    y = integer_labels(labels, num_classes)
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(
            f"{len(names)} class names ({', '.join(map(str, names))}) for a model with {num_classes} "
            "outputs: the labels and the model disagree on the number of classes."
        )
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, scores.argmax(1), labels=list(range(num_classes)), zero_division=0
    )
    rows = []
    for c in range(num_classes):
        positive = y == c
        both = 0 < positive.sum() < len(y)
        rows.append(
            {
                "class": names[c],
                "support": int(support[c]),
                "precision": float(precision[c]),
                "recall": float(recall[c]),
                "f1": float(f1[c]),
                "auroc": float(skm.roc_auc_score(positive, scores[:, c])) if both else float("nan"),
                "auprc": float(skm.average_precision_score(positive, scores[:, c])) if both else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def confusion_matrix(labels, scores):
    """Counts of (true class, predicted class), rows true, columns predicted."""
    scores = class_scores(scores)
    y = integer_labels(labels, scores.shape[1])
    return skm.confusion_matrix(y, scores.argmax(1), labels=list(range(scores.shape[1])))


def evaluate(model, x, y, loss="cross_entropy", batch_size=256):
    """Predict ``x`` and report the loss and :func:`classification_metrics`.

    ``loss`` is the data term only (no weight decay), averaged over the samples.
    The predictions are returned too, under ``"scores"``, for plots and tables.
    """
    predictions = model.predict(x, batch_size=batch_size, verbose=0)
    loss_fn = losses_module.get(loss)
    metrics = classification_metrics(y, predictions)
    metrics["loss"] = float(loss_fn(np.asarray(y), predictions))
    return metrics, predictions
