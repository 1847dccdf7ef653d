"""A deep feed-forward network ("DNN", multilayer perceptron) over a flattened input.

The baseline a CNN is compared with: it ignores where values sit along the spatial axes, so
it needs many more parameters for the same input (a 28x28 image into 512 units is already
401,920 weights and biases).
"""

import numbers

import keras

from biocnn.models import blocks
from biocnn.models.registry import register

__all__ = ["mlp"]


def _check_hidden_units(hidden_units, name):
    if isinstance(hidden_units, (str, bytes)) or not hasattr(hidden_units, "__iter__"):
        raise ValueError(
            f"{name}: hidden_units must be a sequence of positive ints, one per hidden layer, "
            f"e.g. (512, 256) or ({hidden_units!r},) for one layer; got {hidden_units!r}."
        )
    units = tuple(hidden_units)
    for u in units:
        if isinstance(u, bool) or not isinstance(u, numbers.Integral) or u < 1:
            raise ValueError(
                f"{name}: every entry of hidden_units must be a positive int; got {u!r} in "
                f"{units}."
            )
    return tuple(int(u) for u in units)


@register("mlp", ranks=(1, 2, 3))
def mlp(
    input_shape,
    num_classes,
    hidden_units=(512, 256),
    activation="relu",
    dropout=0.5,
    output_activation="softmax",
    name="mlp",
):
    """Multilayer perceptron: flatten, then Dense - activation - Dropout per hidden layer.

    Layers, with ``name`` as prefix: ``_input``, ``_flatten``, then for hidden layer ``i``
    (from 1) ``_fc{i}``, ``_fc{i}_act`` and ``_dropout{i}`` (absent when ``dropout`` is 0),
    then ``_logits`` (Dense, no activation) and ``_probs`` (absent when ``output_activation``
    is None).

    Parameters: with ``n`` input values (the product of ``input_shape``) and hidden sizes
    ``h1, ..., hk``, the count is ``sum(a * b + b)`` over consecutive pairs of
    ``(n, h1, ..., hk, num_classes)``.

    Args:
        input_shape: tuple of int, channels last without the batch axis (rank 1, 2 or 3).
        num_classes: int, number of outputs.
        hidden_units: sequence of positive ints, the width of each hidden layer; empty gives
            a (multinomial) logistic regression.
        activation: str, Keras activation name for the hidden layers.
        dropout: float in [0, 1), dropout rate after each hidden layer; 0 adds no Dropout.
        output_activation: str or None. ``"softmax"`` (default); None leaves raw scores.
        name: str, the model name and the prefix of every layer name.

    Returns:
        keras.Model: the MLP.

    Raises:
        ValueError: for an unsupported ``input_shape``, a bad ``num_classes``,
            ``hidden_units`` or ``dropout``, or an unknown activation.

    Example:
        >>> model = mlp((28, 28, 1), 10, hidden_units=(32,))
        >>> print(model.output_shape, model.count_params())
        (None, 10) 25450
    """
    blocks.rank_of(input_shape, where=name)
    num_classes = blocks.check_num_classes(num_classes, where=name)
    units = _check_hidden_units(hidden_units, name)
    if (
        isinstance(dropout, bool)
        or not isinstance(dropout, numbers.Real)
        or not 0 <= dropout < 1
    ):
        raise ValueError(
            f"{name}: dropout must be a rate in [0, 1) (0 for none), got {dropout!r}."
        )

    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    x = keras.layers.Flatten(name=f"{name}_flatten")(inputs)
    for i, width in enumerate(units, start=1):
        x = keras.layers.Dense(width, name=f"{name}_fc{i}")(x)
        x = blocks.activation(activation, f"{name}_fc{i}_act", where=name)(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout{i}")(x)
    x = keras.layers.Dense(num_classes, name=f"{name}_logits")(x)
    if output_activation is not None:
        x = blocks.activation(output_activation, f"{name}_probs", where=name)(x)
    return keras.Model(inputs, x, name=name)
