"""Held-out splits that respect classes and groups, on scikit-learn's splitters.

A group is a patient, slide, donor or chromosome: everything of one group lands on the same
side of every split, so a model is never tested on the group it was trained on.
"""

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, StratifiedShuffleSplit


def check_stratifiable(labels, n_splits, what="split", class_names=None):
    """Raise a ValueError naming every class with fewer than ``n_splits`` members.

    Example:
        >>> check_stratifiable([0, 0, 1, 1, 1], 2)
    """
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    small = [(v, c) for v, c in zip(values, counts) if c < n_splits]
    if small:
        def name(v):
            return class_names[int(v)] if class_names is not None else v

        listing = ", ".join(f"'{name(v)}' has {c}" for v, c in small)
        raise ValueError(
            f"Too few samples to stratify the {what}: each class needs at least {n_splits}, but "
            f"{listing}. Add samples, merge or drop the class, or lower the number of splits."
        )


def holdout_split(labels, test_size=0.2, groups=None, seed=0, class_names=None):
    """Split indices into (train, test), stratified by label and, with groups, group-disjoint.

    Args:
        labels: (N,) integer class labels.
        test_size: fraction of the samples (or of the groups) held out.
        groups: optional (N,) group ids; no group is on both sides.
        seed: ``random_state`` of the scikit-learn splitter.
        class_names: names for the error message.

    Returns:
        (train_indices, test_indices), sorted int arrays that partition ``range(N)``.

    Raises:
        ValueError: a class too small to be on both sides, or fewer than 2 groups.

    Example:
        >>> train, test = holdout_split([0] * 8 + [1] * 8, test_size=0.25, seed=0)
        >>> len(train), len(test)
        (12, 4)
    """
    labels = np.asarray(labels)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be a fraction between 0 and 1, got {test_size!r}.")
    index = np.arange(len(labels))
    if groups is None:
        check_stratifiable(labels, 2, "held-out split", class_names)
        n, k = len(labels), len(np.unique(labels))
        n_test = int(np.ceil(test_size * n))
        if n_test < k or n - n_test < k:
            raise ValueError(
                f"A stratified held-out split of {test_size:g} of {n} samples leaves {n_test} for one "
                f"side and {n - n_test} for the other, but each side needs one sample of each of the "
                f"{k} classes. Use more data or a test fraction between {k / n:.2g} and {1 - k / n:.2g}."
            )
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(index, labels))
        return np.sort(train), np.sort(test)
    groups = np.asarray(groups)
    if len(groups) != len(labels):
        raise ValueError(f"groups has {len(groups)} entries but there are {len(labels)} labels.")
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError(f"A group-aware split needs at least 2 groups, got {n_groups}.")
    # StratifiedGroupKFold with k = round(1 / test_size) folds keeps class ratios as far as the
    # groups allow; its first fold is the held-out part.
    n_splits = int(round(1.0 / test_size))
    if 2 <= n_splits <= n_groups:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        train, test = next(splitter.split(index, labels, groups))
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(index, labels, groups))
    return np.sort(train), np.sort(test)


def train_val_test_split(labels, test_size=0.2, val_size=0.1, groups=None, seed=0, class_names=None):
    """Three-way split: test held out first, then validation from the rest (both fractions of N).

    Returns:
        dict ``{"train": idx, "val": idx, "test": idx}``, a partition of ``range(N)``.

    Example:
        >>> parts = train_val_test_split([0, 1] * 20, test_size=0.2, val_size=0.2, seed=1)
        >>> [len(parts[k]) for k in ("train", "val", "test")]
        [24, 8, 8]
    """
    labels = np.asarray(labels)
    rest, test = holdout_split(labels, test_size, groups, seed, class_names)
    inner_groups = None if groups is None else np.asarray(groups)[rest]
    train, val = holdout_split(labels[rest], val_size / (1.0 - test_size), inner_groups, seed + 1, class_names)
    return {"train": rest[train], "val": rest[val], "test": test}
