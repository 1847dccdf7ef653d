"""A copy of a model whose variables live in a distribution strategy.

Variables that a strategy mirrors must be created inside ``strategy.scope()``. So that users
and pipelines can build their models as usual, training clones the model inside the scope,
copies its weights (and random-generator states) in, trains the copy, and copies the weights
back (:func:`copy_weights`).
"""

import keras

from biocnn.distribute.strategies import is_default, scope


def seed_generators(model):
    """Every ``keras.random.SeedGenerator`` of ``model``'s layers, in a fixed order.

    Their states are not part of Keras's weight files; resume and cloning copy them.
    """
    found = []

    def visit(layer):
        for value in vars(layer).values():
            if isinstance(value, keras.random.SeedGenerator):
                found.append(value)
        for sub in getattr(layer, "layers", []):
            visit(sub)

    for layer in getattr(model, "layers", [model]):
        visit(layer)
    return found


def clone_layer(layer):
    """A new, unbuilt layer with ``layer``'s configuration (same class, same seeds)."""
    return layer.__class__.from_config(layer.get_config())


def copy_weights(source, target):
    """Copy weights and random-generator states from ``source`` to ``target`` (same architecture)."""
    target.set_weights(source.get_weights())
    for a, b in zip(seed_generators(source), seed_generators(target)):
        b.state.assign(a.state.value)


def replicate(model, strategy):
    """A clone of ``model`` built inside ``strategy.scope()``, holding ``model``'s weights.

    Args:
        model: a built Keras model (functional, sequential, or serialisable subclass).
        strategy: a ``tf.distribute.Strategy``.

    Returns:
        The clone (``model`` itself for the default strategy).

    Example:
        >>> import tensorflow as tf
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> replicate(m, tf.distribute.get_strategy()) is m
        True
    """
    if is_default(strategy):
        return model
    with scope(strategy):
        clone = keras.models.clone_model(model)
    copy_weights(model, clone)
    return clone
