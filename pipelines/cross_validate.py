"""n-fold cross-validation of any source, with optional nested search: `biocnn cv` as a script.

The options, steps and outputs are those of `biocnn cv --help` (biocnn/commands/crossval.py).

    python pipelines/cross_validate.py --csv datasets/bccd_cells/cells.csv --group-column group --folds 5 --out runs/cv_bccd
    python pipelines/cross_validate.py --npz datasets/medmnist/breastmnist.npz --folds 5 --out runs/cv_breast
"""

import sys

from biocnn import cli
from biocnn.commands.crossval import build_parser, main, parse_args, read_space, report  # noqa: F401

if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
