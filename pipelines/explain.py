"""Explain a trained model (saliency, integrated gradients, Grad-CAM, filters): `biocnn explain` as a script.

The options and outputs are those of `biocnn explain --help` (biocnn/commands/explain.py).

    python pipelines/explain.py --run runs/breastmnist --npz datasets/medmnist/breastmnist.npz --out runs/breastmnist/explain
    python pipelines/explain.py --run runs/splice --csv datasets/splice/splice.csv --id-column instance_name --out runs/splice/explain
"""

import sys

from biocnn import cli
from biocnn.commands.explain import build_parser, load_run, main, parse_args, read_inputs, spread  # noqa: F401

if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
