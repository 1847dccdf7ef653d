"""Repeat a run over seeds (``--seeds 0 1 2``) and report every metric's mean +- sd.

Each seed is a full run directory ``OUT/seed_K/`` written by the experiment path; the parent
``OUT`` is a run directory too (the marker's overwrite and resume rules hold for it), holding
``config.json`` (the seeds and arguments), ``seeds.csv`` (one row per seed: every val and test
metric), ``summary.csv`` (per split and metric: mean, sd, 95% t interval, n) and
``summary.json``, each written atomically once every seed has finished. The summary is the
cross-validation's (:func:`biocnn.cv.stats.summarize_folds`, here over seeds). With ``resume``
a seed whose run finished (its ``metrics.json`` exists) is read, not trained again.
"""

import os

import pandas as pd

from biocnn.cv.stats import summarize_folds
from biocnn import rundir
from biocnn.rundir import RunDirectory

__all__ = ["SUMMARY_METRICS", "collect_seeds", "run_seeds", "seed_folder", "summary_table"]

#: The metrics summarised per split.
SUMMARY_METRICS = ("accuracy", "auroc", "auprc", "loss")
SPLITS = ("val", "test")


def seed_folder(out, seed):
    """``OUT/seed_K``.

    Example:
        >>> seed_folder("runs/a", 2)
        'runs/a/seed_2'
    """
    return os.path.join(out, f"seed_{int(seed)}")


def _check_seeds(seeds):
    seeds = [int(s) for s in seeds]
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if not seeds or repeated:
        raise ValueError(f"--seeds: give distinct seeds, e.g. --seeds 0 1 2; got {seeds}"
                         + (f" ({repeated} repeated)." if repeated else "."))
    return seeds


def run_seeds(out, seeds, train_one, *, overwrite=False, resume=False, arguments=None, verbose=True):
    """Run ``train_one(seed, folder)`` for every seed, then write the summary into ``out``.

    Args:
        out: the parent run directory.
        seeds: distinct integer seeds.
        train_one: ``(seed, folder) -> anything``: trains and evaluates one run in ``folder``
            (a training command with ``--seed seed --out folder``).
        overwrite, resume: the run directory rules, for ``out`` and for each seed's run.
        arguments: recorded in ``out/config.json``.
        verbose: print a line per seed and the summary table.

    Returns:
        ``(table, summary)`` of :func:`collect_seeds`.

    Raises:
        ValueError: repeated seeds; the run directory errors of ``out``.
    """
    seeds = _check_seeds(seeds)
    parent = RunDirectory(out, overwrite=overwrite, resume=resume)
    if not parent.resumed:
        parent.write_json("config.json", {"seeds": seeds, "arguments": arguments or {}})
    for i, seed in enumerate(seeds):
        folder = seed_folder(parent.path, seed)
        if resume and rundir.is_finished(folder):
            if verbose:
                print(f"seed {seed} ({i + 1}/{len(seeds)}): already finished, skipped", flush=True)
            continue
        if verbose:
            print(f"seed {seed} ({i + 1}/{len(seeds)}): {folder}", flush=True)
        train_one(seed, folder)
    table, summary = collect_seeds(parent.path, seeds)
    parent.write_text("seeds.csv", table.to_csv(index=False))
    parent.write_text("summary.csv", summary_table(summary).to_csv(index=False))
    parent.write_json("summary.json", {"seeds": seeds, "summary": summary})
    parent.close()
    if verbose:
        print(format_summary(summary, len(seeds)), flush=True)
    return table, summary


def collect_seeds(out, seeds):
    """One row per seed (``seed``, ``best_epoch``, ``<split>_<metric>``) and the summary
    ``{split: {metric: {mean, sd, ci_low, ci_high, n}}}`` of the finished runs ``out/seed_K``.

    Raises:
        ValueError: a seed's run has not finished (names its folder).
    """
    rows = []
    for seed in seeds:
        folder = seed_folder(out, seed)
        if not rundir.is_finished(folder):
            raise ValueError(f"The run of seed {seed} has not finished (no '{os.path.join(folder, rundir.METRICS)}'); "
                             "rerun with --resume.")
        metrics = rundir.read_metrics(folder)
        row = {"seed": int(seed), "best_epoch": metrics.get("best_epoch")}
        for split in SPLITS:
            for name in SUMMARY_METRICS:
                row[f"{split}_{name}"] = (metrics.get(split) or {}).get(name)
        rows.append(row)
    table = pd.DataFrame(rows)
    summary = {split: {name: summarize_folds([v if v is not None else float("nan") for v in table[f"{split}_{name}"]],
                                             name)
                       for name in SUMMARY_METRICS}
               for split in SPLITS}
    return table, summary


def summary_table(summary):
    """The summary as a table: one row per split and metric (mean, sd, ci_low, ci_high, n).

    Example:
        >>> s = {"test": {"accuracy": {"mean": 0.9, "sd": 0.1, "ci_low": 0.65, "ci_high": 1.15, "n": 3}}}
        >>> summary_table(s)[["split", "metric", "mean", "sd"]].values.tolist()
        [['test', 'accuracy', 0.9, 0.1]]
    """
    return pd.DataFrame([{"split": split, "metric": name, **values}
                         for split, metrics in summary.items() for name, values in metrics.items()])


def format_summary(summary, n):
    """The printed table: a line per split, each metric as mean +- sd over ``n`` seeds."""
    lines = [f"mean +- sd over {n} seeds:"]
    for split, metrics in summary.items():
        cells = [f"{name} {v['mean']:.3f} +- {v['sd']:.3f}" for name, v in metrics.items()]
        lines.append(f"  {split:<5} " + ", ".join(cells))
    return "\n".join(lines)
