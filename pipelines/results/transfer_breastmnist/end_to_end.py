"""Reference arm for the transfer comparison: the same keras.applications network trained end to end from
random weights, batch norm included (pipelines/transfer_learning.py keeps batch norm frozen in inference mode,
which is right for pre-trained statistics but leaves a random network without normalisation).

Same data, split, backbone input (in-graph resize, preprocessing, channel adaptation), head and seed as
transfer_learning.py; trained with biocnn.experiment.train_and_evaluate (one phase, all layers), so it writes the
usual run directory. Batch-norm momentum is set to --bn-momentum (keras.applications' MobileNetV2 uses 0.999:
with 17-31 steps an epoch its moving statistics would still be mostly their initial values at the end).

    python pipelines/results/transfer_breastmnist/end_to_end.py --npz datasets/medmnist/breastmnist.npz \
        --backbone MobileNetV2 --resize 32 32 --epochs 30 --out runs/breast_end_to_end
"""

import argparse
import sys

import keras

import biocnn
from biocnn import cli, transfer
from biocnn.data import load_images, load_npz_splits, split_table, table_from_csv
from biocnn.experiment import train_and_evaluate
from biocnn.rundir import RunDirectory


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--npz", help="MedMNIST-style .npz with train/val/test")
    source.add_argument("--csv", help="images listed as path,label[,group]; split 0.2 test / 0.1 val, split seed 0")
    parser.add_argument("--class-names", nargs="+", help="class names in label order")
    parser.add_argument("--backbone", default="MobileNetV2")
    parser.add_argument("--resize", type=int, nargs=2, metavar=("H", "W"), help="resize inside the model")
    parser.add_argument("--bn-momentum", type=float, default=0.99, help="batch-norm momentum (default %(default)s)")
    parser.add_argument("--dropout", type=float, default=0.2, help="dropout before the head (default %(default)s)")
    cli.add_training_arguments(parser)
    parser.set_defaults(epochs=30, batch_size=32, lr=0.01)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    config = cli.training_config(args)
    if args.npz:
        splits, ids = load_npz_splits(args.npz), None
        class_names = args.class_names or [str(c) for c in range(int(max(y.max() for _, y in splits.values())) + 1)]
    else:
        table = table_from_csv(args.csv, None, args.class_names)
        tables = split_table(table, 0.2, 0.1, 0)
        splits = {s: (load_images(t), t.labels) for s, t in tables.items()}
        ids, class_names = {s: t.ids for s, t in tables.items()}, list(table.class_names)
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=args.resume)
    biocnn.training.set_seed(args.seed)
    features = transfer.backbone(args.backbone, weights=None, input_shape=splits["train"][0].shape[1:],
                                 resize=args.resize, input_scale=255.0)
    for layer in features.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = args.bn_momentum
    model = transfer.classifier(features, len(class_names), dropout=args.dropout)
    result = train_and_evaluate(run, model, splits, config, vars(args), class_names, ids=ids,
                                extra_config={"arm": "end to end from random weights, batch norm trained"})
    test = result.metrics["test"]
    print(f"test: accuracy {test['accuracy']:.3f}, AUROC {test['auroc']:.3f} (best epoch {result.metrics['best_epoch']})")


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
