"""Export the chosen fine-tuned BreastMNIST run as a SavedModel and check that it serves the reported test numbers.

Steps: biocnn.export.from_run (the run's model.keras -> SavedModel), then pipelines/predict.py in a fresh process on
the .npz test images, then accuracy and AUROC of its predictions against the test labels, compared with the run's
metrics.json.

    python pipelines/results/transfer_imagenet/export_check.py \
        --run /work/artifacts/transfer_imagenet/breast_finetune_lr0.001_s0 \
        --export /work/artifacts/transfer_imagenet/export_breast_finetune \
        --out pipelines/results/transfer_imagenet/export_check.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from biocnn import cli, export, transfer  # noqa: F401  (transfer registers the layers model.keras holds)
from biocnn.rundir import write_text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True)
    parser.add_argument("--export", required=True)
    parser.add_argument("--npz", default="datasets/medmnist/breastmnist.npz")
    parser.add_argument("--out", required=True, help="JSON to write")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.export, "biocnn_export.json")):
        export.from_run(args.run, args.export, overwrite=True)
    predictions = os.path.join(tempfile.mkdtemp(), "test_predictions.csv")
    subprocess.run([sys.executable, "pipelines/predict.py", "--model", args.export, "--npz", args.npz,
                    "--key", "test_images", "--out", predictions], check=True)
    table = pd.read_csv(predictions)
    labels = np.load(args.npz)["test_labels"].ravel()
    probability_columns = [c for c in table.columns if c.startswith("probability_")]
    probabilities = table[probability_columns].to_numpy()
    served = {"accuracy": float((probabilities.argmax(axis=1) == labels).mean()),
              "auroc": float(roc_auc_score(labels, probabilities[:, 1]))}
    with open(os.path.join(args.run, "metrics.json")) as f:
        reported = json.load(f)["test"]
    result = {"run": args.run, "export": args.export, "served": served,
              "reported": {k: reported[k] for k in served}, "columns": probability_columns,
              "equal_to_1e-6": all(abs(served[k] - reported[k]) < 1e-6 for k in served)}
    write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
