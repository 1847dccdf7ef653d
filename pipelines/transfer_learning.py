"""Transfer learning: fine-tune an ImageNet backbone (keras.applications) on 2D images or 3D volumes.

Data, one of:
  --npz FILE     a MedMNIST-style .npz with its own train/val/test split: 2D images (N, H, W[, C])
                 or 3D volumes (N, D, H, W[, C]); volumes are classified by the inflated (I3D)
                 backbone
  --folder DIR   2D images, a folder per class (as pipelines/classify_images.py)
  --csv FILE     2D images listed in a table path,label[,group][,split] (as classify_images.py)
Integer images are divided by their dtype's maximum on loading, so --input-scale 255 (default)
gives the backbone the 0..255 intensities ImageNet networks expect.

Steps: load and split; build --backbone with --weights (imagenet: downloaded by Keras; a path:
a local keras.applications weights file; none: random, trained from scratch) for the images' size and channels (the
backbone's preprocessing, resizing and first-convolution channel adaptation are inside the
model); for volumes inflate it to 3D (--inflate-depth, --inflate-mode); add a new head; phase 1
trains the head for --head-epochs with the backbone frozen, phase 2 unfreezes the top --unfreeze
blocks (batch norm frozen) for up to --epochs at --lr x --fine-tune-lr-factor; the validation
split chooses the epochs kept; the test split is evaluated once. With --weights none there is
nothing to transfer: the whole network, batch norm included, is trained end to end in one phase
for --epochs at --lr (--head-epochs, --unfreeze and --fine-tune-lr-factor are not used; set
--bn-momentum 0.99 or lower on small data, since keras.applications' 0.999 barely moves in a few
hundred steps).

Writes the run directory: config.json, history.csv (both phases, column phase), metrics.json,
model.keras, training_curves.png, predictions.csv, per_class.csv, confusion_matrix.csv/.png,
roc.png, checkpoints/head and checkpoints/fine_tune (--resume continues either phase).

    python pipelines/transfer_learning.py --npz datasets/medmnist/breastmnist.npz --backbone ResNet50 \\
        --weights ~/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 --out runs/breast_transfer
    python pipelines/transfer_learning.py --npz datasets/medmnist/adrenalmnist3d.npz --backbone VGG16 \\
        --weights none --out runs/adrenal_i3d
"""

import argparse
import os
import sys
import time

import numpy as np

import biocnn
from biocnn import cli, transfer
from biocnn.data import check_training_labels, load_images, load_npz_splits, split_table, table_from_csv, table_from_folder
from biocnn.experiment import train_and_evaluate
from biocnn.rundir import RunDirectory

SPLITS = ("train", "val", "test")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    source = data.add_mutually_exclusive_group(required=True)
    source.add_argument("--npz", help="MedMNIST-style .npz (train/val/test): images or volumes")
    source.add_argument("--folder", help="2D images, a folder per class")
    source.add_argument("--csv", help="2D images: a CSV with path,label[,group][,split]")
    data.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="resize images to H x W on loading (--folder/--csv)")
    data.add_argument("--class-names", nargs="+", help="class names in label order")
    data.add_argument("--test-size", type=float, default=0.2, help="test fraction without a split column (default %(default)s)")
    data.add_argument("--val-size", type=float, default=0.1, help="validation fraction (default %(default)s)")
    data.add_argument("--split-seed", type=int, default=0, help="seed of the split (default %(default)s)")
    model = parser.add_argument_group("backbone")
    model.add_argument("--backbone", default="ResNet50", help=f"one of: {', '.join(transfer.BACKBONES)} (default %(default)s)")
    model.add_argument("--weights", default="imagenet",
                       help="imagenet (downloaded by Keras), a local weights file, or none (random weights, trained "
                            "end to end in one phase, batch norm included) (default %(default)s)")
    model.add_argument("--alpha", type=float, help="width of MobileNetV2/V3 (keras.applications alpha)")
    model.add_argument("--resize", type=int, nargs=2, metavar=("H", "W"),
                       help="resize inside the model (default: up to the family's minimum, 32)")
    model.add_argument("--input-scale", type=float, default=255.0,
                       help="multiplies the loaded images (in [0, 1]) to the backbone's 0..255 (default %(default)s)")
    model.add_argument("--bn-momentum", type=float,
                       help="momentum of every batch-norm layer (default: the family's, 0.99 or 0.999)")
    model.add_argument("--dropout", type=float, default=0.2, help="dropout before the new head (default %(default)s)")
    model.add_argument("--inflate-depth", type=int, default=3, help="volumes: depth of the inflated kernels (default %(default)s)")
    model.add_argument("--inflate-mode", default="repeat", choices=transfer.INFLATE_MODES,
                       help="volumes: kernels repeated over depth / depth, or at the centre slice (default %(default)s)")
    tune = parser.add_argument_group("fine-tuning")
    tune.add_argument("--head-epochs", type=int, default=5, help="phase 1: epochs of the head alone (default %(default)s)")
    tune.add_argument("--unfreeze", default="2", help="phase 2: top blocks to unfreeze, an int or 'all'; 0: no phase 2 (default %(default)s)")
    tune.add_argument("--fine-tune-lr-factor", type=float, default=0.1,
                      help="phase 2 learning rate = --lr x this (default %(default)s)")
    cli.add_training_arguments(parser)
    parser.set_defaults(epochs=20, batch_size=32, lr=0.01)
    args = parser.parse_args(argv)
    if args.unfreeze != "all":
        try:
            args.unfreeze = int(args.unfreeze)
        except ValueError:
            parser.error(f"--unfreeze takes a number of blocks or 'all', got {args.unfreeze!r}")
    return args


def weights_argument(value):
    """'none' -> None; 'imagenet' stays; anything else is a path (``~`` expanded)."""
    if value.lower() in ("none", "imagenet"):
        return None if value.lower() == "none" else "imagenet"
    return os.path.expanduser(value)


def read_splits(args):
    """dict split -> (x, y), class names, ids; every split's samples of one shape."""
    if args.npz:
        splits = load_npz_splits(args.npz)
        num_classes = int(max(y.max() for _, y in splits.values())) + 1
        class_names = args.class_names or [str(c) for c in range(num_classes)]
        check_training_labels({s: y for s, (_, y) in splits.items()}, class_names)
        return splits, class_names, None
    table = table_from_folder(args.folder, args.class_names) if args.folder else table_from_csv(args.csv, None, args.class_names)
    tables = split_table(table, args.test_size, args.val_size, args.split_seed)
    splits = {s: (load_images(tables[s], shape=args.size), tables[s].labels) for s in SPLITS}
    return splits, list(table.class_names), {s: t.ids for s, t in tables.items()}


def build_model(args, sample_shape, num_classes):
    """The backbone for one 2D sample shape, inflated for volumes, with a new head."""
    volumes = len(sample_shape) == 4
    options = {} if args.alpha is None else {"alpha": args.alpha}
    features = transfer.backbone(args.backbone, weights=weights_argument(args.weights), input_shape=sample_shape[-3:],
                                 resize=args.resize, input_scale=args.input_scale, **options)
    if args.bn_momentum is not None:
        transfer.set_batch_norm_momentum(features, args.bn_momentum)
    model = transfer.classifier(features, num_classes, dropout=args.dropout)
    if volumes:
        model = transfer.inflate(model, depth=args.inflate_depth, mode=args.inflate_mode,
                                 input_depth=sample_shape[0], name=model.name)
    return model


def main(argv=None):
    started = time.perf_counter()
    args = parse_args(argv)
    config = cli.training_config(args)

    # 1. Data: arrays per split, scaled to [0, 1].
    splits, class_names, ids = read_splits(args)
    sample_shape = splits["train"][0].shape[1:]
    if len(sample_shape) not in (3, 4):
        raise ValueError(f"--npz: expected images (H, W, C) or volumes (D, H, W, C) per sample, got {sample_shape}.")
    print(", ".join(f"{s} {len(y)}" for s, (_, y) in splits.items())
          + f" samples of shape {sample_shape}; classes {class_names}", flush=True)
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=args.resume)

    # 2. Model: the backbone (3D: inflated) with a new head.
    biocnn.training.set_seed(args.seed)
    model = build_model(args, sample_shape, len(class_names))
    print(f"{args.backbone} ({args.weights}){' inflated to 3D' if len(sample_shape) == 4 else ''}: "
          f"{model.count_params():,} parameters", flush=True)

    # 3. Two-phase fine-tuning (random weights: one phase, end to end), selection on validation,
    #    one evaluation on test.
    extra = {"inputs": {"source": args.npz or args.folder or args.csv, "sample_shape": list(sample_shape),
                        "input_scale": args.input_scale, "weights": args.weights}}
    if weights_argument(args.weights) is None:
        result = train_and_evaluate(run, model, splits, config, vars(args), class_names, ids=ids,
                                    extra_config={**extra, "training_mode": "end to end from random weights"})
        metrics, tuned = result.metrics, "all layers trained end to end"
    else:
        metrics, _, result = transfer.fine_tune_and_evaluate(
            run, model, splits, config, vars(args), class_names, ids=ids, head_epochs=args.head_epochs,
            unfreeze=args.unfreeze, fine_tune_lr_factor=args.fine_tune_lr_factor, extra_config=extra)
        tuned = f"{len(result.unfrozen)} layers fine-tuned"
    test = metrics["test"]
    print(f"test: accuracy {test['accuracy']:.3f}, AUROC {test['auroc']:.3f} (best epoch {metrics['best_epoch']}, "
          f"{tuned}); wall time {time.perf_counter() - started:.0f} s; run directory: {run.path}")


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
