"""Collect the study's runs (study.sh) into runs.csv and the comparison table (comparison.csv, printed as Markdown).

The learning rate of each arm is chosen on validation only, on seed 0: validation AUROC for BreastMNIST and
AdrenalMNIST3D (adrenal: inflated with a strided depth; adrenal64: the 2D network on every 28 px slice
resized to 64 px, inflate depth 1), validation accuracy for the BCCD cells (macro AUROC is near 1 for every arm there). The test columns are
the mean +- sd over the seeds run with the chosen learning rate.

    python pipelines/results/transfer_imagenet/summarise.py --runs /work/artifacts/transfer_imagenet \
        --out pipelines/results/transfer_imagenet
"""

import argparse
import glob
import json
import os
import re
import shutil
import sys

import pandas as pd

from biocnn import cli
from biocnn.rundir import write_text

CRITERION = {"breast": "auroc", "bccd": "accuracy", "adrenal": "auroc", "adrenal64": "auroc"}
ARMS = {"scratch": "from scratch (end to end)", "head": "ImageNet, head only",
        "head100": "ImageNet, head only, up to 100 epochs (early stopping on val)",
        "finetune": "ImageNet, fine-tuned (all blocks)"}


def read_runs(folder):
    times = pd.read_csv(os.path.join(folder, "times.tsv"), sep="\t", names=["data", "arm", "lr", "seed", "wall_s"])
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "*_s*/metrics.json"))):
        match = re.fullmatch(r"(breast|bccd|adrenal64|adrenal)_(scratch|head100|head|finetune)_lr([\d.]+)_s(\d+)", os.path.basename(os.path.dirname(path)))
        if not match:
            continue
        with open(path) as f:
            metrics = json.load(f)
        data, arm, lr, seed = match[1], match[2], float(match[3]), int(match[4])
        wall = times[(times.data == data) & (times.arm == arm) & (times.lr == lr) & (times.seed == seed)].wall_s
        rows.append({"data": data, "arm": arm, "lr": lr, "seed": seed, "best_epoch": metrics["best_epoch"],
                     **{f"val_{k}": metrics["val"][k] for k in ("accuracy", "auroc", "loss")},
                     **{f"test_{k}": metrics["test"][k] for k in ("accuracy", "auroc", "loss")},
                     "wall_s": int(wall.iloc[-1]) if len(wall) else None, "run": os.path.dirname(path)})
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="/work/artifacts/transfer_imagenet")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    runs = read_runs(args.runs)
    write_text(os.path.join(args.out, "runs.csv"), runs.drop(columns=["run", "order"], errors="ignore").to_csv(index=False, float_format="%.4f"))
    rows = []
    runs["order"] = runs.data.map({"breast": 0, "bccd": 1, "adrenal": 2, "adrenal64": 3}) * 10 + runs.arm.map({"scratch": 0, "head": 1, "head100": 2, "finetune": 3})
    runs = runs.sort_values(["order", "lr", "seed"])
    for (data, arm), group in runs.groupby(["data", "arm"], sort=False):
        seed0 = group[group.seed == 0]
        lr = seed0.sort_values([f"val_{CRITERION[data]}", "val_loss"], ascending=[False, True]).lr.iloc[0]
        chosen = group[group.lr == lr]
        row = {"data": data, "arm": ARMS[arm], "lr (chosen on val)": lr, "seeds": len(chosen)}
        for metric in ("accuracy", "auroc"):
            values = chosen[f"test_{metric}"]
            row[f"test {metric}"] = f"{values.mean():.3f}" + (f" +- {values.std():.3f}" if len(values) > 1 else "")
        row["choice: val metric (seed 0)"] = f"{CRITERION[data]} {seed0[seed0.lr == lr][f'val_{CRITERION[data]}'].iloc[0]:.3f}"
        row["wall time per run (s)"] = f"{chosen.wall_s.mean():.0f}"
        rows.append(row)
        for name in ("config.json", "history.csv", "metrics.json"):  # the chosen runs' records, small files
            for _, run in chosen.iterrows():
                shutil.copyfile(os.path.join(run.run, name), os.path.join(
                    args.out, f"{name.split('.')[0]}_{data}_{arm}_lr{lr:g}_s{run.seed}.{name.split('.')[1]}"))
    table = pd.DataFrame(rows)
    write_text(os.path.join(args.out, "comparison.csv"), table.to_csv(index=False))
    print("| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns))
    for _, row in table.iterrows():
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
