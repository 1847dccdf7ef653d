"""Every modality pipeline with bare defaults on each bundled data set, 3 seeds, beside the published baselines.

"Bare" means the command a user types with only the input named: no model, learning-rate, epoch or
recipe flags (``study_defaults.DATASETS``). Each run is its own process; the table holds the mean
+- sd over seeds of test accuracy and macro AUROC, the run's CPU seconds (user + system: on 2 idle
cores its wall time lies between half of it and all of it, whatever else shared the machine) (the test split, read once per run here; the
defaults were chosen on validation by ``pipelines/study_defaults.py``), validation too, wall time
and parameters, and writes it atomically to ``--out`` (CSV, JSON and a Markdown table for the
README).

    python pipelines/benchmark_defaults.py                       # all five, seeds 0 1 2
    python pipelines/benchmark_defaults.py --datasets splice --seeds 0
"""

import argparse
import csv
import datetime
import json
import os
import platform
import statistics

import study_defaults

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results", "defaults")

#: Published baselines (test split): (accuracy, macro AUROC, source).
BASELINES = {
    "splice": (0.962, 0.995, "a plain positional Keras CNN (conv, pool, flatten), the issue's reference"),
    "motifs": (None, None, "synthetic (datasets/motifs): no published baseline"),
    "breastmnist": (0.863, 0.901, "MedMNIST v2, ResNet-18 (28) (Yang et al. 2023, Table 3)"),
    "bccd": (None, None, "no published baseline for these crops; biocnn's 5-fold CV of LeNet-5: 0.951 / 0.988"),
    "adrenal": (0.745, 0.828, "MedMNIST v2, 3D ResNet-50 (Yang et al. 2023, Table 4)"),
}


def sd(values):
    return statistics.stdev(values) if len(values) > 1 else 0.0


def write_atomic(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def table(results):
    lines = ["| data set | command | test accuracy | test AUROC | val accuracy | val AUROC | CPU s (max) | "
             "parameters | published (accuracy / AUROC) |", "|---" * 9 + "|"]
    for name, runs in results.items():
        acc, auc = [r["test_accuracy"] for r in runs], [r["test_auroc"] for r in runs]
        vacc, vauc = [r["val_accuracy"] for r in runs], [r["val_auroc"] for r in runs]
        base_acc, base_auc, source = BASELINES[name]
        published = f"{base_acc:.3f} / {base_auc:.3f}, {source}" if base_acc else source
        lines.append(
            f"| {name} | `biocnn {' '.join(study_defaults.DATASETS[name])}` | "
            f"{statistics.mean(acc):.3f} +- {sd(acc):.3f} | {statistics.mean(auc):.3f} +- {sd(auc):.3f} | "
            f"{statistics.mean(vacc):.3f} +- {sd(vacc):.3f} | {statistics.mean(vauc):.3f} +- {sd(vauc):.3f} | "
            f"{max(r['cpu_s'] for r in runs):.0f} | {runs[0]['parameters']:,} | {published} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", choices=sorted(study_defaults.DATASETS),
                        default=list(study_defaults.DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", default=OUT, help="folder for benchmark.csv/.json/.md (default %(default)s)")
    parser.add_argument("--collect", nargs="+", metavar="JSON",
                        help="no runs: merge the benchmark.json files of earlier invocations into --out")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results, rows = {}, []
    for path in args.collect or []:
        with open(path) as handle:
            rows.extend(json.load(handle)["runs"])
    for row in rows:
        results.setdefault(row["dataset"], []).append(row)
    for name in [] if args.collect else args.datasets:
        for seed in args.seeds:
            metrics, config, epochs_run, wall, cpu = study_defaults.run(name, [], seed)
            row = {"dataset": name, "seed": seed, "model": config["model"]["name"],
                   "parameters": config["model"]["parameters"], "best_epoch": metrics.get("best_epoch"),
                   "epochs_run": epochs_run, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}
            for split in ("val", "test"):
                row[f"{split}_accuracy"] = round(metrics[split]["accuracy"], 4)
                row[f"{split}_auroc"] = round(metrics[split]["auroc"], 4)
            rows.append(row)
            results.setdefault(name, []).append(row)
            print(f"{name:12s} seed {seed}: test accuracy {row['test_accuracy']:.4f} AUROC {row['test_auroc']:.4f} "
                  f"(val {row['val_accuracy']:.4f} / {row['val_auroc']:.4f}; {row['model']}, best epoch "
                  f"{row['best_epoch']}/{epochs_run}, {wall:.0f} s wall, {cpu:.0f} CPU s)", flush=True)
    fields = list(rows[0])
    with open(os.path.join(args.out, "benchmark.csv.tmp"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(os.path.join(args.out, "benchmark.csv.tmp"), os.path.join(args.out, "benchmark.csv"))
    facts = {"date": datetime.date.today().isoformat(), "machine": platform.platform(),
             "cpus": os.cpu_count(), "seeds": args.seeds, "runs": rows}
    write_atomic(os.path.join(args.out, "benchmark.json"), json.dumps(facts, indent=2) + "\n")
    markdown = table(results)
    write_atomic(os.path.join(args.out, "benchmark.md"), markdown)
    print("\n" + markdown)


if __name__ == "__main__":
    main()
