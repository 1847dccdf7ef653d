"""Explain a trained model: saliency, integrated gradients and Grad-CAM overlays, and its filters.

For a run directory written by biocnn images / volumes / sequences / transfer (model.keras and
config.json) and a few inputs of any source the run's modality reads, writes to --out:

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

Inputs: any source (--npz, --folder, --csv, --hdf5, --fasta/--labels, --class, --bed), read as
the run read its data (the run's encoding, image size and channels, volume preprocessing). The
source's labels must be among the run's classes, else it is refused. --count inputs are taken
evenly spaced through the --split (when the source has splits) or the whole source.

    biocnn explain --run runs/breastmnist --npz datasets/medmnist/breastmnist.npz --out runs/breastmnist/explain
    biocnn explain --run runs/splice --csv datasets/splice/splice.csv --id-column instance_name --out runs/splice/explain
"""

import pathlib
import sys

from biocnn import cli


def build_parser():
    parser = cli.parser(__doc__)
    parser.add_argument("--run", required=True, help="run directory with model.keras and config.json")
    cli.add_source_arguments(parser, stream=False)
    parser.add_argument("--split", default="test", help="the split to explain, when the source has splits (default %(default)s)")
    parser.add_argument("--count", type=int, default=4, help="inputs explained (default %(default)s)")
    parser.add_argument("--target-class", dest="class_index", type=int,
                        help="index of the class explained (default: the predicted one); --class NAME=PATH is a FASTA per class")
    parser.add_argument("--layer", help="Grad-CAM's layer (default: the last convolutional feature map)")
    parser.add_argument("--steps", type=int, default=32, help="integrated-gradients steps (default %(default)s)")
    parser.add_argument("--dream", type=int, default=0, metavar="CHANNELS",
                        help="also write dream.png, maximising this many channels (default: no dream)")
    parser.add_argument("--out", required=True, help="folder for the PNGs")
    parser.set_defaults(biocnn_command="explain")
    return parser


def parse_args(argv):
    return build_parser().parse_args(argv)


def load_run(run):
    import keras

    from biocnn import rundir

    run = pathlib.Path(run)
    config = rundir.read_config(run)
    if not (run / "model.keras").is_file():
        raise FileNotFoundError(f"{run / 'model.keras'} not found: --run must be a finished run directory.")
    return keras.saving.load_model(run / "model.keras"), config


def spread(n, count):
    """``count`` indices evenly spaced over ``range(n)``."""
    import numpy as np

    if count < 1:
        raise ValueError(f"--count must be at least 1, got {count}.")
    return np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))


def read_inputs(args, config, class_names):
    """(inputs, labels, ids) of --count samples of the source, read as the run read its data."""
    import numpy as np

    from biocnn.data import Encoding

    inputs = config["inputs"]  # rundir.read_config: always a dict
    for key in ("size", "channels"):  # images: the run's loading
        if hasattr(args, key) and getattr(args, key) is None and inputs.get(key):
            setattr(args, key, inputs[key])
    preprocessing = config.get("preprocessing")
    if isinstance(preprocessing, dict) and args.shape is None and args.window is None:
        args.nan_policy = preprocessing.get("nan_policy", args.nan_policy)
        args.window = preprocessing.get("window")
        args.window = None if args.window is None else [str(w) for w in np.atleast_1d(args.window)]
        args.shape = preprocessing.get("target_shape")
    encoding = Encoding.from_dict(config["encoding"]) if config.get("encoding") else None
    try:
        source = cli.open_source(args, encoding=encoding, class_names=class_names)
    except ValueError as error:
        raise ValueError(f"the source does not fit the run {args.run} (classes {class_names}): {error}") from None
    if source.class_names != list(class_names):
        raise ValueError(f"{source.path}: its classes {source.class_names} do not match the run's {class_names}; "
                         "explain data labelled with the run's classes.")
    rows = np.arange(len(source))
    if source.table.splits is not None:
        if args.split not in set(source.table.splits):
            raise ValueError(f"--split {args.split!r} is not in {source.path}; it has {sorted(set(source.table.splits))}.")
        rows = np.flatnonzero(source.table.splits == args.split)
    pick = rows[spread(len(rows), args.count)]
    return source.load(pick), source.labels[pick], source.ids[pick].tolist()


def write_dreams(model, x, layer, count, path):
    """Deep Dream of ``x[0]`` on ``layer``; activation maximisation, from noise, of the ``count``
    channels of ``layer`` most active on ``x`` (ReLU channels that never fire have no gradient)."""
    import numpy as np

    from biocnn import interpret

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
    import numpy as np
    import pandas as pd

    from biocnn import interpret
    from biocnn.rundir import atomic_path

    model, config = load_run(args.run)
    class_names = config.get("class_names") or [str(c) for c in range(model.outputs[0].shape[-1])]
    x, labels, ids = read_inputs(args, config, class_names)
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

    table = pd.DataFrame({"id": ids, "label": [class_names[i] for i in labels],
                          "explained_class": [class_names[i] for i in explained],
                          "score": scores[np.arange(len(x)), explained]})
    with atomic_path(out / "explained.csv") as tmp:
        table.to_csv(tmp, index=False)
    print(table.to_string(index=False))
    print(f"Grad-CAM layer: {args.layer or interpret.features.conv_layer_name(model)}; wrote {out}/attributions.png, "
          f"filters.png, explained.csv")
    return table


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
