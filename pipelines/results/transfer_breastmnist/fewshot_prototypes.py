"""Few-shot BreastMNIST by class prototypes on frozen backbone features (biocnn.transfer.embed + PrototypeClassifier).

k labelled training images per class (k = 1, 5, 10, 20, all; 20 seeded draws each) give the prototypes; the 156 test
images go to the nearest one (cosine). Features: the Fashion-MNIST-pretrained MobileNetV2 file (--weights) against
the same network with random weights (the control). No training at all.

    python pipelines/results/transfer_breastmnist/fewshot_prototypes.py \
        --weights /work/artifacts/fmnist_mobilenetv2/mobilenetv2_fashion_mnist_notop.h5 \
        --out pipelines/results/transfer_breastmnist/fewshot_prototypes.csv
"""

import argparse
import sys

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from biocnn import cli, training, transfer
from biocnn.data import load_npz_splits
from biocnn.rundir import write_text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--npz", default="datasets/medmnist/breastmnist.npz")
    parser.add_argument("--weights", required=True, help="the pre-trained notop weights file")
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--out", required=True, help="CSV to write")
    args = parser.parse_args(argv)
    splits = load_npz_splits(args.npz)
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    rows = []
    for source, weights in (("Fashion-MNIST MobileNetV2", args.weights), ("random MobileNetV2", None)):
        training.set_seed(0)
        features = transfer.backbone("MobileNetV2", weights=weights, input_shape=x_train.shape[1:], resize=(32, 32),
                                     input_scale=255.0)
        train_emb, test_emb = transfer.embed(features, x_train), transfer.embed(features, x_test)
        for shots in (1, 5, 10, 20, None):
            for draw in range(args.draws if shots else 1):
                rng = np.random.default_rng([draw, shots or 0])
                pick = np.arange(len(y_train)) if shots is None else np.concatenate(
                    [rng.choice(np.flatnonzero(y_train == c), shots, replace=False) for c in (0, 1)])
                clf = transfer.PrototypeClassifier("cosine").fit(train_emb[pick], y_train[pick])
                rows.append({"features": source, "shots_per_class": shots or "all", "draw": draw,
                             "test_accuracy": clf.score(test_emb, y_test),
                             "test_auroc": roc_auc_score(y_test, clf.decision_function(test_emb)[:, 1]
                                                         - clf.decision_function(test_emb)[:, 0])})
    table = pd.DataFrame(rows)
    write_text(args.out, table.to_csv(index=False, float_format="%.4f"))
    summary = table.groupby(["features", "shots_per_class"], sort=False)[["test_accuracy", "test_auroc"]].agg(["mean", "std"])
    print(summary.to_string(float_format="%.3f"))


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
