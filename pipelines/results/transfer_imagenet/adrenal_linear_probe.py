"""AdrenalMNIST3D on frozen ImageNet features: EfficientNet-Lite0 on every slice, a linear head.

Inflating the 2D network with kernels one slice deep (``inflate(depth=1)``) applies it to every slice
and, with global average pooling over depth, height and width, gives each volume the mean of its
slices' pooled features. This computes those features once (the frozen backbone never changes in a
head-only arm, so there is no need to run it every epoch), for the 2D Lite0 with the ImageNet weights
of ``biocnn[pretrained]`` and, as the control, the same network with random weights; slices are
28 px resized to 64 inside the model (at 32 px the top units are nearly all dead:
``adrenal_features.csv``). The head is scikit-learn's logistic regression on standardised features,
its inverse regularisation C chosen on the validation split's AUROC; the test split is read once.

    python pipelines/results/transfer_imagenet/adrenal_linear_probe.py --out pipelines/results/transfer_imagenet/adrenal_linear_probe.csv
"""

import argparse
import sys
import time

import numpy as np

import biocnn  # noqa: F401  (oneDNN before TensorFlow)
from biocnn import cli
from biocnn.rundir import write_text

C_GRID = (0.0001, 0.001, 0.01, 0.1, 1.0, 10.0)


def volume_features(backbone, volumes, batch_size=512):
    """Mean over slices of the backbone's pooled features: (N, D, H, W) -> (N, features)."""
    from biocnn import transfer

    n, depth = volumes.shape[:2]
    slices = volumes.reshape(n * depth, *volumes.shape[2:], 1).astype("float32")
    return transfer.embed(backbone, slices, batch_size=batch_size).reshape(n, depth, -1).mean(axis=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--npz", default="datasets/medmnist/adrenalmnist3d.npz")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from biocnn import training, transfer

    data = np.load(args.npz)
    splits = {s: (data[f"{s}_images"], data[f"{s}_labels"].ravel()) for s in ("train", "val", "test")}
    rows = []
    for weights in ("imagenet", None):
        training.set_seed(0)
        backbone = transfer.backbone("efficientnet_lite0", weights=weights, input_shape=(28, 28, 1), resize=(64, 64),
                                     drop_connect_rate=0)
        start = time.perf_counter()
        features = {s: volume_features(backbone, x) for s, (x, _) in splits.items()}
        seconds = time.perf_counter() - start
        best = None
        for c in C_GRID:
            head = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
            head.fit(features["train"], splits["train"][1])
            val = roc_auc_score(splits["val"][1], head.predict_proba(features["val"])[:, 1])
            print(f"{weights or 'random'} C={c}: validation AUROC {val:.3f}", flush=True)
            if best is None or val > best[0]:
                best = (val, c, head)
        val, c, head = best
        probabilities = head.predict_proba(features["test"])[:, 1]
        rows.append({"features": "ImageNet" if weights else "random weights", "C (chosen on val)": c,
                     "val_auroc": val, "test_accuracy": accuracy_score(splits["test"][1], probabilities > 0.5),
                     "test_auroc": roc_auc_score(splits["test"][1], probabilities),
                     "feature_seconds": seconds})
        print(rows[-1], flush=True)
    write_text(args.out, pd.DataFrame(rows).to_csv(index=False, float_format="%.4f"))


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
