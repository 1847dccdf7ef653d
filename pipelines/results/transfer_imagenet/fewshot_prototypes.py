"""Few-shot by class prototypes on frozen EfficientNet-Lite0 features: ImageNet weights vs random weights.

k labelled training images per class (k = 5, 10, 20 and all; 20 seeded draws for each k) give the class
prototypes (biocnn.transfer.embed + PrototypeClassifier("cosine")); the test split goes to the nearest one.
No training at all. The split is the pipeline's (BreastMNIST: the official one; BCCD cells: split seed 0,
stratified and group-aware, as pipelines/transfer_learning.py splits it).

    python pipelines/results/transfer_imagenet/fewshot_prototypes.py --data breast \
        --out pipelines/results/transfer_imagenet/fewshot_breastmnist.csv
    python pipelines/results/transfer_imagenet/fewshot_prototypes.py --data bccd \
        --out pipelines/results/transfer_imagenet/fewshot_bccd_cells.csv
"""

import argparse
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from biocnn import cli, training, transfer
from biocnn.data import load_images, load_npz_splits, split_table, table_from_csv
from biocnn.rundir import write_text

SHOTS = (5, 10, 20, None)


def load(data):
    if data == "breast":
        splits = load_npz_splits("datasets/medmnist/breastmnist.npz")
        return splits["train"], splits["test"], (64, 64)
    tables = split_table(table_from_csv("datasets/bccd_cells/cells.csv", None, None), 0.2, 0.1, 0)
    return ((load_images(tables[s]), tables[s].labels) for s in ("train", "test")), None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=("breast", "bccd"), required=True)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--out", required=True, help="CSV to write")
    args = parser.parse_args(argv)
    if args.data == "breast":
        (x_train, y_train), (x_test, y_test), resize = load("breast")
    else:
        ((x_train, y_train), (x_test, y_test)), resize = load("bccd")
    classes = np.unique(y_train)
    rows = []
    for source, weights in (("ImageNet EfficientNet-Lite0", "imagenet"), ("random EfficientNet-Lite0", None)):
        started = time.perf_counter()
        training.set_seed(0)
        features = transfer.backbone("efficientnet_lite0", weights=weights, input_shape=x_train.shape[1:], resize=resize,
                                     input_scale=255.0)
        train_emb, test_emb = transfer.embed(features, x_train), transfer.embed(features, x_test)
        print(f"{source}: embedded {len(x_train) + len(x_test)} images in {time.perf_counter() - started:.0f} s", flush=True)
        for shots in SHOTS:
            for draw in range(args.draws if shots else 1):
                rng = np.random.default_rng([draw, shots or 0])
                pick = np.arange(len(y_train)) if shots is None else np.concatenate(
                    [rng.choice(np.flatnonzero(y_train == c), shots, replace=False) for c in classes])
                clf = transfer.PrototypeClassifier("cosine").fit(train_emb[pick], y_train[pick])
                scores = clf.decision_function(test_emb)
                if len(classes) == 2:
                    auroc = roc_auc_score(y_test, scores[:, 1] - scores[:, 0])
                else:
                    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
                    auroc = roc_auc_score(y_test, shifted / shifted.sum(axis=1, keepdims=True), multi_class="ovr")
                rows.append({"features": source, "shots_per_class": shots or "all", "draw": draw,
                             "test_accuracy": clf.score(test_emb, y_test), "test_auroc": auroc})
    table = pd.DataFrame(rows)
    write_text(args.out, table.to_csv(index=False, float_format="%.4f"))
    summary = table.groupby(["features", "shots_per_class"], sort=False)[["test_accuracy", "test_auroc"]].agg(["mean", "std"])
    print(summary.to_string(float_format="%.3f"))


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
