"""Compare architectures on the same data, seed and budget: `biocnn compare` as a script.

The options, steps and outputs are those of `biocnn compare --help` (biocnn/commands/compare.py).

    python pipelines/compare_architectures.py --models lenet5 mlp --out runs/cnn_vs_mlp
    python pipelines/compare_architectures.py --models lenet5:activation=relu \\
        lenet5:activation=tanh --target-error 0.15 --out runs/relu_vs_tanh
"""

import sys

from biocnn import cli
from biocnn.commands.compare import (  # noqa: F401  (the script's interface)
    build_parser,
    first_epoch_below,
    load_data,
    main,
    parse_args,
    parse_models,
    train_one,
)

if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
