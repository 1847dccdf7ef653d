"""One model from the fold models: their outputs averaged, for export and prediction."""

import os

import keras

from biocnn.models.ensemble import ensemble

__all__ = ["ensemble", "load_fold_models"]


def load_fold_models(out_dir):
    """The ``fold_K/model.keras`` files of a cross-validation run, in fold order."""
    paths = sorted(
        (os.path.join(out_dir, d, "model.keras") for d in os.listdir(out_dir) if d.startswith("fold_")),
        key=lambda p: int(os.path.basename(os.path.dirname(p)).split("_")[1]),
    )
    missing = [p for p in paths if not os.path.exists(p)]
    if missing or not paths:
        raise ValueError(f"No complete fold models in '{out_dir}' (missing: {missing or 'all'}).")
    return [keras.saving.load_model(p) for p in paths]
