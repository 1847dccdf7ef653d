"""Compare architectures: train two or more models on the same data, seed and budget.

Every model gets the same training split, the same seed (initialisation and batch order),
the same number of epochs and the same optimiser settings (biocnn.training.fit: MomentumSGD,
lr / 10 on a validation plateau, the best validation epoch kept). For each model the table
records its parameters, the best validation accuracy, test accuracy and AUROC of the kept
weights, and how many epochs (and seconds) it took to reach a target *training* error,
the measure of AlexNet's Figure 1 (25% on CIFAR-10: ReLU six times faster than tanh). The
training error is Keras's running accuracy over each epoch, in training mode (dropout on).

Data: any image or volume source of biocnn images / volumes (--npz, default the bundled
BreastMNIST, 28x28 ultrasound, 2 classes; --folder; --csv; --hdf5), split as they split it
(--test-size, --val-size, --split-seed, --group-column), or MNIST-style IDX files (gzip or not):
--idx-images/--idx-labels for training (a stratified, seeded --val-size split is held out) and
optionally --idx-test-images/--idx-test-labels.

Models are registry names with options: `lenet5`, `mlp:hidden_units=(256,)`,
`lenet5:activation=tanh`, `alexnet:stem=small,lrn=False,width_multiplier=0.25`.

Inputs are standardised per channel with the training split's mean and standard deviation
(a Normalization layer in front of every model; --no-normalize feeds them as read).

Writes the run directory --out: config.json, comparison.csv (one row per model and seed),
summary.csv (mean and standard deviation over seeds; epochs to the target averaged over the
seeds that reached it, with the fraction that did), learning_curves.png, and one run directory
per model and seed, <model>_seed<k>/, written by the experiment path every training command
uses (config.json, history.csv with the columns seconds and train_error, metrics.json,
predictions.csv, model.keras, checkpoints/ ...).

    biocnn compare --models lenet5 mlp --out runs/cnn_vs_mlp
    biocnn compare --models lenet5:activation=relu \\
        lenet5:activation=tanh --target-error 0.15 --out runs/relu_vs_tanh
"""

import argparse
import os
import re
import sys
import time
import warnings

from biocnn import cli

DATASETS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "datasets")
DEFAULT_NPZ = os.path.join(DATASETS, "medmnist", "breastmnist.npz")
DEFAULT_MODELS = ["lenet5", "mlp"]
DEFAULT_TARGET_ERROR = 0.15


def build_parser():
    parser = cli.parser(__doc__)
    cli.add_source_arguments(parser, ("images", "volumes"), stream=False)
    data = parser.add_argument_group("IDX files (instead of a source)")
    data.add_argument("--idx-images", help="IDX training images, e.g. train-images-idx3-ubyte.gz")
    data.add_argument("--idx-labels", help="IDX training labels, e.g. train-labels-idx1-ubyte.gz")
    data.add_argument("--idx-test-images", help="IDX test images (optional)")
    data.add_argument("--idx-test-labels", help="IDX test labels (optional)")
    data.add_argument("--val-fraction", type=float, help=argparse.SUPPRESS)  # old spelling of --val-size
    data.add_argument("--max-train", type=int, help="train on at most this many samples (a seeded random subset)")
    data.add_argument("--no-normalize", dest="normalize", action="store_false",
                      help="feed intensities as read, without the per-channel standardisation fitted on train")
    cli.add_split_arguments(parser)
    compare = parser.add_argument_group("comparison")
    compare.add_argument("--models", nargs="+", default=DEFAULT_MODELS,
                         help="model specs, name[:option=value,...] (default: %(default)s; list them: biocnn models)")
    compare.add_argument("--target-error", type=float, default=DEFAULT_TARGET_ERROR,
                         help="training error whose first epoch is reported (default %(default)s)")
    compare.add_argument("--seeds", type=int, nargs="+", help="repeat every model with each seed (default: --seed)")
    cli.add_training_arguments(parser, "compare")
    parser.set_defaults(biocnn_command="compare")
    return parser


def parse_args(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.idx_images and any(getattr(args, f, None) for f in ("npz", "folder", "csv", "hdf5")):
        parser.error("give a source (--npz, --folder, --csv, --hdf5) or --idx-images/--idx-labels, not both")
    if bool(args.idx_images) != bool(args.idx_labels):
        parser.error("--idx-images and --idx-labels go together")
    if bool(args.idx_test_images) != bool(args.idx_test_labels):
        parser.error("--idx-test-images and --idx-test-labels go together")
    if not 0.0 < args.target_error < 1.0:
        parser.error(f"--target-error must be a fraction between 0 and 1, got {args.target_error}")
    if args.val_fraction is not None:
        warnings.warn(f"--val-fraction is an old spelling; write --val-size {args.val_fraction}", DeprecationWarning,
                      stacklevel=2)
        args.val_size = args.val_fraction
    return args


def load_data(args):
    """The data of the comparison, from the source (default BreastMNIST) or from IDX files with a seeded
    validation split.

    Returns:
        dict with ``splits`` (split -> (x, y)), ``class_names``, ``ids`` and ``groups`` (split -> array, or
        None) and ``extra_config`` (the ``inputs`` section of every model's run).
    """
    import numpy as np

    from biocnn.commands import steps
    from biocnn.data import load_idx_pair
    from biocnn.splits import holdout_split

    if not args.idx_images:
        source = cli.open_source(args, default=("npz", DEFAULT_NPZ))
        parts = source.split(args.test_size, args.val_size, args.split_seed)
        data = {"splits": source.arrays(parts), "class_names": source.class_names, "ids": source.ids_of(parts),
                "groups": None if source.groups is None else {s: source.groups[i] for s, i in parts.items()},
                "extra_config": steps.run_config(source)}
    else:
        x, y = load_idx_pair(args.idx_images, args.idx_labels)
        train, val = holdout_split(y, test_size=args.val_size, seed=args.split_seed)
        splits = {"train": (x[train], y[train]), "val": (x[val], y[val])}
        if args.idx_test_images:
            splits["test"] = load_idx_pair(args.idx_test_images, args.idx_test_labels)
        num_classes = max(int(max(y.max() for _, y in splits.values())) + 1, 2)
        data = {"splits": splits, "class_names": [str(c) for c in range(num_classes)], "ids": None, "groups": None,
                "extra_config": {"inputs": {"source": os.path.abspath(args.idx_images), "kind": "idx"}}}
    splits = data["splits"]
    if args.max_train and args.max_train < len(splits["train"][1]):
        keep = np.sort(np.random.default_rng(args.seed).permutation(len(splits["train"][1]))[: args.max_train])
        splits["train"] = tuple(a[keep] for a in splits["train"])
        for part in ("ids", "groups"):
            if data[part] is not None:
                data[part] = {**data[part], "train": np.asarray(data[part]["train"])[keep]}
    return data


def parse_models(specs):
    """(spec, slug, name, options) per spec; fails on a bad spec before anything trains."""
    import biocnn
    from biocnn.models import blocks

    parsed, slugs = [], set()
    for spec in specs:
        name, options = biocnn.models.parse_spec(spec)
        blocks.look_up("model name", name, biocnn.models.available(), where=f"--models {spec!r}")
        slug = re.sub(r"[^A-Za-z0-9.]+", "_", spec).strip("_")
        if slug in slugs:
            raise ValueError(f"--models: {spec!r} is given twice (or two specs share the file name {slug!r}).")
        slugs.add(slug)
        parsed.append((spec, slug, name, options))
    return parsed


def epoch_clock():
    """A Keras callback that records the seconds of training at the end of each epoch (``.seconds``)."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = {}

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds[epoch + 1] = time.perf_counter() - self.start

    return EpochClock()


def first_epoch_below(history, target_error):
    """The first epoch whose training error (1 - accuracy) is at most ``target_error``, or None."""
    import numpy as np

    error = 1.0 - history["accuracy"].to_numpy()
    hits = np.flatnonzero(error <= target_error)
    return int(history["epoch"].iloc[hits[0]]) if len(hits) else None


def timed_fit(clock):
    """The comparison's training step for :func:`biocnn.experiment.train_and_evaluate`:
    :func:`biocnn.training.fit` with ``clock`` (an :func:`epoch_clock`) timing every epoch, and the
    history's ``seconds`` and ``train_error`` (1 - running training accuracy) columns added."""
    from biocnn import training

    def step(model, x, y, *, callbacks=(), **fit_kwargs):
        result = training.fit(model, x, y, callbacks=[*callbacks, clock], **fit_kwargs)
        result.history["seconds"] = result.history["epoch"].map(clock.seconds)  # NaN: epochs of an earlier session
        result.history["train_error"] = 1.0 - result.history["accuracy"]
        return result

    return step


def train_one(run, spec, name, options, data, config, target_error, *, preprocessing=None, arguments=None):
    """Train one model with one seed through the experiment path into the run directory ``run``
    (its own ``config.json``, ``history.csv``, ``metrics.json``, ``predictions.csv``, ``model.keras``);
    return its comparison row and its history."""
    import biocnn
    from biocnn import experiment, training
    from biocnn.data.preprocess import with_preprocessing

    splits = data["splits"]
    training.set_seed(config.seed)
    network = biocnn.models.create(name, input_shape=splits["train"][0].shape[1:],
                                   num_classes=len(data["class_names"]), **options)
    model = network if preprocessing is None else with_preprocessing(preprocessing, network)
    clock = epoch_clock()
    result = experiment.train_and_evaluate(
        run, model, splits, config, arguments, data["class_names"], data["ids"], groups=data["groups"],
        extra_config={**data["extra_config"], "model_spec": {"name": name, "options": options}},
        verbose=0, train_step=timed_fit(clock),
    )
    history = result.training.history
    reached = first_epoch_below(history, target_error)
    row = {
        "model": spec,
        "seed": config.seed,
        "params": int(network.count_params()),
        "epochs_run": len(history),
        "best_epoch": result.metrics["best_epoch"],
        "best_val_accuracy": float(history["val_accuracy"].max()),
        "final_train_error": float(history["train_error"].iloc[-1]),
        f"reached_train_error_{target_error:g}": reached is not None,
        f"epochs_to_train_error_{target_error:g}": reached,
        f"seconds_to_train_error_{target_error:g}": None if reached is None else clock.seconds.get(reached),
        "seconds": clock.seconds.get(len(history)),
    }
    for split in ("val", "test"):
        if split in result.metrics:
            row[f"{split}_accuracy"] = result.metrics[split]["accuracy"]
            row[f"{split}_auroc"] = result.metrics[split]["auroc"]
    return row, history


def plot_learning_curves(histories, target_error, path):
    """Training error against epochs and seconds, validation accuracy and training loss."""
    from biocnn import plots  # first: it chooses the Agg canvas

    plt = plots.plt
    panels = [("epoch", "train_error", "training error"), ("seconds", "train_error", "training error vs time"),
              ("epoch", "val_accuracy", "validation accuracy"), ("epoch", "loss", "training loss")]
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    colors = {spec: f"C{i}" for i, spec in enumerate(dict.fromkeys(s for s, _ in histories))}
    for ax, (x, y, title) in zip(axes, panels):
        labelled = set()
        for (spec, seed), history in histories.items():
            ax.plot(history[x], history[y], color=colors[spec], lw=1.4, alpha=0.85,
                    label=None if spec in labelled else spec)
            labelled.add(spec)
        if y == "train_error":
            ax.axhline(target_error, color="grey", ls="--", lw=1, label=f"target {target_error:g}")
        ax.set_title(title)
        ax.set_xlabel("seconds" if x == "seconds" else "epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    plots.save_figure(fig, path)


def main(argv=None):
    args = parse_args(argv)
    import pandas as pd

    from biocnn.data.preprocess import fit_preprocessing
    from biocnn.rundir import RunDirectory, record
    from biocnn.runtime import versions

    models = parse_models(args.models)
    seeds = args.seeds or [args.seed]
    data = load_data(args)
    splits = data["splits"]
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=args.resume)
    # Mean 0, variance 1 per channel on the training split (AlexNet subtracted the mean image).
    preprocessing = fit_preprocessing(splits["train"][0]) if args.normalize else None
    run.write_json("config.json", {
        "arguments": vars(args), "models": args.models, "seeds": seeds,
        "training": cli.training_config(args).to_dict(),
        "data": {s: {"samples": int(len(y)), "input_shape": list(x.shape[1:])} for s, (x, y) in splits.items()},
        "class_names": data["class_names"], **data["extra_config"],
        "runs": {f"{slug}_seed{seed}": {"model": spec, "seed": seed} for seed in seeds for spec, slug, _, _ in models},
        "versions": versions(), "command": " ".join(sys.argv),
    })
    print(", ".join(f"{s} {len(y)}" for s, (_, y) in splits.items())
          + f"; {len(models)} models x {len(seeds)} seeds, {args.epochs} epochs each", flush=True)

    rows, histories = [], {}
    for seed in seeds:
        config = cli.training_config(argparse.Namespace(**{**vars(args), "seed": seed}))
        for i, (spec, slug, name, options) in enumerate(models, start=1):
            print(f"[{i}/{len(models)}] {spec} (seed {seed}) ...", flush=True)
            # One run directory per model and seed, inside the comparison's (recorded in its manifest).
            model_run = RunDirectory(run.file(f"{slug}_seed{seed}"), overwrite=args.overwrite, resume=args.resume)
            record(model_run.path)
            row, history = train_one(model_run, spec, name, options, data, config, args.target_error,
                                     preprocessing=preprocessing, arguments=vars(args))
            model_run.close()
            rows.append(row)
            histories[(spec, seed)] = history
            reached = row[f"epochs_to_train_error_{args.target_error:g}"]
            print(f"    {row['params']:,} params; training error <= {args.target_error:g} at epoch "
                  f"{reached if reached is not None else 'never'}; best val acc {row['best_val_accuracy']:.3f}; "
                  + (f"test acc {row['test_accuracy']:.3f}, AUROC {row['test_auroc']:.3f}; " if "test_accuracy" in row else "")
                  + f"{row['seconds'] or float('nan'):.1f} s", flush=True)

    table = pd.DataFrame(rows)
    run.write_text("comparison.csv", table.to_csv(index=False, float_format="%.6g"))
    # Means over seeds; epochs/seconds to the target average the seeds that reached it, and
    # reached_train_error_* is the fraction of seeds that did.
    numeric = table.drop(columns=["seed"]).set_index("model").apply(pd.to_numeric, errors="coerce")
    numeric = numeric.astype(float)
    numeric = numeric.groupby(level=0, sort=False).agg(["mean", "std"])
    numeric.columns = [f"{c}_{stat}" for c, stat in numeric.columns]
    run.write_text("summary.csv", numeric.to_csv(float_format="%.6g"))
    plot_learning_curves(histories, args.target_error, run.file("learning_curves.png"))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"run directory: {run.path}")
    return table


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
