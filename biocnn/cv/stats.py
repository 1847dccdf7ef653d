"""Summaries of per-fold metrics: mean, standard deviation and a t confidence interval."""

import math

import numpy as np
from scipy import stats


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
