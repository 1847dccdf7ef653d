"""Train and evaluate a 3D CNN on volumes (CT, MRI, light-sheet): `biocnn volumes` as a script.

The options, steps and outputs are those of `biocnn volumes --help` (biocnn/commands/volumes.py).

    python pipelines/classify_volumes.py --out runs/adrenal
    python pipelines/classify_volumes.py --hdf5 ct.h5 --key volumes --labels-key labels \\
        --window soft_tissue --shape 64 64 64 --augment --out runs/ct
"""

import sys

from biocnn import cli
from biocnn.commands.volumes import build_parser, examples, main, parse_args  # noqa: F401  (the script's interface)

if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
