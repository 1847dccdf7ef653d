"""Class weights for imbalanced labels: each class weighs ``n_samples / (n_classes * n_c)``.

The same rule as scikit-learn's ``compute_class_weight("balanced")``: every class contributes the
same total weight to the loss, so a 1:9 data set trains as if it were balanced, while the data
and the validation metrics stay as they are.
"""

import numpy as np

__all__ = ["class_weights"]


def class_weights(labels, num_classes):
    """``{class index: weight}`` for Keras's ``fit(class_weight=...)``.

    Args:
        labels: integer class labels of the training split.
        num_classes: the number of classes; each must occur at least once.

    Returns:
        dict int -> float.

    Raises:
        ValueError: if a class has no training sample (its weight would be infinite).

    Example:
        >>> class_weights([0, 0, 0, 1], 2)
        {0: 0.6666666666666666, 1: 2.0}
    """
    labels = np.asarray(labels, dtype="int64").ravel()
    counts = np.bincount(labels, minlength=num_classes)
    if (counts == 0).any():
        missing = [int(c) for c in np.flatnonzero(counts == 0)]
        raise ValueError(f"class_weights: class(es) {missing} have no training sample; every class needs at "
                         f"least one (counts per class: {counts.tolist()}).")
    return {c: float(len(labels) / (num_classes * counts[c])) for c in range(num_classes)}
