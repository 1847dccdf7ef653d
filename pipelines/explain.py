"""Explain a trained model: saliency, integrated gradients and Grad-CAM overlays, and its filters.

For a run directory written by classify_images / classify_volumes / classify_sequences
(model.keras and config.json) and a few inputs, writes to --out:

  attributions.png   one row per input: the input, then gradient saliency, integrated
                     gradients and Grad-CAM (upsampled to the input) laid over it, for the
                     class --class (default: the predicted class); 3D volumes as their three
                     orthogonal mid-slices, sequences as letters x positions
  filters.png        the first convolution's filters (2D; middle depth slice for 3D;
                     letters x positions for 1D)
  explained.csv      which inputs, their labels, the class explained and its score
  dream.png          with --dream: the first input, its Deep Dream on the Grad-CAM layer
                     (jitter, 3 octaves), and activation maximisation from noise of the
                     --dream channels of that layer most active on the inputs

Inputs, one of:
  --npz FILE   a MedMNIST-style .npz; --split (default test)
  --csv FILE   a sequence table, encoded as the run's config.json says
--count inputs are taken evenly spaced through the split or table (so not all of one class).

    python pipelines/explain.py --run runs/breastmnist --npz datasets/medmnist/breastmnist.npz --out runs/breastmnist/explain
    python pipelines/explain.py --run runs/splice --csv datasets/splice/splice.csv --out runs/splice/explain
"""

import argparse
import json
import pathlib
import sys

import biocnn  # noqa: F401  (before keras: biocnn sets TensorFlow's CPU defaults)
import keras
import numpy as np
import pandas as pd

from biocnn import cli, interpret
from biocnn.data import Encoding, load_npz_splits, read_sequence_csv
from biocnn.rundir import atomic_path


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="run directory with model.keras and config.json")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--npz", help="a MedMNIST-style .npz of images or volumes")
    source.add_argument("--csv", help="a CSV of sequences (columns as in the run's config.json)")
    parser.add_argument("--split", default="test", help="the .npz split to explain (default %(default)s)")
    parser.add_argument("--count", type=int, default=4, help="inputs explained (default %(default)s)")
    parser.add_argument("--class", dest="class_index", type=int, help="the class explained (default: the predicted one)")
    parser.add_argument("--layer", help="Grad-CAM's layer (default: the last convolutional feature map)")
    parser.add_argument("--steps", type=int, default=32, help="integrated-gradients steps (default %(default)s)")
    parser.add_argument("--dream", type=int, default=0, metavar="CHANNELS",
                        help="also write dream.png, maximising this many channels (default: no dream)")
    parser.add_argument("--out", required=True, help="folder for the PNGs")
    return parser.parse_args(argv)


def load_run(run):
    run = pathlib.Path(run)
    for name in ("model.keras", "config.json"):
        if not (run / name).is_file():
            raise FileNotFoundError(f"{run / name} not found: --run must be a finished run directory.")
    return keras.saving.load_model(run / "model.keras"), json.loads((run / "config.json").read_text())


def spread(n, count):
    """``count`` indices evenly spaced over ``range(n)``."""
    if count < 1:
        raise ValueError(f"--count must be at least 1, got {count}.")
    return np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))


def read_inputs(args, config):
    """(inputs, labels, ids) of the first --count samples."""
    if args.npz:
        splits = load_npz_splits(args.npz)
        if args.split not in splits:
            raise ValueError(f"--split {args.split!r} is not in {args.npz}; it has {sorted(splits)}.")
        x, y = splits[args.split]
        pick = spread(len(x), args.count)
        return x[pick], y[pick], [f"{args.split} {i}" for i in pick]
    arguments = config.get("arguments", {})
    table = read_sequence_csv(args.csv, arguments.get("sequence_column") or "sequence",
                              arguments.get("label_column") or "label", arguments.get("id_column"),
                              alphabet=config["encoding"]["alphabet"])
    table = table.iloc[spread(len(table), args.count)]
    x = Encoding.from_dict(config["encoding"]).encode(table["sequence"].tolist())
    labels = [config["class_names"].index(label) if label in config["class_names"] else -1 for label in table["label"]]
    return x, np.array(labels), table["id"].tolist()


def write_dreams(model, x, layer, count, path):
    """Deep Dream of ``x[0]`` on ``layer``; activation maximisation, from noise, of the ``count``
    channels of ``layer`` most active on ``x`` (ReLU channels that never fire have no gradient)."""
    low, high = float(x.min()), float(x.max())
    maps = interpret.feature_maps(model, x, layer)
    channels = np.argsort(-maps.reshape(-1, maps.shape[-1]).mean(axis=0), kind="stable")[:count]
    dreamed = interpret.deep_dream(model, x[0], layer=layer, steps=10, step_size=0.02, clip=(low, high))
    maxima = [interpret.deep_dream(model, None, layer=layer, channel=int(c), steps=10, step_size=0.05,
                                   clip=(low, high), seed=int(c)) for c in channels]
    interpret.plot_dreams([x[0], dreamed] + maxima, ["input", "Deep Dream"]
                          + [f"channel {c} maximised" for c in channels], path)


def main(argv=None):
    args = parse_args(argv)
    model, config = load_run(args.run)
    x, labels, ids = read_inputs(args, config)
    class_names = config.get("class_names") or [str(c) for c in range(model.outputs[0].shape[-1])]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # 1. The class explained: the predicted one unless --class names one.
    scores = model.predict(x, verbose=0)
    explained = np.full(len(x), args.class_index) if args.class_index is not None else scores.argmax(axis=1)

    # 2. Attributions, each shaped like the input (Grad-CAM without channels).
    maps = [interpret.saliency(model, x, explained),
            np.abs(interpret.integrated_gradients(model, x, explained, steps=args.steps)),
            interpret.grad_cam(model, x, explained, layer=args.layer)]
    titles = ["saliency", "|integrated gradients|", "Grad-CAM"]
    interpret.plot_attributions(x, maps, out / "attributions.png", titles)
    interpret.plot_filters(model, out / "filters.png")

    if args.dream:
        write_dreams(model, x, args.layer or interpret.features.conv_layer_name(model), args.dream, out / "dream.png")

    table = pd.DataFrame({"id": ids, "label": [class_names[i] if i >= 0 else "" for i in labels],
                          "explained_class": [class_names[i] for i in explained],
                          "score": scores[np.arange(len(x)), explained]})
    with atomic_path(out / "explained.csv") as tmp:
        table.to_csv(tmp, index=False)
    print(table.to_string(index=False))
    print(f"Grad-CAM layer: {args.layer or interpret.features.conv_layer_name(model)}; wrote {out}/attributions.png, "
          f"filters.png, explained.csv")


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
