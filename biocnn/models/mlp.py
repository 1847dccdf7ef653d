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
    width_multiplier=1.0,
    head="softmax",
    output_activation=blocks.FROM_HEAD,
    name="mlp",
):
    """Multilayer perceptron: flatten, then Dense - activation - Dropout per hidden layer.

    Layers, with ``name`` as prefix: ``_input``, ``_flatten``, then for hidden layer ``i``
    (from 1) ``_fc{i}``, ``_fc{i}_act`` and ``_dropout{i}`` (absent when ``dropout`` is 0),
    then ``_logits`` (Dense, no activation) and ``_probs`` (softmax or sigmoid; absent for the
    regression and logits heads). It has no convolutional layer.

    Parameters: with ``n`` input values (the product of ``input_shape``) and hidden sizes
    ``h1, ..., hk``, the count is ``sum(a * b + b)`` over consecutive pairs of
    ``(n, h1, ..., hk, num_classes)`` (with maxout, each hidden ``b`` is doubled).

    Args:
        input_shape: tuple of int, channels last without the batch axis (rank 1, 2 or 3).
        num_classes: int, number of outputs.
        hidden_units: sequence of positive ints, the width of each hidden layer; empty gives
            a (multinomial) logistic regression.
        activation: str, hidden activation, one of ``blocks.HIDDEN_ACTIVATIONS`` (``"maxout"``:
            each hidden layer is a layer of maxout units of ``blocks.MAXOUT_PIECES`` pieces).
        dropout: float in [0, 1), dropout rate after each hidden layer; 0 adds no Dropout.
        width_multiplier: positive float scaling ``hidden_units``.
        head: ``"softmax"`` (default), ``"sigmoid"``, ``"regression"`` or ``"logits"``/None.
        output_activation: the older spelling of ``head``: ``"softmax"``, ``"sigmoid"``,
            ``"linear"`` or None (raw scores).
        name: str, the model name and the prefix of every layer name.

    Returns:
        keras.Model: the MLP.

    Raises:
        ValueError: for an unsupported ``input_shape``, a bad ``num_classes``,
            ``hidden_units``, ``dropout`` or ``width_multiplier``, or an unknown activation
            or head.

    Example:
        >>> model = mlp((28, 28, 1), 10, hidden_units=(32,))
        >>> print(model.output_shape, model.count_params())
        (None, 10) 25450
    """
    blocks.rank_of(input_shape, where=name)
    num_classes = blocks.check_num_classes(num_classes, where=name)
    units = _check_hidden_units(hidden_units, name)
    activation = blocks.check_activation(activation, where=name)
    dropout = blocks.check_rate(dropout, where=name)
    width = blocks.check_width(width_multiplier, where=name)
    head = blocks.resolve_head(head, output_activation, where=name)

    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    x = keras.layers.Flatten(name=f"{name}_flatten")(inputs)
    for i, width_i in enumerate(units, start=1):
        x = blocks.dense_unit(x, blocks.scaled(width_i, width), activation, f"{name}_fc{i}")
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout{i}")(x)
    x = blocks.output_head(x, num_classes, head, name)
    return keras.Model(inputs, x, name=name)
