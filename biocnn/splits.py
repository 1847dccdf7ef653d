"""Held-out splits that respect classes and groups, on scikit-learn's splitters.

A group is a patient, slide, donor or chromosome: everything of one group lands on the same
side of every split, so a model is never tested on the group it was trained on.
"""

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, StratifiedShuffleSplit

from biocnn.errors import UserError

#: What to try when a split lacks a class (the pipelines' flags; the API's arguments alike).
MISSING_CLASS_FIX = ("choose another --split-seed, a larger --test-size or --val-size, fewer and larger "
                     "groups (--group-column), or add samples of that class")


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


def class_count_table(labels, class_names=None):
    """Per-split class counts as text: one row per class, one column per split.

    Args:
        labels: dict split -> (N,) integer labels.
        class_names: names in label order (default: ``0 .. max label``).

    Example:
        >>> print(class_count_table({"train": [0, 0, 1], "test": [1]}, ["neg", "pos"]))
        class  train   test
        neg        2      0
        pos        1      1
    """
    counts = _class_counts(labels, class_names)
    names = _names(labels, class_names)
    width = max(len("class"), *(len(n) for n in names))
    columns = [max(len(split), 5) for split in counts]
    lines = ["class".ljust(width) + "".join(f"  {split:>{w}}" for split, w in zip(counts, columns))]
    for c, name in enumerate(names):
        lines.append(name.ljust(width) + "".join(f"  {counts[split][c]:>{w}}" for split, w in zip(counts, columns)))
    return "\n".join(lines)


def _names(labels, class_names):
    if class_names is not None:
        return [str(n) for n in class_names]
    top = max((int(np.max(y)) for y in labels.values() if len(y)), default=-1)
    return [str(c) for c in range(top + 1)]


def _class_counts(labels, class_names):
    n = len(_names(labels, class_names))
    return {split: np.bincount(np.asarray(y, dtype=np.int64).reshape(-1), minlength=n)[:n].tolist()
            for split, y in labels.items()}


def check_splits(labels=None, *, arrays=None, shapes=None, dtypes=None, ids=None, class_names=None,
                 where="", verbose=True):
    """Check data splits against each other before training; print the per-split class counts.

    One check for every kind of input: array splits (``arrays``), or streamed and tabular ones
    (``labels`` with the samples' ``shapes`` and ``dtypes``, read from file headers).

    Args:
        labels: dict split -> (N,) integer labels (not needed with ``arrays``).
        arrays: dict split -> ``(x, y)`` arrays: labels, shapes and dtypes are taken from them.
        shapes: dict split -> the shape of every sample (a list of tuples), or one shape for all.
        dtypes: dict split -> the dtype of every sample (a list), or one dtype for all.
        ids: dict split -> sample ids (file names, record ids), to name an offending sample.
        class_names: names in label order (default ``0 .. max label``).
        where: what the splits belong to, for messages (e.g. ``"fold 3"``).
        verbose: print the class-count table.

    Returns:
        dict split -> list of class counts.

    Raises:
        UserError (a ValueError): a split lacks a class (the message gives every split's class
            counts and the fix); or a sample's shape, channels or dtype differ from the first
            training sample's (the message names the split and the first such sample).

    Example:
        >>> counts = check_splits(arrays={"train": (np.zeros((4, 3)), [0, 1, 0, 1]),
        ...                               "test": (np.zeros((2, 3)), [0, 1])}, verbose=False)
        >>> counts
        {'train': [2, 2], 'test': [1, 1]}
    """
    if arrays is not None:
        labels = {split: np.asarray(y) for split, (x, y) in arrays.items()}
        described = {split: _shape_and_dtype(x) for split, (x, y) in arrays.items()}
        shapes = {split: shape for split, (shape, dtype) in described.items()}
        dtypes = {split: dtype for split, (shape, dtype) in described.items()}
    if not labels:
        raise ValueError("check_splits needs labels or arrays.")
    prefix = f"{where}: " if where else ""
    counts = _class_counts(labels, class_names)
    names = _names(labels, class_names)
    if verbose:
        print((f"{where} " if where else "") + "class counts per split:\n" + class_count_table(labels, class_names),
              flush=True)
    missing = [f"{split} has no '{names[c]}'" for split, row in counts.items() for c, n in enumerate(row) if n == 0]
    if missing:
        table = "; ".join(f"{split}: " + ", ".join(f"{names[c]} {n}" for c, n in enumerate(row))
                          for split, row in counts.items())
        raise UserError(
            f"{prefix}a split lacks a class ({', '.join(missing)}): a model cannot learn, select or be "
            f"tested on a class a split does not hold. Class counts per split: {table}. "
            f"To fix it, {MISSING_CLASS_FIX}."
        )
    _check_samples(shapes, "shape", prefix, ids)
    _check_samples(dtypes, "dtype", prefix, ids)
    return counts


def _shape_and_dtype(x):
    # An array's sample shape and dtype; a tf.data dataset of batches (a streamed split)
    # is described by its element spec (None where a size is not fixed).
    spec = getattr(x, "element_spec", None)
    if spec is not None:
        spec = spec[0] if isinstance(spec, tuple) else spec
        return tuple(spec.shape[1:]), np.dtype(spec.dtype.as_numpy_dtype)
    return tuple(np.shape(x)[1:]), np.asarray(x[:0]).dtype


def _same(sample, reference, what):
    if what != "shape":
        return sample == reference
    # an unknown size (None, a streamed split) matches any
    return len(sample) == len(reference) and all(a is None or b is None or a == b for a, b in zip(sample, reference))


def _samples(value, what):
    """``(per_sample_values, per_sample)``: a split's one value, or its list of per-sample values."""
    if what == "shape":
        def size(d):
            return None if d is None else int(d)

        if isinstance(value, (tuple, list)) and all(v is None or isinstance(v, (int, np.integer)) for v in value):
            return [tuple(size(v) for v in value)], False
        return [tuple(size(d) for d in v) for v in value], True
    if isinstance(value, (str, np.dtype, type)):
        return [np.dtype(value)], False
    return [np.dtype(v) for v in value], True


def _check_samples(values, what, prefix, ids):
    """Every sample of every split has the first training sample's shape (or dtype)."""
    if not values:
        return
    reference = None
    for split in sorted(values, key=lambda split: split != "train"):  # training sets the standard
        samples, per_sample = _samples(values[split], what)
        for i, sample in enumerate(samples):
            name = _sample_name(ids, split, i) if per_sample else f"the {split} samples"
            if reference is None:
                reference, reference_name = sample, f"{name} {'has' if per_sample else 'have'}"
                continue
            if _same(sample, reference, what):
                continue
            if what == "shape" and len(sample) == len(reference) and sample[:-1] == reference[:-1]:
                detail = (f": {sample[-1]} channels where the model is built for {reference[-1]} (convert "
                          "every split to the same channels, e.g. all grey or all RGB)")
            elif what == "shape":
                detail = " (resize every split to one size, or crop or pad them alike)"
            else:
                detail = " (read and preprocess every split the same way)"
            verb = "has" if per_sample else "have"
            raise UserError(f"{prefix}the splits disagree: {name} {verb} {what} {_show(sample)} but "
                            f"{reference_name} {_show(reference)}{detail}.")


def _sample_name(ids, split, i):
    if ids is not None and ids.get(split) is not None and i < len(ids[split]):
        return f"{split} sample '{ids[split][i]}'"
    return f"{split} sample {i + 1}"


def _show(value):
    return "(" + ", ".join(map(str, value)) + ")" if isinstance(value, tuple) else str(value)
