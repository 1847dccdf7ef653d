"""Figures for the run directory. Matplotlib's non-interactive Agg canvas: no display needed."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from biocnn import evaluation  # noqa: E402
from biocnn.rundir import atomic_path  # noqa: E402


def save_figure(fig, path, dpi=110):
    """Write a Matplotlib figure as PNG, atomically, and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight")
    plt.close(fig)


def plot_history(history, path, best_epoch=None):
    """Plot learning curves (loss, each metric, learning rate) from a history DataFrame.

    Training and validation curves share a panel; learning-rate drops are marked; the best
    epoch (the weights kept) is a dashed line. Written atomically as PNG.
    """
    metrics = [c for c in history.columns if c not in ("epoch", "learning_rate") and not c.startswith("val_")]
    panels = metrics + (["learning_rate"] if "learning_rate" in history else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    epochs = history["epoch"]
    for ax, name in zip(axes[0], panels):
        ax.plot(epochs, history[name], marker="o", ms=3, label="train" if name != "learning_rate" else "lr")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", ms=3, label="validation")
        if name == "learning_rate":
            ax.set_yscale("log")
        if best_epoch:
            ax.axvline(best_epoch, color="grey", ls="--", lw=1, label=f"best epoch {best_epoch}")
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_confusion_matrix(matrix, class_names, path, title="test split"):
    """Confusion matrix as a heat map with the counts written in, rows true, columns predicted."""
    matrix = np.asarray(matrix)
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * n, 1.0 + 0.6 * n))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center",
                color="white" if count > matrix.max() / 2 else "black")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix ({title})")
    save_figure(fig, path)


def plot_roc(labels, scores, class_names, path, title="test split"):
    """One-vs-rest ROC curve per class, with each class's AUROC in the legend."""
    labels, scores = np.asarray(labels), evaluation.class_scores(scores)
    # The legend's numbers are per_class.csv's, from the same function.
    aurocs = evaluation.per_class_metrics(labels, scores, class_names)["auroc"].to_numpy()
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    classes = [1] if scores.shape[1] == 2 else range(scores.shape[1])
    for c in classes:
        positive = labels == c
        if 0 < positive.sum() < len(labels):
            fpr, tpr, _ = skm.roc_curve(positive, scores[:, c])
            ax.plot(fpr, tpr, label=f"{class_names[c]} (AUROC {aurocs[c]:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"ROC ({title})")
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)


def plot_roc_folds(predictions, class_names, path):
    """ROC curve of every cross-validation fold: the positive class for two classes, else the
    macro average of the one-vs-rest curves. ``predictions`` has ``fold``, ``label`` and
    ``probability_<class>`` columns (labels as class indices).

    Each legend's AUROC is the fold's AUROC as the tables report it
    (:func:`biocnn.evaluation.roc_auc`), not the area under the drawn curve, which is averaged
    over classes on a grid of false positive rates and differs in the third decimal.
    """
    grid = np.linspace(0.0, 1.0, 201)
    score_columns = [f"probability_{name}" for name in class_names]
    classes = [1] if len(class_names) == 2 else range(len(class_names))
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    for fold, part in predictions.groupby("fold"):
        labels, scores = part["label"].to_numpy(), part[score_columns].to_numpy()
        curves = []
        for c in classes:
            positive = labels == c
            if 0 < positive.sum() < len(labels):
                fpr, tpr, _ = skm.roc_curve(positive, scores[:, c])
                curves.append(np.interp(grid, fpr, tpr))
        if curves:
            tpr = np.mean(curves, axis=0)
            ax.plot(grid, tpr, lw=1.2, label=f"fold {fold} (AUROC {_auroc_or_nan(labels, scores):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC per fold" + ("" if len(class_names) == 2 else " (macro one-vs-rest)"))
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)


def _auroc_or_nan(labels, scores):
    present = np.unique(labels)
    if len(present) < scores.shape[1]:
        return float("nan")
    return evaluation.roc_auc(labels, scores)
