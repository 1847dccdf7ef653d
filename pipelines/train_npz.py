"""Train and evaluate a biocnn classifier on a MedMNIST-style .npz: `biocnn images --npz` with the npz defaults.

The file holds train_images/train_labels, val_images/val_labels and test_images/test_labels
(2D images (N, H, W[, C]); for 3D volumes use `biocnn volumes --npz`). The model trains on
"train" with MomentumSGD, the "val" split chooses the learning-rate drops, early stopping and the
epoch whose weights are kept, and "test" is evaluated once at the end.

Default: LeNet-5 on the bundled BreastMNIST (breast ultrasound, 28x28, malignant vs
normal/benign), fed the intensities as read (--no-normalize), 40 epochs, batch 64, lr 0.02 (the
"npz" row of biocnn.cli.MODALITY_DEFAULTS). Every option of `biocnn images` applies.

    python pipelines/train_npz.py --out runs/breastmnist_lenet5
"""

import os
import sys

from biocnn import cli
from biocnn.commands import images

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_NPZ = os.path.join(HERE, "..", "datasets", "medmnist", "breastmnist.npz")


SETTINGS = {"modality": "npz", "default_npz": DEFAULT_NPZ, "normalize": False, "description": __doc__}


def parse_args(argv):
    return images.parse_args(argv, **SETTINGS)


def main(argv=None):
    return images.main(argv, **SETTINGS)


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
