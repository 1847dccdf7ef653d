"""n-fold cross-validation that a reviewer would trust.

Each outer fold's test part is touched once, by the model selected on a validation split
carved out of that fold's training part (group-aware too). Every fold is a self-contained unit
in ``out_dir/fold_K/``: an interrupted run resumes at the first unfinished fold (and inside it,
from its last epoch), and folds can run as separate jobs and be collected afterwards.
"""

import dataclasses
import json
import os

import numpy as np
import pandas as pd

from biocnn import evaluation, experiment, plots, training
from biocnn.cv import search as search_module
from biocnn.cv.splitters import check_folds, check_no_leakage, make_splitter
from biocnn.cv.stats import summarize_folds
from biocnn.rundir import RunDirectory, is_finished, make_folder, read_metrics, write_json, write_text
from biocnn.splits import check_splits, holdout_split
from biocnn.training import TrainingConfig

METRICS = ("accuracy", "loss", "auroc", "auprc")
ASSIGNMENT = "folds.json"


@dataclasses.dataclass
class CVResult:
    """What :func:`cross_validate` and :func:`collect` return.

    Attributes:
        folds: one row per fold: sizes, best epoch, chosen parameters and every test metric.
        summary: metric -> {mean, sd, ci_low, ci_high, n} over the folds.
        pooled: the metrics of all out-of-fold predictions together.
        predictions: one row per sample: the experiment's predictions table (id, group, split,
            label, predicted, probability_<class>) with its ``fold`` and row ``index``.
        histories: fold number -> training history DataFrame.
    """

    folds: pd.DataFrame
    summary: dict
    pooled: dict
    predictions: pd.DataFrame
    histories: dict


def assign_folds(y, cv=5, groups=None, val_size=0.15, seed=0, class_names=None):
    """The test and validation indices of every fold, checked for leakage.

    Returns:
        list of dicts ``{"train": idx, "val": idx, "test": idx}`` (sorted int arrays).

    Raises:
        ValueError: a class with fewer members than folds, fewer groups than folds, or groups
            that do not match the labels.
        biocnn.cv.LeakageError: a custom splitter that puts a group on both sides.
    """
    y = np.asarray(y)
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != len(y):
            raise ValueError(f"groups has {len(groups)} entries but there are {len(y)} samples.")
    splitter = make_splitter(cv, groups, seed)
    n_splits = splitter.get_n_splits(np.zeros(len(y)), y, groups)
    check_folds(y, n_splits, groups, class_names)
    folds = []
    for k, (rest, test) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
        inner_groups = None if groups is None else groups[rest]
        train, val = holdout_split(y[rest], val_size, inner_groups, seed + 1 + k, class_names)
        fold = {"train": np.sort(rest[train]), "val": np.sort(rest[val]), "test": np.sort(test)}
        check_no_leakage(groups, fold["train"], fold["val"], fold["test"], names=("train", "validation", "test"))
        folds.append(fold)
    return folds


def _save_assignment(out_dir, folds, n, settings):
    path = os.path.join(out_dir, ASSIGNMENT)
    record = {"settings": settings, "num_samples": n,
              "folds": [{k: v.tolist() for k, v in fold.items()} for fold in folds]}
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        if saved["folds"] != record["folds"] or saved["settings"] != settings:
            raise ValueError(
                f"Cannot resume the cross-validation in '{out_dir}': its folds or settings differ from "
                "this run's (other data, seed, folds or training settings). Use a new output folder."
            )
        return
    write_json(path, record)


def run_fold(k, fold, build_model, x, y, out_dir, config, ids=None, class_names=None,
             search_space=None, n_iter=None, score="loss", make_augmentation=None, verbose=0, *,
             groups=None, n_folds=None, arguments=None, extra_config=None, tta=None, keep_checkpoints=False):
    """Train, select and test one fold through the experiment path; write ``out_dir/fold_{k+1}/``.

    The fold is one run (:func:`biocnn.experiment.train_and_evaluate`): ``config.json``,
    ``history.csv``, ``model.keras``, ``predictions.csv`` (the one table), ``metrics.json``
    (with the fold's number, sizes and chosen parameters). A finished fold is skipped.
    """
    folder = os.path.join(out_dir, f"fold_{k + 1}")
    label = f"fold {k + 1}/{n_folds}" if n_folds else f"fold {k + 1}"
    if is_finished(folder):
        if verbose:
            print(f"{label}: already finished, skipped", flush=True)
        return
    splits = {s: (x[fold[s]], y[fold[s]]) for s in ("train", "val", "test")}
    check_splits(arrays=splits, class_names=class_names, where=f"fold {k + 1}", verbose=bool(verbose))
    params, trials = {}, None
    if search_space:
        trials, params = search_module.search(build_model, splits["train"], splits["val"], search_space, config,
                                              n_iter, config.seed + k, score, verbose=verbose, label=label)
    config_params, model_params = search_module.split_params(params)
    fold_config = dataclasses.replace(config, **config_params)
    training.set_seed(fold_config.seed + k)
    model = build_model(**model_params)
    names = class_names or [str(c) for c in range(max(int(np.max(y)) + 1, 2))]
    run = RunDirectory(folder, resume=True)
    result = experiment.train_and_evaluate(
        run, model, splits, fold_config, arguments, names,
        ids={s: (ids[fold[s]] if ids is not None else fold[s]) for s in fold},
        groups=None if groups is None else {s: groups[fold[s]] for s in fold},
        augmentation=make_augmentation() if make_augmentation else None, verbose=0,
        extra_config={"fold": k + 1, **(extra_config or {})}, progress=label if verbose else None,
        extra_metrics={"fold": k + 1, "sizes": {s: int(len(fold[s])) for s in fold}, "params": params},
        tta=tta, keep_checkpoints=keep_checkpoints,
    )
    if trials is not None:
        run.write_text("search.csv", trials.to_csv(index=False))
    metrics = result.metrics["test"]
    if verbose:
        print(f"{label}: test accuracy {metrics['accuracy']:.3f}, AUROC {metrics['auroc']:.3f} "
              f"(train {len(fold['train'])}, val {len(fold['val'])}, test {len(fold['test'])})", flush=True)


def cross_validate(build_model, x, y, cv=5, groups=None, ids=None, config=None, out_dir=None,
                   val_size=0.15, class_names=None, search_space=None, n_iter=None, score="loss",
                   make_augmentation=None, only_folds=None, verbose=1, *, arguments=None, extra_config=None,
                   tta=None, keep_checkpoints=False):
    """n-fold cross-validation of ``build_model`` on ``(x, y)``.

    Args:
        build_model: ``build_model(**options) -> uncompiled keras.Model``; called once per fold
            (and per search candidate).
        x, y: arrays; y integer class labels.
        cv: number of folds (StratifiedKFold, or StratifiedGroupKFold with groups) or any
            scikit-learn splitter.
        groups: optional group ids (patient, slide, donor): no group on two sides of any split.
        ids: optional sample ids for the out-of-fold predictions table.
        config: :class:`biocnn.training.TrainingConfig`; its seed seeds the folds too.
        out_dir: folder for ``folds.json`` and ``fold_K/`` (required: folds are checkpointed).
        val_size: fraction of each training fold held out for early stopping and selection.
        class_names: class names in label order.
        search_space: optional dict parameter -> values: a nested search inside every fold,
            scored on that fold's validation split.
        n_iter: random search with this many candidates instead of the full grid.
        score: the validation metric the search selects on.
        make_augmentation: optional ``() -> keras layer``, a fresh augmentation per fold.
        only_folds: run only these fold numbers (1-based), e.g. one array job per fold; then
            call :func:`collect` once all have run.
        verbose: print one line per fold and per epoch ("fold 2/5: epoch 3/30 ...").
        arguments, extra_config: recorded in every fold's ``config.json`` (see
            :func:`biocnn.experiment.train_and_evaluate`).
        tta: a test-time augmentation spec for every fold's evaluation (:func:`biocnn.tta.resolve`).
        keep_checkpoints: keep each finished fold's ``checkpoints/`` (default: ``model.keras`` only).

    Returns:
        A :class:`CVResult` (or None when ``only_folds`` leaves folds unfinished).

    Example:
        >>> import numpy as np, keras
        >>> def build():
        ...     return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
        >>> x = np.random.rand(40, 3).astype("float32"); y = np.arange(40) % 2
        >>> r = cross_validate(build, x, y, cv=2, config=TrainingConfig(epochs=1, batch_size=8),
        ...                    out_dir="/tmp/biocnn_cv_doc", verbose=0)  # doctest: +SKIP
        >>> len(r.folds)  # doctest: +SKIP
        2
    """
    if out_dir is None:
        raise ValueError("cross_validate needs out_dir: each fold is checkpointed there.")
    config = config or TrainingConfig()
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}.")
    if search_space:
        search_module.check_space(search_space, build_model)
    folds = assign_folds(y, cv, groups, val_size, config.seed, class_names)
    make_folder(out_dir)
    # Fold jobs may run under different strategies (same results): the strategy is no setting.
    settings = {"cv": str(cv) if not isinstance(cv, int) else cv, "val_size": val_size,
                "config": {k: v for k, v in config.to_dict().items() if k != "strategy"}, "search_space": search_space, "n_iter": n_iter,
                "groups": groups is not None}
    if tta not in (None, "none"):
        settings["tta"] = tta  # only when on: older CV runs resume unchanged
    _save_assignment(out_dir, folds, len(y), json.loads(json.dumps(settings, default=str)))
    ids = None if ids is None else np.asarray(ids)
    groups = None if groups is None else np.asarray(groups)
    for k, fold in enumerate(folds):
        if only_folds is not None and k + 1 not in only_folds:
            continue
        if verbose:
            print(f"fold {k + 1}/{len(folds)}", flush=True)
        run_fold(k, fold, build_model, x, y, out_dir, config, ids, class_names, search_space,
                 n_iter, score, make_augmentation, verbose, groups=groups, n_folds=len(folds),
                 arguments=arguments, extra_config=extra_config, tta=tta, keep_checkpoints=keep_checkpoints)
    unfinished = [k + 1 for k in range(len(folds))
                  if not is_finished(os.path.join(out_dir, f"fold_{k + 1}"))]
    if unfinished:
        if verbose:
            print(f"folds still to run: {unfinished}; then collect the results", flush=True)
        return None
    return collect(out_dir, class_names)


def collect(out_dir, class_names=None):
    """Assemble finished folds into the report: ``cv_folds.csv``, ``cv_metrics.json``,
    ``oof_predictions.csv``, ``roc_folds.png``.

    Raises:
        ValueError: a fold has not finished (names it), or ``out_dir`` holds no CV run.
    """
    path = os.path.join(out_dir, ASSIGNMENT)
    if not os.path.exists(path):
        raise ValueError(f"'{out_dir}' holds no cross-validation run (no {ASSIGNMENT}).")
    with open(path) as f:
        assignment = json.load(f)["folds"]
    n_folds = len(assignment)
    rows, tables, histories = [], [], {}
    for k in range(1, n_folds + 1):
        folder = os.path.join(out_dir, f"fold_{k}")
        if not is_finished(folder):
            raise ValueError(f"Fold {k} of {n_folds} in '{out_dir}' has not finished; run it (--fold {k}) first.")
        fold = read_metrics(folder)
        rows.append({"fold": k, **{f"n_{s}": n for s, n in fold["sizes"].items()},
                     "best_epoch": fold["best_epoch"], "params": json.dumps(fold["params"], sort_keys=True),
                     **{m: fold["test"][m] for m in METRICS}})
        table = pd.read_csv(os.path.join(folder, "predictions.csv"), keep_default_na=False,
                            dtype={"id": str, "group": str, "label": str, "predicted": str})
        tables.append(table.assign(fold=k, index=assignment[k - 1]["test"]))
        histories[k] = pd.read_csv(os.path.join(folder, "history.csv"))
    folds = pd.DataFrame(rows)
    predictions = pd.concat(tables, ignore_index=True).sort_values("index").reset_index(drop=True)
    probability_columns = [c for c in predictions.columns if c.startswith("probability_")]
    names = class_names or [c[len("probability_"):] for c in probability_columns]
    labels = predictions["label"].map({name: i for i, name in enumerate(names)}).to_numpy()
    summary = {m: summarize_folds(folds[m].tolist(), m, predictions.assign(label=labels)) for m in METRICS}
    pooled = evaluation.classification_metrics(labels, predictions[probability_columns].to_numpy())
    write_text(os.path.join(out_dir, "cv_folds.csv"), folds.to_csv(index=False))
    write_text(os.path.join(out_dir, "oof_predictions.csv"), predictions.to_csv(index=False))
    write_json(os.path.join(out_dir, "cv_metrics.json"), {"folds": n_folds, "summary": summary, "pooled_out_of_fold": pooled})
    plots.plot_roc_folds(predictions.assign(label=labels), names, os.path.join(out_dir, "roc_folds.png"))
    return CVResult(folds=folds, summary=summary, pooled=pooled, predictions=predictions, histories=histories)
