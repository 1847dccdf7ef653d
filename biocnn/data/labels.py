"""The one class-order rule of biocnn: labels -> class names -> integer class indices.

Numeric labels (``1``, ``2``, ``10``) are ordered as numbers, any other labels as sorted
strings, unless the classes are given (``--class-names``). Every data source (images, volumes,
sequences, ``.npz``) orders its classes by this rule, and the run records the order.
"""

import numpy as np

__all__ = ["class_indices", "sorted_classes"]

_SHOW = 5


def _is_integer(text):
    return text.lstrip("-").isdigit()


def sorted_classes(labels):
    """The distinct labels in class order: numbers numerically, else sorted strings.

    Example:
        >>> sorted_classes(["10", "2", "1", "2"])
        ['1', '2', '10']
        >>> sorted_classes(["wbc", "rbc"])
        ['rbc', 'wbc']
    """
    names = sorted({str(v) for v in labels})
    if names and all(_is_integer(n) for n in names):
        return sorted(names, key=int)
    return names


def class_indices(labels, class_names=None, where="labels"):
    """Integer class indices of labels, and the class names in index order.

    Args:
        labels: iterable of labels (str, or numbers: compared as their text).
        class_names: the classes in order; None: :func:`sorted_classes` of the labels.
        where: the file or argument the labels come from, for the error message.

    Returns:
        ``(indices, class_names)``: an int64 array and a list of str.

    Raises:
        ValueError: a label that is not among ``class_names``.

    Example:
        >>> y, names = class_indices(["N", "EI", "IE", "N"])
        >>> y.tolist(), names
        ([2, 0, 1, 2], ['EI', 'IE', 'N'])
        >>> class_indices([10, 2, 1])[1]
        ['1', '2', '10']
    """
    labels = [v.decode() if isinstance(v, bytes) else str(v) for v in labels]
    names = sorted_classes(labels) if class_names is None else [str(c) for c in class_names]
    position = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(labels) - set(position))
    if unknown:
        raise ValueError(
            f"{where}: Labels {', '.join(map(repr, unknown[:_SHOW]))} are not among the classes "
            f"{', '.join(map(repr, names))}; add them to --class-names or fix the labels."
        )
    return np.array([position[v] for v in labels], dtype=np.int64), names
