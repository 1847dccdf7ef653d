"""Train and evaluate a 1D CNN on labelled DNA, RNA or protein sequences: `biocnn sequences` as a script.

The options, steps and outputs are those of `biocnn sequences --help` (biocnn/commands/sequences.py).
The README's first job:

    python pipelines/classify_sequences.py --csv datasets/splice/splice.csv --sequence-column sequence \\
        --label-column label --id-column instance_name --model lenet5:dropout=0.5,width_multiplier=4 \\
        --lr 0.05 --out runs/splice
"""

import sys

from biocnn import cli
from biocnn.commands.sequences import build_parser, main, parse_args  # noqa: F401  (the script's interface)

if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
