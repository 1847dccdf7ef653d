"""The defaults study: candidate models and recipes per modality, chosen on validation only.

Each candidate is a set of command-line flags added to a bundled data set's bare command; each
runs as ``biocnn <command> ...`` in its own process, for each seed, and one row per run is
appended to ``--out`` (CSV): data set, candidate, seed, validation accuracy and macro AUROC,
best epoch, wall time, parameters. The test split is never read here: the chosen defaults are
measured once on it by ``pipelines/benchmark_defaults.py``.

    python pipelines/study_defaults.py --datasets splice --candidates seqnet deepbind --seeds 0 1 2
    python pipelines/study_defaults.py --summary          # mean +- sd per candidate, best first

The candidates and the data sets are the tables below; the README of
``pipelines/results/defaults_study`` says what was tried, why, and what won.
"""

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "results", "defaults_study", "study.csv")

#: The bundled data sets, as the bare command a user would type (no model or recipe flags).
DATASETS = {
    "splice": ["sequences", "--csv", "datasets/splice/splice.csv", "--sequence-column", "sequence",
               "--label-column", "label"],
    "motifs": ["sequences", "--csv", "datasets/motifs/motifs.csv", "--sequence-column", "sequence",
               "--label-column", "label"],
    "breastmnist": ["images", "--npz", "datasets/medmnist/breastmnist.npz"],
    "bccd": ["images", "--csv", "datasets/bccd_cells/cells.csv", "--group-column", "group"],
    "adrenal": ["volumes", "--npz", "datasets/medmnist/adrenalmnist3d.npz"],
}

#: Candidate flags by name (a name may serve several data sets of one modality).
CANDIDATES = {
    "bare": [],
}

FIELDS = ["dataset", "candidate", "seed", "val_accuracy", "val_auroc", "best_epoch", "epochs_run", "wall_s",
          "cpu_s", "parameters", "flags"]


def run(dataset, flags, seed, keep=None):
    """Run the bare command of ``dataset`` plus ``flags`` once.

    Returns:
        (metrics.json, config.json, epochs run, wall seconds, CPU seconds) of the run. CPU
        seconds (user + system of the process) do not grow when other jobs share the machine:
        CPU seconds / 2 is the wall time on 2 idle cores, give or take the part that ran on one.
    """
    folder = keep or tempfile.mkdtemp(prefix=f"study_{dataset}_")
    command = [sys.executable, "-m", "biocnn", *DATASETS[dataset], *flags, "--seed", str(seed),
               "--out", folder, "--overwrite"]
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"study: {dataset} {' '.join(flags)} seed {seed} failed (exit {done.returncode}): "
                         f"{' '.join(command)}")
    with open(os.path.join(folder, "metrics.json")) as handle:
        metrics = json.load(handle)
    with open(os.path.join(folder, "config.json")) as handle:
        config = json.load(handle)
    with open(os.path.join(folder, "history.csv")) as handle:
        epochs_run = sum(1 for _ in csv.DictReader(handle))
    if keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return metrics, config, epochs_run, wall, cpu


def run_one(dataset, candidate, flags, seed, keep=None):
    """Run one candidate once; return its row (validation metrics only)."""
    metrics, config, epochs_run, wall, cpu = run(dataset, flags, seed, keep=keep)
    return {"dataset": dataset, "candidate": candidate, "seed": seed,
            "val_accuracy": round(metrics["val"]["accuracy"], 4), "val_auroc": round(metrics["val"]["auroc"], 4),
            "best_epoch": metrics.get("best_epoch"), "epochs_run": epochs_run, "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1), "parameters": config["model"]["parameters"], "flags": " ".join(flags)}


def append(path, row):
    new = not os.path.exists(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)
        handle.flush()
        os.fsync(handle.fileno())


def _sd(values):
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summary(path):
    """Mean +- sd of validation accuracy and AUROC per data set and candidate, best first."""
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    groups = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["candidate"]), []).append(row)
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        entries = []
        for (name, candidate), runs in groups.items():
            if name != dataset:
                continue
            acc = [float(r["val_accuracy"]) for r in runs]
            auc = [float(r["val_auroc"]) for r in runs]
            wall = [float(r["wall_s"]) for r in runs]
            entries.append((statistics.mean(auc) + statistics.mean(acc), candidate, len(runs), acc, auc, wall, _sd,
                            runs[0]["parameters"]))
        lines.append(f"\n{dataset}: candidate, seeds, val accuracy, val AUROC, wall s (max), parameters")
        for _, candidate, n, acc, auc, wall, sd, params in sorted(entries, reverse=True):
            lines.append(f"  {candidate:28s} {n}  {statistics.mean(acc):.4f} +- {sd(acc):.4f}  "
                         f"{statistics.mean(auc):.4f} +- {sd(auc):.4f}  {max(wall):6.0f}  {params}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS), default=[])
    parser.add_argument("--candidates", nargs="+", default=["bare"], help="names from CANDIDATES, or NAME=FLAGS")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--out", default=OUT, help="the CSV the rows are appended to (default %(default)s)")
    parser.add_argument("--keep", help="keep the run folders under this folder")
    parser.add_argument("--summary", action="store_true", help="print the summary of --out and stop")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary(args.out))
        return
    for dataset in args.datasets:
        for spec in args.candidates:
            name, sep, flags = spec.partition("=")
            flags = flags.split() if sep else CANDIDATES[name]
            for seed in args.seeds:
                keep = os.path.join(args.keep, f"{dataset}_{name}_seed{seed}") if args.keep else None
                row = run_one(dataset, name, flags, seed, keep=keep)
                append(args.out, row)
                print(f"{dataset:12s} {name:28s} seed {seed}: val accuracy {row['val_accuracy']:.4f} "
                      f"AUROC {row['val_auroc']:.4f} (best epoch {row['best_epoch']}/{row['epochs_run']}, "
                      f"{row['wall_s']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
