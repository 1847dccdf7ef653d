"""Train and evaluate a biocnn classifier on a MedMNIST-style .npz file.

The file holds train_images/train_labels, val_images/val_labels and test_images/test_labels
(2D images (N, H, W[, C]) or 3D volumes (N, D, H, W[, C])). The model trains on "train" with
MomentumSGD, the "val" split chooses the learning-rate drops, early stopping and the epoch
whose weights are kept, and "test" is evaluated once at the end.

Default: LeNet-5 on the bundled BreastMNIST (breast ultrasound, 28x28, malignant vs
normal/benign). Writes the run directory: config.json, history.csv, metrics.json,
model.keras, training_curves.png, predictions.csv, per_class.csv, confusion_matrix.csv/.png,
roc.png, checkpoints/.

    python pipelines/train_npz.py --out runs/breastmnist_lenet5
"""

import argparse
import os
import sys

import biocnn
from biocnn import cli
from biocnn.data import load_npz_splits
from biocnn.experiment import train_and_evaluate
from biocnn.rundir import RunDirectory

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_NPZ = os.path.join(HERE, "..", "datasets", "medmnist", "breastmnist.npz")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--npz", default=DEFAULT_NPZ, help="MedMNIST-style .npz (default: bundled BreastMNIST)")
    parser.add_argument("--model", default="lenet5", help=f"one of: {', '.join(biocnn.models.available())}")
    parser.add_argument("--class-names", nargs="+", help="class names in label order")
    cli.add_training_arguments(parser)
    parser.set_defaults(epochs=40, lr=0.02)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    config = cli.training_config(args)
    splits = load_npz_splits(args.npz)
    num_classes = int(max(y.max() for _, y in splits.values())) + 1
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=args.resume)

    biocnn.training.set_seed(args.seed)
    model = biocnn.models.create(args.model, splits["train"][0].shape[1:], num_classes)
    print(f"{args.model}: {model.count_params():,} parameters; "
          + ", ".join(f"{s} {len(y)}" for s, (_, y) in splits.items()), flush=True)

    metrics = train_and_evaluate(run, model, splits, config, vars(args), args.class_names).metrics
    test = metrics["test"]
    print(
        f"test: accuracy {test['accuracy']:.3f}, AUROC {test['auroc']:.3f}, AUPRC {test['auprc']:.3f} "
        f"(best epoch {metrics['best_epoch']}); run directory: {run.path}"
    )


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
