"""Train and evaluate a 2D CNN on microscopy (or any 2D) images: from files to honest metrics.

Data, one of:
  --folder DIR   a folder per class: DIR/<class>/**/<image>
  --csv FILE     a table with columns path,label and optional group (patient, slide, source
                 image: never on both sides of a split) and split (train/val/test); paths are
                 relative to the CSV's folder and may not leave --root (default that folder)
  --npz FILE     a MedMNIST-style .npz with its own train/val/test split
Images: TIFF and OME-TIFF (multi-channel, multi-page), PNG and JPEG, 8 or 16 bit.

Steps: read and check every file header (channel counts, sizes); split (the table's split
column, or stratified by class and group-aware, --test-size/--val-size); load the images
(integer images divided by their dtype's maximum, --channels selected, resized to --size),
or stream them from disk batch by batch (--stream); build --model (default ResNet-18, whose
stem is the small-input 3x3 one up to 64 px) behind in-model preprocessing fitted on the
training split only (--clip percentiles per image, then per-channel normalisation), so the
saved model takes raw intensities; train with the --augment policy; the validation split
chooses the learning-rate drops, early stopping and the epoch kept; the test split is
evaluated once.

Writes the run directory: config.json, history.csv, metrics.json, model.keras,
training_curves.png, predictions.csv, per_class.csv, confusion_matrix.csv/.png, roc.png,
misclassified.png, checkpoints/.

    python pipelines/classify_images.py --csv datasets/bccd_cells/cells.csv --augment microscopy --out runs/bccd
    python pipelines/classify_images.py --npz datasets/medmnist/breastmnist.npz --out runs/breastmnist
"""

import argparse
import ast
import sys
import time

import numpy as np

import biocnn
from biocnn import augment, cli, gallery
from biocnn.data import (
    check_training_labels,
    image_dataset,
    load_images,
    load_npz_splits,
    split_table,
    table_from_csv,
    table_from_folder,
)
from biocnn.data.preprocess import fit_preprocessing, resize, select_channels, with_preprocessing
from biocnn.experiment import train_and_evaluate
from biocnn.rundir import RunDirectory

SPLITS = ("train", "val", "test")


def model_option(text):
    """``KEY=VALUE`` -> (key, value); the value is a Python literal if it reads as one."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--model-option expects KEY=VALUE (e.g. width_multiplier=0.5), got {text!r}.")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    source = data.add_mutually_exclusive_group(required=True)
    source.add_argument("--folder", help="a folder per class")
    source.add_argument("--csv", help="a CSV with path,label[,group][,split]")
    source.add_argument("--npz", help="a MedMNIST-style .npz (train/val/test)")
    data.add_argument("--root", help="data root for --csv; no path may leave it (default: the CSV's folder)")
    data.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="resize every image to H x W")
    data.add_argument("--channels", type=int, nargs="+", metavar="I", help="channel indices to keep, e.g. 0 2")
    data.add_argument("--class-names", nargs="+", help="class names in label order (default: sorted labels)")
    data.add_argument("--test-size", type=float, default=0.2, help="test fraction without a split column (default %(default)s)")
    data.add_argument("--val-size", type=float, default=0.1, help="validation fraction (default %(default)s)")
    data.add_argument("--split-seed", type=int, default=0, help="seed of the split, kept apart from --seed (default %(default)s)")
    data.add_argument("--stream", action="store_true", help="read training images from disk each epoch instead of memory")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default="resnet18", help=f"one of: {', '.join(biocnn.models.available())} (default %(default)s)")
    model.add_argument("--model-option", type=model_option, nargs="+", default=[], metavar="KEY=VALUE",
                       help="constructor options, e.g. width_multiplier=0.5 dropout=0.2")
    model.add_argument("--augment", default="none", help=f"augmentation policy or spec: {', '.join(augment.POLICIES)} (default %(default)s)")
    model.add_argument("--clip", type=float, nargs=2, metavar=("LOW", "HIGH"),
                       help="clip each image to these percentiles first (16-bit microscopy: 1 99.8)")
    model.add_argument("--examples", type=int, default=32, help="misclassified test images shown (default %(default)s)")
    cli.add_training_arguments(parser)
    biocnn.export.add_export_argument(parser)
    parser.set_defaults(epochs=40, batch_size=32)
    args = parser.parse_args(argv)
    if args.npz and (args.stream or args.root):
        parser.error("--stream and --root apply to --folder and --csv only")
    return args


def table_splits(args, batch_size):
    """Folder or CSV -> arrays per split (training streamed with --stream), ids, class names."""
    if args.folder:
        table = table_from_folder(args.folder, args.class_names)
    else:
        table = table_from_csv(args.csv, args.root, args.class_names)
    tables = split_table(table, args.test_size, args.val_size, args.split_seed)
    load = dict(shape=args.size, channels=args.channels)
    splits = {}
    for split in SPLITS:
        if split == "train" and args.stream:
            images = image_dataset(tables[split], batch_size, shuffle=True, seed=args.seed, **load)
        else:
            images = load_images(tables[split], **load)
        splits[split] = (images, tables[split].labels)
    # Normalisation statistics are fitted on one unshuffled pass over the training files.
    train_inputs = image_dataset(tables["train"], 256, **load) if args.stream else splits["train"][0]
    return splits, train_inputs, {s: t.ids for s, t in tables.items()}, list(table.class_names)


def npz_splits(args):
    """An .npz's own split, with --channels and --size applied to every image."""
    splits = load_npz_splits(args.npz)
    for split, (x, y) in splits.items():
        if x.ndim != 4:
            raise ValueError(
                f"{args.npz}: {split}_images has shape {x.shape[1:]} per sample; this pipeline "
                "classifies 2D images (H, W, C). For volumes use pipelines/classify_volumes.py."
            )
        if args.channels:
            x = select_channels(x, args.channels, where=f"{args.npz} {split}_images")
        if args.size:
            x = np.stack([resize(image, args.size) for image in x])
        splits[split] = (x, y)
    num_classes = int(max(y.max() for _, y in splits.values())) + 1
    class_names = args.class_names or [str(c) for c in range(num_classes)]
    check_training_labels({s: y for s, (_, y) in splits.items()}, class_names)
    return splits, class_names


def main(argv=None):
    started = time.perf_counter()
    args = parse_args(argv)
    config = cli.training_config(args)
    biocnn.export.check_export_argument(args)

    # 1. Data: arrays per split (the training split streamed from disk with --stream).
    if args.npz:
        (splits, class_names), ids = npz_splits(args), None
        train_inputs = splits["train"][0]
    else:
        splits, train_inputs, ids, class_names = table_splits(args, config.batch_size)
    input_shape = splits["val"][0].shape[1:]
    print(", ".join(f"{s} {len(y)}" for s, (_, y) in splits.items())
          + f" images of shape {input_shape}; classes {class_names}", flush=True)
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=args.resume)

    # 2. Model: in-model preprocessing fitted on the training split only, then the network.
    biocnn.training.set_seed(args.seed)
    preprocessing = fit_preprocessing(train_inputs, percentiles=args.clip)
    network = biocnn.models.create(args.model, input_shape, len(class_names), **dict(args.model_option))
    model = with_preprocessing(preprocessing, network)
    augmentation = None if args.augment == "none" else augment.policy(args.augment, rank=2, seed=args.seed, channels=input_shape[-1])
    print(f"{args.model}: {model.count_params():,} parameters; augmentation: {args.augment}", flush=True)

    # 3. Train, select on validation, evaluate on test; then show the test mistakes.
    inputs = {"source": args.folder or args.csv or args.npz, "input_shape": list(input_shape), "channels": args.channels,
              "size": args.size, "clip_percentiles": args.clip, "normalisation": "per channel, training split",
              "intensity_scaling": "integer images divided by their dtype maximum", "streamed": bool(args.stream),
              "split": "npz" if args.npz else {"test_size": args.test_size, "val_size": args.val_size, "seed": args.split_seed}}
    result = train_and_evaluate(run, model, splits, config, vars(args), class_names, ids=ids,
                                augmentation=augmentation, extra_config={"inputs": inputs})
    x_test, y_test = splits["test"]
    mistakes = gallery.save_misclassified(run.file("misclassified.png"), x_test, y_test, result.scores["test"],
                                          class_names, limit=args.examples)

    test = result.metrics["test"]
    print(f"test: accuracy {test['accuracy']:.3f}, AUROC {test['auroc']:.3f}, AUPRC {test['auprc']:.3f} "
          f"(best epoch {result.metrics['best_epoch']}); {mistakes} misclassified")
    for name, row in test["per_class"].items():
        print(f"  {name}: precision {row['precision']:.3f}, recall {row['recall']:.3f}, F1 {row['f1']:.3f}, n={row['support']}")
    print(f"wall time {time.perf_counter() - started:.0f} s; run directory: {run.path}")
    biocnn.export.export_run(args, run.path)


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
