"""The one experiment path: train -> evaluate -> report, for every pipeline, CV fold and fine-tuning.

:func:`train_and_evaluate` trains with checkpoints (so ``--resume`` works) through a pluggable
training step (default :func:`biocnn.training.fit`; transfer learning passes two-phase
fine-tuning), evaluates the selected model on the validation and test splits, and writes the
run directory: ``config.json``, ``history.csv``, ``metrics.json``, ``model.keras``,
``training_curves.png``, and for the test split ``predictions.csv`` (one table for every
pipeline: ``id, group, split, label, predicted, probability_<class>``), ``per_class.csv``,
``confusion_matrix.csv``/``.png`` and ``roc.png``. A cross-validation fold is one such run in
``fold_K/``.
"""

import dataclasses
import math
import os
import sys
import time
import warnings

import keras
import numpy as np
import pandas as pd

from biocnn import evaluation, plots, rundir, runtime, training
from biocnn import tta as tta_module
from biocnn.errors import UserError
from biocnn.splits import check_splits

#: The predictions table's leading columns, then ``probability_<class>`` per class.
PREDICTION_COLUMNS = ("id", "group", "split", "label", "predicted")


def versions():
    """Versions of everything that changes results, for ``config.json`` (:func:`biocnn.runtime.versions`)."""
    return runtime.versions()


@dataclasses.dataclass
class ExperimentResult:
    """What :func:`train_and_evaluate` returns.

    Attributes:
        metrics: the dict written to ``metrics.json``.
        scores: split -> (N, C) class scores of the selected model.
        training: what the training step returned (a :class:`biocnn.training.TrainingResult`,
            or a :class:`biocnn.transfer.FineTuneResult`).
    """

    metrics: dict
    scores: dict
    training: object


class RunProgress(keras.callbacks.Callback):
    """One line per epoch with the run's elapsed time and its estimated time left (at most
    ``epochs``; early stopping may end sooner). Epoch hooks only, so training speed is unchanged.

    Args:
        epochs: the most epochs of this run.
        label: a prefix such as ``"fold 2/5"``.
    """

    def __init__(self, epochs, label=""):
        super().__init__()
        self.epochs, self.label = int(epochs), label

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.first = None

    def on_epoch_end(self, epoch, logs=None):
        self.first = epoch if self.first is None else self.first
        done = epoch + 1 - self.first
        elapsed = time.perf_counter() - self.start
        left = elapsed / done * (self.epochs - epoch - 1)
        prefix = f"{self.label}: " if self.label else ""
        print(f"{prefix}epoch {epoch + 1}/{self.epochs} done, {_duration(elapsed)} so far, at most "
              f"{_duration(left)} left", flush=True)


def _duration(seconds):
    return f"{seconds:.0f} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"


def describe_data(splits, class_names):
    """Samples, input shape and class counts per split, for ``config.json``."""
    summary = {}
    for split, (x, y) in splits.items():
        counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(class_names))
        shape = getattr(x, "element_spec", None)
        shape = list(shape[0].shape[1:]) if shape is not None else list(np.shape(x)[1:])
        summary[split] = {
            "samples": int(len(y)),
            "input_shape": shape,
            "class_counts": {name: int(n) for name, n in zip(class_names, counts)},
        }
    return summary


def predictions_table(labels, scores, class_names, ids=None, groups=None, split="test"):
    """The one per-sample table: ``id, group, split, label, predicted, probability_<class>``.

    Args:
        labels: (N,) integer labels.
        scores: (N, C) class scores (a single sigmoid column is expanded to two).
        class_names: the classes in label order.
        ids, groups: (N,) sample ids and groups (default: row numbers, empty).
        split: the split's name.

    Example:
        >>> t = predictions_table([0, 1], np.array([[0.9, 0.1], [0.3, 0.7]]), ["a", "b"])
        >>> print(list(t.columns), t["predicted"].tolist())
        ['id', 'group', 'split', 'label', 'predicted', 'probability_a', 'probability_b'] ['a', 'b']
    """
    scores = evaluation.class_scores(scores)
    labels = np.asarray(labels)
    table = pd.DataFrame(
        {
            "id": ids if ids is not None else np.arange(len(labels)),
            "group": groups if groups is not None else "",
            "split": split,
            "label": [class_names[i] for i in labels],
            "predicted": [class_names[i] for i in scores.argmax(1)],
        }
    )
    for c, name in enumerate(class_names):
        table[f"probability_{name}"] = scores[:, c]
    return table


def write_test_report(run, labels, scores, class_names, ids=None, groups=None, split="test"):
    """Per-class metrics, confusion matrix, ROC curves and per-sample predictions of one split."""
    per_class = evaluation.per_class_metrics(labels, scores, class_names)
    run.write_text(f"per_class_{split}.csv" if split != "test" else "per_class.csv", per_class.to_csv(index=False))
    matrix = evaluation.confusion_matrix(labels, scores)
    matrix_df = pd.DataFrame(matrix, index=[f"true_{c}" for c in class_names], columns=[f"pred_{c}" for c in class_names])
    run.write_text("confusion_matrix.csv", matrix_df.to_csv())
    plots.plot_confusion_matrix(matrix, class_names, run.file("confusion_matrix.png"), title=f"{split} split")
    plots.plot_roc(np.asarray(labels), evaluation.class_scores(scores), class_names, run.file("roc.png"), title=f"{split} split")
    table = predictions_table(labels, scores, class_names, ids=ids, groups=groups, split=split)
    run.write_text("predictions.csv", table.to_csv(index=False))
    return per_class


def tta_config(spec, model, extra_config=None):
    """``config.json``'s ``test_time`` entry of a run: ``{"tta": resolved views or None,
    "rc_average": bool}`` (``rc_average``: the views are the two strands, what exports and
    ``biocnn predict`` report); entries of ``extra_config["test_time"]`` are kept.

    Raises:
        ValueError: a spec that does not fit the model's inputs (:func:`biocnn.tta.resolve`).
    """
    extra = dict((extra_config or {}).get("test_time") or {})
    shape = model.input_shape[1:]
    alphabet = ((extra_config or {}).get("encoding") or {}).get("alphabet")
    resolved = tta_module.resolve(spec, rank=len(shape) - 1, channels=shape[-1], alphabet=alphabet)
    rc = bool(resolved and resolved["spec"] == "rc")
    return {**extra, "tta": resolved, "rc_average": rc or bool(extra.get("rc_average"))}


def check_resumable(run):
    """Refuse to resume a finished run whose checkpoints were removed (it has nothing to continue from).

    Raises:
        UserError: ``run`` is resumed, finished (``metrics.json``) and its checkpoint state is gone.
    """
    state = os.path.join(run.file("checkpoints"), "state.json")
    if run.resumed and rundir.METRICS in run.manifest() and not os.path.exists(state):
        raise UserError(
            f"Cannot resume the run in '{run.path}': it finished and kept only model.keras (its checkpoints are "
            "removed when a run finishes). To train it longer, rerun with --keep-checkpoints from the start; "
            "or start a new run (--overwrite, or another --out).")


def train_and_evaluate(
    run,
    model,
    splits,
    config,
    arguments=None,
    class_names=None,
    ids=None,
    *,
    groups=None,
    augmentation=None,
    batch_transform=None,
    mixup=None,
    extra_config=None,
    verbose=2,
    train_step=None,
    callbacks=(),
    tensorboard=False,
    progress=None,
    extra_metrics=None,
    tta=None,
    keep_checkpoints=False,
):
    """Train ``model`` on ``splits["train"]``, select on ``"val"``, report on ``"test"``.

    Args:
        run: a :class:`biocnn.rundir.RunDirectory`; with ``run.resumed`` training continues
            from ``run/checkpoints``.
        model: an uncompiled Keras classifier.
        splits: dict with ``"train"``, ``"val"`` and ``"test"``, each ``(x, y)`` arrays with
            integer labels (``"train"``'s ``x`` may be a ``tf.data.Dataset``).
        config: a :class:`biocnn.training.TrainingConfig`.
        arguments: the pipeline's arguments, recorded in ``config.json`` (a replay reads them).
        class_names: names of the classes, in label order (default "0", "1", ...).
        ids: optional dict split -> sample ids, for ``predictions.csv``.
        groups: optional dict split -> sample groups, for ``predictions.csv``.
        augmentation: a Keras layer applied to training inputs only (see ``training.fit``).
        batch_transform: ``(x, y) -> (x, y)`` on training batches only.
        mixup: a ``biocnn.augment.MixUp`` layer applied inside the training step.
        extra_config: more entries for ``config.json`` (e.g. the ``inputs``).
        verbose: Keras's verbosity during training (:func:`biocnn.cli.verbosity` for a person).
        train_step: the training step, ``train_step(model, x, y, validation=, config=,
            checkpoint_dir=, resume=, verbose=, callbacks=, **fit_kwargs)`` returning an object
            with ``history`` (DataFrame) and ``best_epoch`` (and optionally ``stopped_early``
            and ``metrics``, a dict merged into ``metrics.json``); default
            :func:`biocnn.training.fit`. Transfer learning passes two-phase fine-tuning.
        callbacks: more Keras callbacks.
        tensorboard: also write TensorBoard logs to ``run/tensorboard``.
        progress: a label such as ``"fold 2/5"``: print a line per epoch with the run's time
            left (None: no such line).
        extra_metrics: more entries for ``metrics.json`` (a CV fold's number and sizes).
        tta: a ``--tta`` spec (:func:`biocnn.tta.resolve`: ``"auto"``, ``"flips"``, ``"rc"`` ...):
            val and test are scored as the mean over the views (``metrics.json`` keeps the plain
            numbers under ``<split>_without_tta``), and ``config.json``'s ``test_time`` records
            the views, so the run's export averages them too. None: off.
        keep_checkpoints: keep ``checkpoints/`` when the run has finished (what ``--resume``
            needs to train a finished run for more epochs). By default a finished run keeps one
            copy of its weights, ``model.keras``: the checkpoint files it recorded are removed
            once ``model.keras`` and ``metrics.json`` are written (a killed run keeps them).

    Returns:
        An :class:`ExperimentResult`.
    """
    num_classes = int(model.output_shape[-1]) if model.output_shape[-1] != 1 else 2
    class_names = [str(c) for c in (class_names if class_names is not None else range(num_classes))]
    check_splits(arrays=splits, ids=ids, class_names=class_names, verbose=bool(verbose))
    test_time = tta_config(tta, model, extra_config)
    augmentation_config = None if augmentation is None else keras.saving.serialize_keras_object(augmentation)
    if test_time["tta"] is not None and not tta_module.trained_on_views(augmentation_config, test_time["tta"]):
        spec = test_time["tta"]["spec"]
        needed = " or ".join(tta_module.TRAINED_VIEWS["rc" if spec == "rc" else "flips"])
        warnings.warn(f"--tta {spec}: the model was not trained on these views (no {needed} in its augmentation); "
                      "views a model never saw can lower accuracy. Train with --augment, and compare metrics.json's "
                      "<split>_without_tta.", stacklevel=2)
    run.check_or_record_fingerprints(data={"splits": splits, "ids": ids, "encoding": extra_config},
                                     settings=training.resume_settings(config.to_dict()))
    check_resumable(run)
    run.write_json(
        "config.json",
        {
            "arguments": arguments or {},
            "training": config.to_dict(),
            "seed": config.seed,
            "model": {"name": model.name, "parameters": int(model.count_params())},
            "augmentation": augmentation_config,
            "mixup": None if mixup is None else mixup.get_config(),
            "data": describe_data(splits, class_names),
            "class_names": class_names,
            **(extra_config or {}),
            "test_time": test_time,
            "versions": versions(),
            "command": " ".join(sys.argv),
        },
    )
    callbacks = list(callbacks)
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=run.folder("tensorboard")))
    if progress is not None:
        callbacks.append(RunProgress(config.epochs, progress))
    x_train, y_train = splits["train"]
    result = (train_step or training.fit)(
        model,
        x_train,
        y_train,
        validation=splits.get("val"),
        config=config,
        checkpoint_dir=run.folder("checkpoints"),
        resume=run.resumed,
        augmentation=augmentation,
        batch_transform=batch_transform,
        mixup=mixup,
        callbacks=callbacks,
        verbose=verbose,
    )
    training.write_history(result.history, run.file("history.csv"))
    numeric = result.history.select_dtypes("number")
    plots.plot_history(numeric, run.file("training_curves.png"), best_epoch=result.best_epoch)
    metrics = {"best_epoch": result.best_epoch, "stopped_early": bool(getattr(result, "stopped_early", False)),
               **getattr(result, "metrics", {}), **(extra_metrics or {})}
    scores = {}
    scored = model if test_time["tta"] is None else tta_module.with_tta(model, test_time["tta"]["views"])
    for split in ("val", "test"):
        if split in splits:
            metrics[split], scores[split] = evaluation.evaluate(scored, *splits[split], loss=config.loss)
            if scored is not model:
                metrics[f"{split}_without_tta"] = evaluation.evaluate(model, *splits[split], loss=config.loss)[0]
    if "test" in splits:
        per_class = write_test_report(run, splits["test"][1], scores["test"], class_names,
                                      ids=(ids or {}).get("test"), groups=(groups or {}).get("test"))
        metrics["test"]["per_class"] = per_class.set_index("class").to_dict(orient="index")
    run.save_model(model)
    run.write_json("metrics.json", metrics)
    if not keep_checkpoints:
        run.remove_recorded("checkpoints")  # model.keras is the one copy of the weights a finished run keeps
    return ExperimentResult(metrics=metrics, scores=scores, training=result)
