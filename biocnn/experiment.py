"""One training run from data splits to a complete run directory.

Shared by every pipeline: train with checkpoints (so ``--resume`` works), evaluate the
selected model on the validation and test splits, and write ``config.json``,
``history.csv``, ``metrics.json``, ``model.keras`` and ``training_curves.png``.
"""

import platform
import sys

import keras
import numpy as np
import sklearn
import tensorflow as tf

import biocnn
from biocnn import evaluation, plots, training


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


def train_and_evaluate(run, model, splits, config, arguments=None, class_names=None, verbose=2):
    """Train ``model`` on ``splits["train"]``, select on ``"val"``, report on ``"test"``.

    Args:
        run: a :class:`biocnn.rundir.RunDirectory`; with ``run.resumed`` training continues
            from ``run/checkpoints``.
        model: an uncompiled Keras classifier.
        splits: dict with ``"train"``, ``"val"`` and ``"test"``, each ``(x, y)`` arrays.
        config: a :class:`biocnn.training.TrainingConfig`.
        arguments: the pipeline's arguments, recorded in ``config.json``.
        class_names: names of the classes, in label order.
        verbose: Keras's verbosity during training.

    Returns:
        The metrics dict that was written to ``metrics.json``.
    """
    run.write_json(
        "config.json",
        {
            "arguments": arguments or {},
            "training": config.to_dict(),
            "seed": config.seed,
            "model": {"name": model.name, "parameters": int(model.count_params())},
            "data": {s: {"samples": int(len(y)), "input_shape": list(x.shape[1:])} for s, (x, y) in splits.items()},
            "class_names": list(class_names) if class_names is not None else None,
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
        verbose=verbose,
    )
    training.write_history(result.history, run.file("history.csv"))
    plots.plot_history(result.history, run.file("training_curves.png"), best_epoch=result.best_epoch)
    metrics = {"best_epoch": result.best_epoch, "stopped_early": result.stopped_early}
    for split in ("val", "test"):
        if split in splits:
            metrics[split], _ = evaluation.evaluate(model, *splits[split], loss=config.loss)
    run.save_model(model)
    run.write_json("metrics.json", metrics)
    return metrics
