"""Summaries of per-fold metrics: mean, standard deviation and a 95 % confidence interval.

:func:`mean_sd_ci` gives the Student-t interval of the mean of the fold values: right for an
unbounded metric such as the loss, but for few folds it can leave [0, 1] (an AUROC interval of
-0.174 to 1.092). :func:`bootstrap_ci` gives a percentile interval of the mean over folds of a
bounded metric (accuracy, AUROC, AUPRC) from the out-of-fold predictions: every resample is a
real set of predictions, so the interval stays where the metric lives.
"""

import math

import numpy as np
from scipy import stats

from biocnn import evaluation


def mean_sd_ci(values, confidence=0.95):
    """Mean, sample standard deviation (n - 1) and the Student-t confidence interval of the mean.

    The interval is ``mean +- t_{(1+confidence)/2, n-1} * sd / sqrt(n)``: folds are few, so the
    normal 1.96 would be too narrow. NaN values (undefined metrics) are left out.

    Returns:
        dict with ``mean``, ``sd``, ``ci_low``, ``ci_high`` and ``n``.

    Example:
        >>> r = mean_sd_ci([0.8, 0.9, 1.0])
        >>> round(r["mean"], 3), round(r["sd"], 3), round(r["ci_low"], 3), round(r["ci_high"], 3)
        (0.9, 0.1, 0.652, 1.148)
    """
    values = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(values)
    if n == 0:
        return {"mean": float("nan"), "sd": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}
    mean = float(values.mean())
    if n == 1:
        return {"mean": mean, "sd": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 1}
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf((1.0 + confidence) / 2.0, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half, "n": n}


BOUNDED_METRICS = ("accuracy", "auroc", "auprc")


def _metric(name, labels, scores):
    if name == "accuracy":
        return float(np.mean(scores.argmax(1) == labels))
    if name == "auroc":
        return evaluation.roc_auc(labels, scores)
    return evaluation.average_precision(labels, scores)


def bootstrap_ci(labels, scores, folds, metric, confidence=0.95, n_resamples=1000, seed=0):
    """A percentile-bootstrap interval of a bounded metric's mean over cross-validation folds.

    Each resample draws folds with replacement and, inside each drawn fold, its test samples
    with replacement within each class (every class keeps its count, so AUROC stays defined);
    the statistic is the mean over the drawn folds of the metric, computed exactly as the
    per-fold table computes it (:func:`biocnn.evaluation.roc_auc`). The interval holds between-fold
    and test-sample variation and, being made of real metric values, stays inside [0, 1].

    Args:
        labels: (N,) integer labels of the out-of-fold predictions.
        scores: (N, C) class scores.
        folds: (N,) fold number of each prediction.
        metric: ``"accuracy"``, ``"auroc"`` or ``"auprc"``.
        confidence: the interval's coverage.
        n_resamples: bootstrap resamples.
        seed: seeds the resampling (the interval is repeatable).

    Returns:
        ``(low, high)``; NaN when the metric is undefined in a fold.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> y = np.tile([0, 1], 30); s = np.stack([1 - y * 0.3 - rng.random(60) * 0.7, y * 0.3 + rng.random(60) * 0.7], 1)
        >>> low, high = bootstrap_ci(y, s, np.repeat([1, 2, 3], 20), "auroc", n_resamples=200)
        >>> 0.0 <= low <= high <= 1.0
        True
    """
    if metric not in BOUNDED_METRICS:
        raise ValueError(f"bootstrap_ci is for {', '.join(BOUNDED_METRICS)}; got {metric!r}.")
    labels = np.asarray(labels, dtype=np.int64)
    scores = evaluation.class_scores(scores)
    folds = np.asarray(folds)
    rng = np.random.default_rng(seed)
    strata = []  # per fold: the index arrays of each class present
    for fold in np.unique(folds):
        index = np.flatnonzero(folds == fold)
        strata.append([index[labels[index] == c] for c in np.unique(labels[index])])
    if metric != "accuracy" and any(len(parts) < scores.shape[1] for parts in strata):
        return float("nan"), float("nan")
    means = np.empty(n_resamples)
    for b in range(n_resamples):
        drawn = rng.integers(0, len(strata), size=len(strata))
        values = []
        for k in drawn:
            sample = np.concatenate([rng.choice(part, size=len(part)) for part in strata[k]])
            values.append(_metric(metric, labels[sample], scores[sample]))
        means[b] = np.mean(values)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def summarize_folds(values, metric, predictions=None, confidence=0.95, seed=0):
    """Mean, sd and 95 % interval of one metric over the folds.

    Args:
        values: the metric of each fold.
        metric: its name; for ``"accuracy"``, ``"auroc"`` and ``"auprc"`` with ``predictions``
            given, the interval is :func:`bootstrap_ci`'s (inside [0, 1]); otherwise (the loss)
            the t interval of :func:`mean_sd_ci`.
        predictions: the out-of-fold predictions: a DataFrame with ``fold``, ``label`` and
            ``probability_<class>`` columns (``oof_predictions.csv``; labels as class indices).
        confidence: the interval's coverage.
        seed: seeds the bootstrap.

    Returns:
        dict with ``mean``, ``sd``, ``ci_low``, ``ci_high`` and ``n``.

    Example:
        >>> summarize_folds([0.8, 0.9, 1.0], "loss")["ci_high"] > 1.0  # the loss keeps its t interval
        True
    """
    summary = mean_sd_ci(values, confidence)
    if metric in BOUNDED_METRICS and predictions is not None and summary["n"] > 1:
        scores = predictions[[c for c in predictions.columns if str(c).startswith("probability_")]].to_numpy()
        summary["ci_low"], summary["ci_high"] = bootstrap_ci(
            predictions["label"].to_numpy(), scores, predictions["fold"].to_numpy(), metric, confidence, seed=seed)
    return summary
