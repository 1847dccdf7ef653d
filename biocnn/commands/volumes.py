"""Train and evaluate a 3D CNN on volumes: CT, MRI or light-sheet stacks.

Data, one of:
  --npz FILE                 MedMNIST3D-style .npz (train/val/test keys); default: the bundled
                             AdrenalMNIST3D (adrenal gland masks from CT, 28^3, normal vs hyperplasia)
  --hdf5 FILE --key KEY      an HDF5 stack (N, D, H, W[, C]) or a group of one dataset per volume,
                             labels from --labels-key (a dataset in the file) or --csv (label[, id,
                             group, split])
  --csv FILE                 a table of volume files (.nii/.nii.gz, .tif, .npy, .h5) with columns
                             path, label and optional group, split

Every volume is checked for NaN/inf (--nan-policy), optionally windowed (--window, e.g. CT
Hounsfield windows) and resampled to --shape; normalisation (mean/variance per channel) is fitted on
the training split and saved in the model. Without a split column (or .npz splits), the data are
split stratified by class and, with groups (patients), group-disjoint. The model (default a 3D
ResNet-18 with the small-input stem) trains on "train" with MomentumSGD, "val" chooses the
learning-rate drops, early stopping and the kept epoch, and "test" is evaluated once.

Writes the run directory: config.json, history.csv, metrics.json, model.keras, training_curves.png,
predictions.csv, per_class.csv, confusion_matrix.csv/.png, roc.png, checkpoints/ (while training), and slices.png
(orthogonal mid-slices of test volumes with their true and predicted labels).

    biocnn volumes --out runs/adrenal
    biocnn volumes --hdf5 ct.h5 --key volumes --labels-key labels \\
        --window soft_tissue --shape 64 64 64 --augment --out runs/ct
"""

import os
import sys

from biocnn import cli

DATASETS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "datasets")
DEFAULT_NPZ = os.path.join(DATASETS, "medmnist", "adrenalmnist3d.npz")
ADRENAL_CLASSES = ["normal", "hyperplasia"]


def build_parser():
    parser = cli.parser(__doc__)
    cli.add_source_arguments(parser, ("volumes",), stream=True)
    cli.add_split_arguments(parser)
    cli.add_model_arguments(parser, "volumes")
    parser.add_argument("--no-normalize", dest="normalize", action="store_false",
                        help="skip the per-channel normalisation fitted on train")
    parser.add_argument("--examples", type=int, default=16, help="test volumes shown in slices.png (default %(default)s)")
    cli.add_training_arguments(parser, "volumes")
    parser.set_defaults(biocnn_command="volumes")
    return parser


def parse_args(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.stream and not (args.hdf5 or args.csv):
        parser.error("--stream applies to --hdf5 and --csv (an .npz is read into memory whole)")
    return args


def examples(labels, count):
    """Up to ``count`` sample indices taking the classes in turn (first of each class, second ...)."""
    import numpy as np

    rank_in_class = np.zeros(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        rank_in_class[labels == c] = np.arange(np.sum(labels == c))
    return np.argsort(rank_in_class, kind="stable")[:count]


def main(argv=None):
    args = parse_args(argv)
    from biocnn.commands import steps

    return steps.each_seed(args, train)  # --seeds: one run per seed, then mean +- sd


def train(args):
    """One run of the parsed arguments (one seed, into ``args.out``)."""
    from biocnn import gallery
    from biocnn.commands import steps
    from biocnn.evaluation import class_scores

    steps.check_export(args)
    default = None if (args.npz or args.hdf5 or args.csv) else ("npz", DEFAULT_NPZ)
    source = cli.open_source(args, "volumes", default=default,
                             class_names=ADRENAL_CLASSES if default else None)
    run, model, splits, parts, result = steps.train_source(args, source, normalize=args.normalize)
    x_test, y_test = splits["test"]
    scores = class_scores(result.scores["test"])
    shown = examples(y_test, args.examples)
    gallery.image_grid(x_test[shown], y_test[shown], scores[shown].argmax(1), source.class_names,
                       run.file("slices.png"), columns=4, title="test volumes: orthogonal mid-slices",
                       confidences=scores[shown].max(1))
    steps.report(result, run)
    steps.export(args, run)
    return result


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
