"""Side by side: test metrics (comparison.csv) and validation learning curves (learning_curves.png) of several runs.

    python pipelines/results/transfer_breastmnist/plot_comparison.py --out pipelines/results/transfer_breastmnist \
        --run "from scratch=runs/breast_scratch" --run "fine-tuned (Fashion-MNIST)=runs/breast_fmnist"

Each --run is LABEL=RUN_DIRECTORY holding history.csv and metrics.json (transfer_learning.py, classify_images.py).
Two-phase runs (a ``phase`` column) have their phase-2 start marked.
"""

import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from biocnn import cli  # noqa: E402
from biocnn.plots import save_figure  # noqa: E402
from biocnn.rundir import write_text  # noqa: E402


def labelled_run(text):
    label, sep, path = text.partition("=")
    if not sep or not os.path.isfile(os.path.join(path, "metrics.json")):
        raise argparse.ArgumentTypeError(f"--run expects LABEL=RUN_DIRECTORY with a metrics.json, got {text!r}.")
    return label, path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=labelled_run, action="append", required=True, help="LABEL=RUN_DIRECTORY")
    parser.add_argument("--out", required=True, help="folder for comparison.csv and learning_curves.png")
    args = parser.parse_args(argv)
    rows, fig = [], plt.figure(figsize=(11, 3.6))
    axes = fig.subplots(1, 3)
    for label, path in args.run:
        metrics = json.load(open(os.path.join(path, "metrics.json")))
        history = pd.read_csv(os.path.join(path, "history.csv"))
        rows.append({"arm": label, "test_accuracy": metrics["test"]["accuracy"], "test_auroc": metrics["test"]["auroc"],
                     "test_auprc": metrics["test"].get("auprc"), "val_accuracy": metrics["val"]["accuracy"],
                     "val_auroc": metrics["val"]["auroc"], "best_epoch": metrics["best_epoch"], "epochs_run": len(history),
                     "run": path})
        for ax, column in zip(axes, ("loss", "val_loss", "val_accuracy")):
            line, = ax.plot(history["epoch"], history[column], marker="o", ms=2, label=label)
            ax.axvline(metrics["best_epoch"], color=line.get_color(), ls=":", lw=1)
            if "phase" in history and (history["phase"] == "fine_tune").any():
                ax.axvline(history.loc[history["phase"] == "fine_tune", "epoch"].min() - 0.5, color=line.get_color(),
                           ls="--", lw=0.8)
    for ax, column in zip(axes, ("training loss", "validation loss", "validation accuracy")):
        ax.set_title(column)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("dotted: epoch kept; dashed: phase 2 (unfrozen backbone) starts", fontsize=8)
    fig.tight_layout()
    save_figure(fig, os.path.join(args.out, "learning_curves.png"))
    table = pd.DataFrame(rows)
    write_text(os.path.join(args.out, "comparison.csv"), table.to_csv(index=False, float_format="%.4f"))
    print(table.drop(columns="run").to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
