"""Cross-validation splitters: scikit-learn's, chosen for the data, with a leakage guard."""

import numbers

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from biocnn.splits import check_stratifiable


class LeakageError(ValueError):
    """A group (patient, slide, donor ...) would be on both sides of a split."""


def make_splitter(cv=5, groups=None, seed=0):
    """The splitter for ``cv``: an int picks StratifiedKFold, or StratifiedGroupKFold with groups.

    Args:
        cv: number of folds, or any scikit-learn splitter (an object with ``split`` and
            ``get_n_splits``), used as given.
        groups: whether group ids will be given (only their presence matters here).
        seed: ``random_state`` of the shuffled splitter.

    Returns:
        A scikit-learn splitter.

    Example:
        >>> type(make_splitter(5)).__name__, type(make_splitter(5, groups=[0, 1])).__name__
        ('StratifiedKFold', 'StratifiedGroupKFold')
    """
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv must be at least 2 folds, got {cv}.")
        if groups is not None:
            return StratifiedGroupKFold(n_splits=int(cv), shuffle=True, random_state=seed)
        return StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=seed)
    if hasattr(cv, "split") and hasattr(cv, "get_n_splits"):
        return cv
    raise ValueError(
        f"cv must be a number of folds or a scikit-learn splitter (with split and get_n_splits), "
        f"got {cv!r}."
    )


def check_folds(labels, n_splits, groups=None, class_names=None):
    """Refuse data that cannot be split into ``n_splits`` stratified (group) folds."""
    check_stratifiable(labels, n_splits, f"{n_splits}-fold cross-validation", class_names)
    if groups is not None:
        n_groups = len(np.unique(groups))
        if n_groups < n_splits:
            raise ValueError(
                f"{n_splits}-fold group cross-validation needs at least {n_splits} groups, but the "
                f"data has {n_groups}. Use fewer folds or finer groups."
            )


def check_no_leakage(groups, *index_sets, names=("train", "test")):
    """Raise :class:`LeakageError` if any group appears in two of the index sets.

    Example:
        >>> check_no_leakage(np.array(["a", "a", "b"]), [0, 1], [2])
    """
    if groups is None:
        return
    groups = np.asarray(groups)
    seen = [set(groups[np.asarray(idx, dtype=int)].tolist()) for idx in index_sets]
    for i in range(len(seen)):
        for j in range(i + 1, len(seen)):
            shared = seen[i] & seen[j]
            if shared:
                some = ", ".join(repr(g) for g in sorted(shared, key=str)[:5])
                raise LeakageError(
                    f"Leakage: {len(shared)} group(s) are in both the {names[i]} and the {names[j]} "
                    f"split (e.g. {some}). Use a group-aware splitter (an int cv with groups gives "
                    "StratifiedGroupKFold)."
                )
