"""One model from the fold models: their outputs averaged, for export and prediction."""

import os

import keras


def ensemble(models, name="ensemble"):
    """A Keras model whose output is the mean of ``models``' outputs on the same input.

    Example:
        >>> m = [keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]) for _ in range(2)]
        >>> print(ensemble(m).output_shape)
        (None, 2)
    """
    models = list(models)
    if not models:
        raise ValueError("ensemble needs at least one model.")
    shapes = {tuple(m.input_shape[1:]) for m in models}
    if len(shapes) != 1:
        raise ValueError(f"The models take different input shapes: {sorted(shapes)}.")
    inputs = keras.Input(models[0].input_shape[1:], name=f"{name}_input")
    outputs = [m(inputs) for m in models]
    average = outputs[0] if len(outputs) == 1 else keras.layers.Average(name=f"{name}_mean")(outputs)
    return keras.Model(inputs, average, name=name)


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
