"""Figures of example images with their true and predicted labels, for 2D images and 3D volumes.

A 2D image is shown as it is (grey, colour, or its first three channels as a colour
composite); a 3D volume as its three orthogonal mid-slices side by side. Each channel is
stretched between its own 1st and 99.5th percentiles so that 16-bit microscopy and [0, 1]
images both show their content.

    save_misclassified("misclassified.png", x_test, y_test, scores, class_names)
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from biocnn.data.preprocess import percentile_clip  # noqa: E402
from biocnn.plots import save_figure  # noqa: E402

__all__ = ["display_image", "image_grid", "orthogonal_slices", "save_misclassified", "select_misclassified"]

_VIEW_NAMES = ("axial", "coronal", "sagittal")


def orthogonal_slices(volume):
    """The three mid-slices of a channels-last volume ``(D, H, W, C)``.

    Returns:
        list of three arrays: ``volume[D//2]`` ``(H, W, C)``, ``volume[:, H//2]`` ``(D, W, C)``
        and ``volume[:, :, W//2]`` ``(D, H, C)``.

    Raises:
        ValueError: ``volume`` is not 4-dimensional.

    Example:
        >>> print([s.shape for s in orthogonal_slices(np.zeros((4, 6, 8, 1)))])
        [(6, 8, 1), (4, 8, 1), (4, 6, 1)]
    """
    volume = np.asarray(volume)
    if volume.ndim != 4:
        raise ValueError(f"orthogonal_slices: expected a volume (D, H, W, C), got shape {volume.shape}.")
    d, h, w = volume.shape[:3]
    return [volume[d // 2], volume[:, h // 2], volume[:, :, w // 2]]


def display_image(image):
    """A 2D channels-last image as something ``imshow`` can draw, each channel stretched.

    One channel stays grey ``(H, W)``; two channels become red and green, each stretched on
    its own (fluorescence); three channels are a colour image, stretched together so that hues
    stay true; of more channels the first three are shown, each stretched on its own.

    Returns:
        float array in [0, 1], ``(H, W)`` or ``(H, W, 3)``.

    Example:
        >>> print(display_image(np.random.rand(8, 8, 5)).shape)
        (8, 8, 3)
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise ValueError(f"display_image: expected (H, W, C), got shape {image.shape}.")
    if image.shape[-1] == 3:
        return percentile_clip(image.reshape(*image.shape[:2], 3, 1), 1.0, 99.5)[..., 0].reshape(image.shape)
    stretched = percentile_clip(image[..., :3], 1.0, 99.5)
    if stretched.shape[-1] == 1:
        return stretched[..., 0]
    if stretched.shape[-1] == 2:
        return np.concatenate([stretched, np.zeros_like(stretched[..., :1])], axis=-1)
    return stretched


def _views(image):
    image = np.asarray(image)
    if image.ndim == 3:
        return [image]
    if image.ndim == 4:
        return orthogonal_slices(image)
    raise ValueError(
        f"Expected images (H, W, C) or volumes (D, H, W, C), channels last; got shape {image.shape}."
    )


def image_grid(images, labels, predictions=None, class_names=None, path=None, columns=8, title=None,
               confidences=None):
    """A grid of images or volumes captioned with true and (optionally) predicted labels.

    Args:
        images: ``(N, H, W, C)`` images or ``(N, D, H, W, C)`` volumes (three mid-slices each).
        labels: (N,) true class indices.
        predictions: (N,) predicted class indices, or None. Wrong predictions are captioned red.
        class_names: names of the classes (default: the indices).
        path: write the figure here as PNG (atomically) and close it; None returns it open.
        columns: samples per row.
        title: figure title.
        confidences: (N,) scores of the predicted class, shown in the caption, or None.

    Returns:
        The Matplotlib figure, or None when it was written to ``path``.

    Raises:
        ValueError: an empty set, a shape that is neither an image nor a volume, or
            labels/predictions of another length than ``images``.

    Example:
        >>> import tempfile
        >>> image_grid(np.random.rand(3, 8, 8, 1), [0, 1, 1], [0, 0, 1], ["a", "b"],
        ...            tempfile.mkdtemp() + "/grid.png")
    """
    images = np.asarray(images)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(images)
    if n == 0:
        raise ValueError("image_grid: no images to show.")
    for name, values in (("labels", labels), ("predictions", predictions), ("confidences", confidences)):
        if values is not None and len(values) != n:
            raise ValueError(f"image_grid: {n} images but {len(values)} {name}.")
    names = list(class_names) if class_names is not None else [str(i) for i in range(int(labels.max()) + 1)]
    views = len(_views(images[0]))
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns * views, figsize=(1.6 * columns * views, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        row, column = divmod(i, columns)
        for v, view in enumerate(_views(images[i])):
            ax = axes[row, column * views + v]
            shown = display_image(view)
            ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
            if views > 1:
                ax.set_xlabel(_VIEW_NAMES[v], fontsize=6)
        caption = f"true {names[labels[i]]}"
        colour = "black"
        if predictions is not None:
            caption += f"\npred {names[int(predictions[i])]}"
            if confidences is not None:
                caption += f" ({float(confidences[i]):.2f})"
            colour = "black" if int(predictions[i]) == labels[i] else "firebrick"
        axes[row, column * views].set_title(caption, fontsize=7, color=colour)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    if path is None:
        return fig
    save_figure(fig, path)
    return None


def select_misclassified(labels, scores, limit=None):
    """Indices of the wrongly classified samples, the most confident mistakes first.

    Args:
        labels: (N,) true class indices.
        scores: (N, C) class scores.
        limit: keep at most this many, or None for all.

    Returns:
        int64 array of sample indices.

    Example:
        >>> select_misclassified([0, 1, 1], [[0.9, 0.1], [0.6, 0.4], [0.8, 0.2]])
        array([2, 1])
    """
    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    predicted = scores.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = scores[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")]
    return order if limit is None else order[:limit]


def save_misclassified(path, images, labels, scores, class_names, limit=32, columns=8, title="misclassified"):
    """Write a PNG of the misclassified samples (most confident mistakes first).

    With no mistakes the figure says so, so a run directory always has the file.

    Args:
        path: the PNG to write.
        images: ``(N, H, W, C)`` or ``(N, D, H, W, C)``.
        labels: (N,) true class indices.
        scores: (N, C) class scores (e.g. ``ExperimentResult.scores["test"]``).
        class_names: names of the classes.
        limit: most samples shown.
        columns: samples per row.
        title: figure title (the count of mistakes is added).

    Returns:
        int: the number of misclassified samples (all of them, not only those shown).

    Example:
        >>> import tempfile
        >>> save_misclassified(tempfile.mkdtemp() + "/m.png", np.random.rand(3, 8, 8, 1), [0, 1, 1],
        ...                    [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]], ["a", "b"])
        1
    """
    scores = np.asarray(scores, dtype=np.float64)
    wrong = select_misclassified(labels, scores)
    heading = f"{title}: {len(wrong)} of {len(labels)}"
    if len(wrong) == 0:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, f"{heading}: no misclassified examples", ha="center", va="center")
        save_figure(fig, path)
        return 0
    shown = wrong[:limit]
    if len(wrong) > len(shown):
        heading += f" (the {len(shown)} most confident shown)"
    predicted = scores[shown].argmax(axis=1)
    image_grid(np.asarray(images)[shown], np.asarray(labels)[shown], predicted, class_names, path,
               columns=columns, title=heading, confidences=scores[shown, predicted])
    return int(len(wrong))
