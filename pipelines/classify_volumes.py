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
predictions.csv, per_class.csv, confusion_matrix.csv/.png, roc.png, checkpoints/, and slices.png
(orthogonal mid-slices of test volumes with their true and predicted labels).

    python pipelines/classify_volumes.py --out runs/adrenal
    python pipelines/classify_volumes.py --hdf5 ct.h5 --key volumes --labels-key labels \\
        --window soft_tissue --shape 64 64 64 --augment --out runs/ct
"""

import argparse
import os
import sys
import time

import numpy as np

import biocnn
from biocnn import cli, gallery
from biocnn.augment import policy
from biocnn.evaluation import class_scores
from biocnn.data import load_npz_splits, split_table
from biocnn.data.intensity import CT_WINDOWS, NAN_POLICIES
from biocnn.data.preprocess import fit_preprocessing, with_preprocessing
from biocnn.data.volume_datasets import (
    VolumePreprocessing,
    check_volume_shapes,
    load_volumes,
    source_for_table,
    volume_dataset,
    volume_table,
    volume_table_from_csv,
)
from biocnn.data.volumes import ArrayVolumes, HDF5Volumes, read_hdf5_array
from biocnn.experiment import train_and_evaluate
from biocnn.rundir import RunDirectory

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_NPZ = os.path.join(HERE, "..", "datasets", "medmnist", "adrenalmnist3d.npz")
ADRENAL_CLASSES = ["normal", "hyperplasia"]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--npz", help="MedMNIST3D-style .npz (default: bundled AdrenalMNIST3D)")
    data.add_argument("--hdf5", help="HDF5 file of volumes (with --key)")
    data.add_argument("--key", help="the HDF5 dataset (N, D, H, W[, C]) or group of volumes")
    data.add_argument("--labels-key", help="HDF5 dataset of the labels, one per volume")
    data.add_argument("--groups-key", help="HDF5 dataset of group ids (patients), one per volume")
    data.add_argument("--csv", help="table of volume files (path, label[, group, split]); "
                                    "with --hdf5: the labels (label[, id, group, split])")
    data.add_argument("--class-names", nargs="+", help="class names in label order")
    data.add_argument("--test-size", type=float, default=0.2,
                      help="held-out test fraction without predefined splits (default %(default)s)")
    data.add_argument("--val-size", type=float, default=0.1,
                      help="validation fraction without predefined splits (default %(default)s)")
    data.add_argument("--stream", action="store_true",
                      help="with --hdf5 or --csv: read the training volumes from disk batch by batch each epoch "
                           "(for data larger than memory; a resumed run then sees another epoch order)")
    pre = parser.add_argument_group("preprocessing")
    pre.add_argument("--shape", type=int, nargs=3, metavar=("D", "H", "W"), help="resample every volume to this shape")
    pre.add_argument("--window", nargs="+", metavar="W",
                     help=f"intensity window: a CT preset ({', '.join(CT_WINDOWS)}) or CENTER WIDTH")
    pre.add_argument("--nan-policy", default="raise", choices=NAN_POLICIES,
                     help="NaN/inf voxels: raise an error (default), or replace by zero or by the volume's min/max")
    pre.add_argument("--no-normalize", action="store_true", help="skip the per-channel normalisation fitted on train")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default="resnet18", help=f"one of: {', '.join(biocnn.models.available())}")
    model.add_argument("--width", type=float, help="width multiplier of the model's filters (ResNets), e.g. 0.25")
    model.add_argument("--augment", nargs="?", const="volume", default=None, metavar="POLICY",
                       help="augment training volumes (default policy 'volume' when given without a value)")
    model.add_argument("--examples", type=int, default=16, help="test volumes shown in slices.png (default %(default)s)")
    cli.add_training_arguments(parser)
    biocnn.export.add_export_argument(parser)
    parser.set_defaults(epochs=30, batch_size=32, lr=0.01)
    args = parser.parse_args(argv)
    if args.hdf5 and not args.key:
        parser.error("--hdf5 needs --key, the dataset or group that holds the volumes")
    if args.hdf5 and bool(args.labels_key) == bool(args.csv):
        parser.error("--hdf5 needs its labels from either --labels-key or --csv")
    if args.npz and (args.hdf5 or args.csv):
        parser.error("choose one data source: --npz, --hdf5 or --csv")
    if args.stream and not (args.hdf5 or args.csv):
        parser.error("--stream applies to --hdf5 and --csv (an .npz is read into memory whole)")
    return args


def window_argument(values):
    """--window lung -> "lung"; --window 40 400 -> (40.0, 400.0); None -> None."""
    if values is None:
        return None
    if len(values) == 1:
        return values[0]  # a preset name, checked by VolumePreprocessing
    try:
        center, width = (float(v) for v in values)
    except ValueError:
        raise ValueError(
            f"--window takes a preset ({', '.join(CT_WINDOWS)}) or CENTER WIDTH, got '{' '.join(values)}'."
        ) from None
    return center, width


def read_splits(args, preprocessing, batch_size):
    """dict split -> (volumes, labels), the training inputs for normalisation, class names, ids.

    Validation and test volumes are loaded into memory; with --stream the training split is a
    tf.data.Dataset that reads its batches from the file(s) each epoch.
    """
    if not (args.hdf5 or args.csv):
        path = args.npz or DEFAULT_NPZ
        splits = {s: (load_volumes(ArrayVolumes(x, name=f"{path}:{s}"), preprocessing=preprocessing), y)
                  for s, (x, y) in load_npz_splits(path).items()}
        class_names = args.class_names or (ADRENAL_CLASSES if args.npz is None else None)
        return splits, splits["train"][0], class_names, None
    if args.hdf5:
        source = HDF5Volumes(args.hdf5, args.key)
        labels = read_hdf5_array(args.hdf5, args.labels_key) if args.labels_key else None
        groups = read_hdf5_array(args.hdf5, args.groups_key) if args.groups_key else None
        table = volume_table(source, labels=labels, csv_path=None if labels is not None else args.csv,
                             groups=groups, class_names=args.class_names)
    else:
        table = volume_table_from_csv(args.csv, class_names=args.class_names)
        source = source_for_table(table)
    check_volume_shapes(source, preprocessing=preprocessing)  # all volumes, from headers, before any split
    tables = split_table(table, args.test_size, args.val_size, args.seed)
    parts = {s: source.indices_of(t.ids) for s, t in tables.items()}
    train = parts["train"]
    if args.stream:
        x_train = volume_dataset(source, table.labels, train, batch_size, preprocessing, shuffle=True, seed=args.seed)
        train_inputs = volume_dataset(source, None, train, batch_size, preprocessing)  # ordered, for statistics
    else:
        x_train = train_inputs = load_volumes(source, train, preprocessing)
    splits = {"train": (x_train, table.labels[train])}
    splits.update({s: (load_volumes(source, parts[s], preprocessing), table.labels[parts[s]]) for s in ("val", "test")})
    return splits, train_inputs, list(table.class_names), {s: [table.ids[j] for j in i] for s, i in parts.items()}


def examples(labels, count):
    """Up to ``count`` sample indices taking the classes in turn (first of each class, second ...)."""
    rank_in_class = np.zeros(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        rank_in_class[labels == c] = np.arange(np.sum(labels == c))
    return np.argsort(rank_in_class, kind="stable")[:count]


def main(argv=None):
    started = time.perf_counter()
    args = parse_args(argv)
    config = cli.training_config(args)
    biocnn.export.check_export_argument(args)

    # 1. Data: checked, windowed and resampled volumes per split (training streamed with --stream).
    preprocessing = VolumePreprocessing(args.nan_policy, window_argument(args.window), args.shape)
    splits, train_inputs, class_names, ids = read_splits(args, preprocessing, config.batch_size)
    input_shape = splits["val"][0].shape[1:]
    num_classes = len(class_names) if class_names else int(max(y.max() for _, y in splits.values())) + 1
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=args.resume)

    # 2. Model: normalisation fitted on the training split only, then the network.
    biocnn.training.set_seed(args.seed)
    options = {} if args.width is None else {"width_multiplier": args.width}
    model = biocnn.models.create(args.model, input_shape, num_classes, **options)
    if not args.no_normalize:
        model = with_preprocessing(fit_preprocessing(train_inputs, name="normalize"), model)
    augmentation = None
    if args.augment:
        augmentation = policy(args.augment, rank=3, seed=args.seed, channels=input_shape[-1])
    print(f"{args.model}: {model.count_params():,} parameters; volumes {input_shape}; "
          + ", ".join(f"{s} {len(y)}" for s, (_, y) in splits.items()), flush=True)

    # 3. Train, select on validation, evaluate on test; show test volumes with their predictions.
    result = train_and_evaluate(run, model, splits, config, vars(args), class_names, ids=ids, augmentation=augmentation,
                                extra_config={"preprocessing": preprocessing.to_dict(), "streamed": bool(args.stream)})
    x_test, y_test = splits["test"]
    scores = class_scores(result.scores["test"])
    shown = examples(y_test, args.examples)
    gallery.image_grid(x_test[shown], y_test[shown], scores[shown].argmax(1), class_names, run.file("slices.png"),
                       columns=4, title="test volumes: orthogonal mid-slices", confidences=scores[shown].max(1))
    test = result.metrics["test"]
    print(f"test: accuracy {test['accuracy']:.3f}, AUROC {test['auroc']:.3f}, AUPRC {test['auprc']:.3f} "
          f"(best epoch {result.metrics['best_epoch']}); wall time {time.perf_counter() - started:.0f} s; "
          f"run directory: {run.path}")
    biocnn.export.export_run(args, run.path)


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
