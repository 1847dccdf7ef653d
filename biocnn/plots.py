"""Figures for the run directory. Matplotlib's non-interactive Agg canvas: no display needed."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from biocnn.rundir import atomic_path  # noqa: E402


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
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
