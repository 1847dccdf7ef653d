"""One model from several: their outputs averaged (seed and fold ensembles)."""

import keras

__all__ = ["ensemble"]


def ensemble(models, name="ensemble"):
    """A Keras model whose output is the mean of ``models``' outputs on the same input.

    The one model averaging of biocnn: cross-validation folds (:mod:`biocnn.cv.ensemble`) and
    the seed and fold ensembles that ``biocnn export``/``biocnn predict --run`` serve.

    Args:
        models: Keras models taking the same input shape.
        name: the ensemble's name.

    Returns:
        a ``keras.Model``.

    Raises:
        ValueError: no models, or models that take different input shapes.

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
    if len({m.name for m in models}) < len(models):
        # Runs of one recipe (seeds, folds) load under one name; Keras needs distinct names.
        models = [_renamed(m, f"{name}_member_{i + 1}") for i, m in enumerate(models)]
    outputs = [m(inputs) for m in models]
    average = outputs[0] if len(outputs) == 1 else keras.layers.Average(name=f"{name}_mean")(outputs)
    return keras.Model(inputs, average, name=name)


def _renamed(model, name):
    inputs = keras.Input(model.input_shape[1:], name=f"{name}_input")
    return keras.Model(inputs, model(inputs), name=name)
