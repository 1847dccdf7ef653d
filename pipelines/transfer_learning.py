"""Transfer learning on 2D images or 3D volumes: `biocnn transfer` as a script.

The options, steps and outputs are those of `biocnn transfer --help` (biocnn/commands/transfer.py).

    python pipelines/transfer_learning.py --npz datasets/medmnist/breastmnist.npz --backbone ResNet50 \\
        --weights ~/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 --out runs/breast_transfer
    python pipelines/transfer_learning.py --npz datasets/medmnist/adrenalmnist3d.npz --backbone VGG16 \\
        --weights none --out runs/adrenal_i3d
"""

import sys

from biocnn import cli
from biocnn.commands.transfer import build_model, build_parser, main, parse_args, weights_argument  # noqa: F401

if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
