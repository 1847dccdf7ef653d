"""Pre-train a keras.applications backbone on Fashion-MNIST and save it as a "notop" weights file.

Why: ImageNet weights cannot be downloaded on machines without network, so the transfer-learning
comparison (pipelines/transfer_learning.py) needs a pre-trained backbone made here. Fashion-MNIST
(Zalando, 70,000 28x28 grey images of 10 clothing classes; Debian package dataset-fashion-mnist,
files in /usr/share/datasets/fashion-mnist) is the source set.

Steps: read the IDX files; hold out a stratified validation part of the training set (--val-size,
split seed --split-seed); build the standard 3-channel application (weights=None, include_top
False, average pooling) behind the grey -> RGB replication, an in-graph bilinear resize to --size
and the family's own preprocessing, so the application sees exactly what it sees when fed an RGB
image of raw intensities (0..255); add a 10-class softmax head; train with biocnn.training.fit
(MomentumSGD, learning-rate drops and the kept epoch chosen on validation, checkpoints every epoch:
--resume continues); evaluate once on the 10,000 test images.

Writes into --out (a run directory):
  <backbone>_fashion_mnist_notop.h5  the application's weights in the legacy Keras HDF5 format,
                                     the kind of file keras.applications distributes for ImageNet
                                     ("..._notop.h5"): it loads with keras.applications.<Name>(
                                     weights=PATH, include_top=False) or
                                     biocnn.transfer.backbone(name, weights=PATH, ...)
  pretrain.json                      backbone, input size, source, test accuracy, file and sha256
  and what every run writes (biocnn.experiment.train_and_evaluate): config.json, history.csv,
  metrics.json, model.keras, predictions.csv, training_curves.png, checkpoints/ ...

    python pipelines/pretrain_fashion_mnist.py --out /work/artifacts/fmnist_mobilenetv2
    python pipelines/pretrain_fashion_mnist.py --backbone ResNet50 --epochs 2 --out runs/fmnist_resnet50
"""

import argparse
import os
import sys
import time

import numpy as np

import biocnn  # noqa: F401  (before keras: biocnn sets TensorFlow's CPU defaults)
import keras
from biocnn import cli, experiment, training
from biocnn.data import load_idx_pair
from biocnn.data.preprocess import SpatialResize
from biocnn.rundir import RunDirectory, atomic_path, file_sha256
from biocnn.splits import holdout_split
from biocnn.utils import did_you_mean

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# keras.applications constructor -> the module whose preprocess_input belongs to it.
FAMILIES = {
    "MobileNetV2": "mobilenet_v2",
    "ResNet50": "resnet",
    "ResNet50V2": "resnet_v2",
    "DenseNet121": "densenet",
    "EfficientNetB0": "efficientnet",
    "VGG16": "vgg16",
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA, help="folder with the four Fashion-MNIST IDX files (default %(default)s)")
    parser.add_argument("--backbone", default="MobileNetV2", help=f"one of: {', '.join(FAMILIES)} (default %(default)s)")
    parser.add_argument("--size", type=int, default=32, help="side the 28 px images are resized to in the graph (default %(default)s)")
    parser.add_argument("--val-size", type=float, default=5000 / 60000, help="validation fraction of the training set (default 5000 images)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the validation split (default %(default)s)")
    parser.add_argument("--bn-momentum", type=float, default=0.99,
                        help="momentum of the moving BN statistics while pre-training (default %(default)s; see build)")
    parser.add_argument("--limit", type=int, help="use only the first N training images (a quick check of the script)")
    cli.add_training_arguments(parser)
    parser.set_defaults(epochs=8, batch_size=128, lr=0.05, lr_patience=2, patience=4)
    args = parser.parse_args(argv)
    if args.backbone not in FAMILIES:
        parser.error(f"unknown --backbone '{args.backbone}'.{did_you_mean(args.backbone, FAMILIES)} "
                     f"Choose one of: {', '.join(FAMILIES)}.")
    return args


def load_fashion_mnist(folder, limit=None):
    """The Fashion-MNIST train and test sets as raw intensities 0..255, (N, 28, 28, 1) float32."""
    missing = [f for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz") if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST not found in '{folder}' (missing {', '.join(missing)}). Install it with "
            "'apt-get install dataset-fashion-mnist' or pass --data FOLDER holding the four IDX files."
        )
    sets = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y = load_idx_pair(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"),
                             os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"))
        sets[split] = (np.round(x * 255.0).astype(np.float32), y)  # the reader scales to [0, 1]; backbones take 0..255
    if limit:
        sets["train"] = tuple(a[:limit] for a in sets["train"])
    return sets


def build(backbone_name, size, num_classes, bn_momentum=None):
    """(classifier, application): grey 28 px -> RGB -> resize -> family preprocessing -> application -> head.

    ``bn_momentum`` replaces the application's batch-norm momentum during training (not part of
    the weights file). keras.applications' MobileNetV2 uses 0.999, made for ImageNet's 10,000
    steps an epoch: at Fashion-MNIST's 430 its moving statistics still hold 42% of their initial
    values after two epochs, and a randomly initialised network then predicts one class on the
    validation set (seen: validation accuracy 0.10 after 2 epochs, training accuracy 0.85).
    """
    application = getattr(keras.applications, backbone_name)(
        include_top=False, weights=None, input_shape=(size, size, 3), pooling="avg")
    for layer in application.layers:
        if bn_momentum is not None and isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum
    preprocess = getattr(keras.applications, FAMILIES[backbone_name]).preprocess_input
    inputs = keras.Input((28, 28, 1), name="image")
    rgb = keras.layers.Concatenate(name="grey_to_rgb")([inputs, inputs, inputs])
    resized = SpatialResize((size, size), name="resize")(rgb)
    features = application(preprocess(resized))
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="fashion_mnist_head")(features)
    return keras.Model(inputs, outputs, name=f"{backbone_name.lower()}_fashion_mnist"), application


def save_notop(application, path):
    """Write the application's weights as a legacy Keras HDF5 file (what keras.applications loads), atomically."""
    with atomic_path(path) as tmp:
        keras.saving.save_model(application, tmp, include_optimizer=False)
    return file_sha256(path)


def main(argv=None):
    started = time.perf_counter()
    args = parse_args(argv)
    config = cli.training_config(args)

    # 1. Data: the official training set minus a stratified validation part; the official test set.
    sets = load_fashion_mnist(args.data, args.limit)
    x_all, y_all = sets["train"]
    train_idx, val_idx = holdout_split(y_all, test_size=args.val_size, seed=args.split_seed, class_names=CLASS_NAMES)
    splits = {"train": (x_all[train_idx], y_all[train_idx]), "val": (x_all[val_idx], y_all[val_idx]), "test": sets["test"]}
    print(", ".join(f"{s} {len(y)}" for s, (_, y) in splits.items()) + " Fashion-MNIST images", flush=True)
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=args.resume)

    # 2. Model: the standard 3-channel application with random weights, behind grey -> RGB and resize.
    training.set_seed(args.seed)
    model, application = build(args.backbone, args.size, len(CLASS_NAMES), args.bn_momentum)
    print(f"{args.backbone} at {args.size} px: {application.count_params():,} backbone parameters", flush=True)

    # 3. Train (validation chooses the kept epoch), then evaluate once on the test set: the experiment path.
    result = experiment.train_and_evaluate(run, model, splits, config, vars(args), CLASS_NAMES,
                                           extra_config={"source": "Fashion-MNIST"}, verbose=2)
    test = result.metrics["test"]
    result = result.training

    # 4. The backbone alone, as a notop weights file, and what it is.
    weights_file = run.file(f"{args.backbone.lower()}_fashion_mnist_notop.h5")
    digest = save_notop(application, weights_file)
    summary = {
        "backbone": args.backbone, "input_shape": [args.size, args.size, 3], "pooling": "avg",
        "source": "Fashion-MNIST (70,000 28x28 grey images, 10 classes; not ImageNet)",
        "bn_momentum_in_pretraining": args.bn_momentum,
        "input_pipeline": "grey replicated to RGB, bilinear resize 28 -> size, "
                          f"keras.applications.{FAMILIES[args.backbone]}.preprocess_input on raw 0..255",
        "weights_file": weights_file, "sha256": digest,
        "test_accuracy": test["accuracy"], "test_loss": test["loss"], "val_accuracy": float(result.history["val_accuracy"].iloc[result.best_epoch - 1]),
        "best_epoch": result.best_epoch, "epochs_run": len(result.history),
        "train_images": len(splits["train"][1]), "seconds": round(time.perf_counter() - started, 1),
    }
    run.write_json("pretrain.json", summary)
    print(f"test accuracy {test['accuracy']:.4f} (best epoch {result.best_epoch}); weights: {weights_file}")


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
