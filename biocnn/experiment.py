"""One training run from data splits to a complete run directory.

Shared by every pipeline: train with checkpoints (so ``--resume`` works), evaluate the
selected model on the validation and test splits, and write ``config.json``,
``history.csv``, ``metrics.json``, ``model.keras``, ``training_curves.png``, and for the test
split ``predictions.csv``, ``per_class.csv``, ``confusion_matrix.csv``/``.png`` and ``roc.png``.
"""

import dataclasses
import platform
import sys

import keras
import numpy as np
import pandas as pd
import sklearn
import tensorflow as tf

import biocnn
from biocnn import evaluation, plots, training
from biocnn.splits import check_splits


def versions():
    """Versions of everything that changes results, for ``config.json``."""
    return {
        "biocnn": biocnn.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


@dataclasses.dataclass
class ExperimentResult:
    """What :func:`train_and_evaluate` returns.

    Attributes:
        metrics: the dict written to ``metrics.json``.
        scores: split -> (N, C) class scores of the selected model.
        training: the :class:`biocnn.training.TrainingResult`.
    """

    metrics: dict
    scores: dict
    training: training.TrainingResult


def _describe_data(splits, class_names):
    summary = {}
    for split, (x, y) in splits.items():
        counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(class_names))
        summary[split] = {
            "samples": int(len(y)),
            "input_shape": list(np.shape(x)[1:]),
            "class_counts": {name: int(n) for name, n in zip(class_names, counts)},
        }
    return summary


def predictions_table(ids, labels, scores, class_names):
    """Per-sample table: id, true label, predicted label, and one score column per class."""
    scores = evaluation.class_scores(scores)
    labels = np.asarray(labels)
    table = pd.DataFrame(
        {
            "id": ids if ids is not None else np.arange(len(labels)),
            "label": [class_names[i] for i in labels],
            "predicted": [class_names[i] for i in scores.argmax(1)],
        }
    )
    for c, name in enumerate(class_names):
        table[f"score_{name}"] = scores[:, c]
    return table


def write_test_report(run, labels, scores, class_names, ids=None, split="test"):
    """Per-class metrics, confusion matrix, ROC curves and per-sample predictions of one split."""
    per_class = evaluation.per_class_metrics(labels, scores, class_names)
    run.write_text(f"per_class_{split}.csv" if split != "test" else "per_class.csv", per_class.to_csv(index=False))
    matrix = evaluation.confusion_matrix(labels, scores)
    matrix_df = pd.DataFrame(matrix, index=[f"true_{c}" for c in class_names], columns=[f"pred_{c}" for c in class_names])
    run.write_text("confusion_matrix.csv", matrix_df.to_csv())
    plots.plot_confusion_matrix(matrix, class_names, run.file("confusion_matrix.png"), title=f"{split} split")
    plots.plot_roc(np.asarray(labels), evaluation.class_scores(scores), class_names, run.file("roc.png"), title=f"{split} split")
    run.write_text("predictions.csv", predictions_table(ids, labels, scores, class_names).to_csv(index=False))
    return per_class


def train_and_evaluate(
    run,
    model,
    splits,
    config,
    arguments=None,
    class_names=None,
    ids=None,
    augmentation=None,
    batch_transform=None,
    mixup=None,
    extra_config=None,
    verbose=2,
):
    """Train ``model`` on ``splits["train"]``, select on ``"val"``, report on ``"test"``.

    Args:
        run: a :class:`biocnn.rundir.RunDirectory`; with ``run.resumed`` training continues
            from ``run/checkpoints``.
        model: an uncompiled Keras classifier.
        splits: dict with ``"train"``, ``"val"`` and ``"test"``, each ``(x, y)`` arrays with
            integer labels.
        config: a :class:`biocnn.training.TrainingConfig`.
        arguments: the pipeline's arguments, recorded in ``config.json``.
        class_names: names of the classes, in label order (default "0", "1", ...).
        ids: optional dict split -> sample ids, for ``predictions.csv``.
        augmentation: a Keras layer applied to training inputs only (see ``training.fit``).
        batch_transform: ``(x, y) -> (x, y)`` on training batches only.
        mixup: a ``biocnn.augment.MixUp`` layer applied inside the training step.
        extra_config: more entries for ``config.json`` (e.g. the encoding or preprocessing).
        verbose: Keras's verbosity during training.

    Returns:
        An :class:`ExperimentResult`.
    """
    num_classes = int(model.output_shape[-1]) if model.output_shape[-1] != 1 else 2
    class_names = [str(c) for c in (class_names if class_names is not None else range(num_classes))]
    check_splits(arrays=splits, ids=ids, class_names=class_names, verbose=bool(verbose))
    run.check_or_record_fingerprints(data={"splits": splits, "ids": ids, "encoding": extra_config}, settings=dict(config.to_dict(), epochs=None, strategy=None))
    run.write_json(
        "config.json",
        {
            "arguments": arguments or {},
            "training": config.to_dict(),
            "seed": config.seed,
            "model": {"name": model.name, "parameters": int(model.count_params())},
            "augmentation": None if augmentation is None else keras.saving.serialize_keras_object(augmentation),
            "mixup": None if mixup is None else mixup.get_config(),
            "data": _describe_data(splits, class_names),
            "class_names": class_names,
            **(extra_config or {}),
            "versions": versions(),
            "command": " ".join(sys.argv),
        },
    )
    x_train, y_train = splits["train"]
    result = training.fit(
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
        verbose=verbose,
    )
    training.write_history(result.history, run.file("history.csv"))
    plots.plot_history(result.history, run.file("training_curves.png"), best_epoch=result.best_epoch)
    metrics = {"best_epoch": result.best_epoch, "stopped_early": result.stopped_early}
    scores = {}
    for split in ("val", "test"):
        if split in splits:
            metrics[split], scores[split] = evaluation.evaluate(model, *splits[split], loss=config.loss)
    if "test" in splits:
        per_class = write_test_report(run, splits["test"][1], scores["test"], class_names,
                                      ids=(ids or {}).get("test"))
        metrics["test"]["per_class"] = per_class.set_index("class").to_dict(orient="index")
    run.save_model(model)
    run.write_json("metrics.json", metrics)
    return ExperimentResult(metrics=metrics, scores=scores, training=result)
