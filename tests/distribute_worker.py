"""One biocnn training job for tests/test_distribute.py, run as a subprocess.

It is the shape of pipelines/train_npz.py (flags, training config, run directory,
``train_and_evaluate``) on a small synthetic data set that every process draws from the same
seed, and it then saves the model's final weights to ``--weights`` (outside the run directory)
so that the test can compare the workers' weights with each other and with a single process.
"""

import argparse
import sys

import keras
import numpy as np

from biocnn import cli, training
from biocnn.experiment import train_and_evaluate
from biocnn.rundir import RunDirectory


def parse_args(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True, help="where to save the final weights (.npz)")
    cli.add_training_arguments(parser)
    parser.add_argument("--keep-checkpoints", action="store_true", help="what resuming a finished run needs")
    return parser.parse_args(argv)


def data():
    rng = np.random.default_rng(7)
    splits = {}
    for split, n in (("train", 29), ("val", 12), ("test", 10)):  # 29: the last batch is partial
        y = np.arange(n) % 2
        x = rng.normal(size=(n, 6, 6, 1)).astype("float32") + y[:, None, None, None] * 0.8
        splits[split] = (x, y)
    return splits


def main(argv):
    args = parse_args(argv)
    config = cli.training_config(args)  # creates the strategy, before any model exists
    splits = data()
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=args.resume)
    training.set_seed(args.seed)
    model = keras.Sequential([
        keras.Input((6, 6, 1)),
        keras.layers.Conv2D(3, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    result = train_and_evaluate(run, model, splits, config, vars(args), verbose=2,
                                keep_checkpoints=args.keep_checkpoints)
    np.savez(args.weights, *model.get_weights())
    print(f"done: resumed_from={result.training.resumed_from} epochs={len(result.training.history)}", flush=True)


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
