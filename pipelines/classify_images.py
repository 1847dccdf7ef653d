"""Train and evaluate a 2D CNN on microscopy (or any 2D) images: `biocnn images` as a script.

The options, steps and outputs are those of `biocnn images --help` (biocnn/commands/images.py).

    python pipelines/classify_images.py --csv datasets/bccd_cells/cells.csv --augment --out runs/bccd
    python pipelines/classify_images.py --npz datasets/medmnist/breastmnist.npz --out runs/breastmnist
"""

import sys

from biocnn import cli
from biocnn.commands.images import build_parser, main, parse_args  # noqa: F401  (the script's interface)

if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
