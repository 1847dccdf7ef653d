"""Train and evaluate a 2D CNN on microscopy (or any 2D) images: from files to honest metrics.

Data, one of:
  --folder DIR   a folder per class: DIR/<class>/**/<image>
  --csv FILE     a table with columns path,label and optional group (patient, slide, source
                 image: never on both sides of a split; --group-column names another column) and
                 split (train/val/test); paths are relative to the CSV's folder and may not leave
                 --root (default that folder)
  --npz FILE     a MedMNIST-style .npz with its own train/val/test split
Images: TIFF and OME-TIFF (multi-channel, multi-page), PNG and JPEG, 8 or 16 bit.

Steps: read and check every file header (channel counts, sizes); split (the table's split
column, or stratified by class and group-aware, --test-size/--val-size/--split-seed); load the
images (integer images divided by their dtype's maximum, --channels selected, resized to --size),
or stream them from disk batch by batch (--stream); build --model (default ResNet-18, whose
stem is the small-input 3x3 one up to 64 px) behind in-model preprocessing fitted on the
training split only (--clip percentiles per image, then per-channel normalisation), so the
saved model takes raw intensities; train with the --augment policy; the validation split
chooses the learning-rate drops, early stopping and the epoch kept; the test split is
evaluated once.

Writes the run directory: config.json, history.csv, metrics.json, model.keras,
training_curves.png, predictions.csv, per_class.csv, confusion_matrix.csv/.png, roc.png,
misclassified.png (checkpoints/ while training; --keep-checkpoints keeps it).
With --seeds 0 1 2: one such run per seed in OUT/seed_K/ and the mean +- sd in OUT/summary.json.

    biocnn images --csv datasets/bccd_cells/cells.csv --augment --out runs/bccd
    biocnn images --npz datasets/medmnist/breastmnist.npz --out runs/breastmnist
"""

import sys

from biocnn import cli


def build_parser(modality="images", default_npz=None, normalize=True, description=None):
    """The parser; ``modality`` picks the defaults row (``"npz"`` for pipelines/train_npz.py)."""
    parser = cli.parser(description or __doc__)
    cli.add_source_arguments(parser, ("images",), stream=True)
    cli.add_split_arguments(parser)
    cli.add_model_arguments(parser, modality)
    pre = parser.add_argument_group("preprocessing")
    pre.add_argument("--clip", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="clip each image to these percentiles first (16-bit microscopy: 1 99.8)")
    pre.add_argument("--no-normalize", dest="normalize", action="store_false",
                        help="feed intensities as read, without the per-channel normalisation fitted on train")
    parser.add_argument("--examples", type=int, default=32, help="misclassified test images shown (default %(default)s)")
    cli.add_training_arguments(parser, modality)
    parser.set_defaults(biocnn_command="images", npz=default_npz, normalize=normalize)
    return parser


def parse_args(argv, **kwargs):
    parser = build_parser(**kwargs)
    args = parser.parse_args(argv)
    if args.npz and (args.folder or args.csv) and args.npz == kwargs.get("default_npz"):
        args.npz = None  # the bundled default gives way to a named source
    if args.npz and (args.stream or args.root):
        parser.error("--stream and --root apply to --folder and --csv only")
    return args


def main(argv=None, **kwargs):
    args = parse_args(argv, **kwargs)
    from biocnn.commands import steps

    return steps.each_seed(args, train)  # --seeds: one run per seed, then mean +- sd


def train(args):
    """One run of the parsed arguments (one seed, into ``args.out``)."""
    from biocnn import gallery
    from biocnn.commands import steps

    steps.check_export(args)
    source = cli.open_source(args, "images")
    run, model, splits, parts, result = steps.train_source(args, source, normalize=args.normalize, clip=args.clip)
    x_test, y_test = splits["test"]
    mistakes = gallery.save_misclassified(run.file("misclassified.png"), x_test, y_test, result.scores["test"],
                                          source.class_names, limit=args.examples)
    steps.report(result, run, f"; {mistakes} misclassified")
    steps.export(args, run)
    return result


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
