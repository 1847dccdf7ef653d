"""Model accounting: convolution arithmetic and a per-layer table of activations and parameters.

Two questions come up whenever a network is designed or read:

* *How large is the output of this convolution or pooling?*  :func:`conv_output_size` answers
  with the formula ``(W - F + 2P) / S + 1`` and explains, when the numbers do not work, which
  padding or stride would.
* *Where do the memory and the parameters go?*  :func:`layer_table` lists, for every layer of a
  built Keras model, its output shape, the number of values it stores per example (what
  dominates memory in the forward pass) and its parameter count, with a ``total`` row, like the
  VGG-16 table of the CS231n lecture (138,357,544 parameters).
"""

import difflib
import math
import numbers

import keras
import numpy as np
import pandas as pd

__all__ = ["conv_output_size", "layer_table"]


# --------------------------------------------------------------------------------------------
# conv_output_size
# --------------------------------------------------------------------------------------------


def _check_int(name, meaning, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = f"; pass int({value!r}) if it is whole" if isinstance(value, float) else ""
        raise ValueError(
            f"conv_output_size: {name} ({meaning}) must be an integer, got {value!r} "
            f"({type(value).__name__}){hint}. Per-axis tuples are not accepted: call "
            "conv_output_size once per axis."
        )
    return int(value)


def _nearest(candidates, target):
    # Closest candidate to target; ties go to the smaller value.
    return min(candidates, key=lambda c: (abs(c - target), c)) if candidates else None


def conv_output_size(W, F, S=1, P=0):
    """Output size of a convolution or pooling window along one axis: ``(W - F + 2P) / S + 1``.

    The formula holds for every axis separately; for a 2D or 3D layer call it once per spatial
    axis (per-axis tuples are deliberately not accepted). It is strict: when the stride does
    not tile the padded input exactly it raises, where Keras would silently drop the last rows
    (``padding="valid"``), so that a design mistake is seen at once.

    Args:
        W: int, input size along the axis (>= 1).
        F: int, filter (kernel or pooling window) size (>= 1, at most ``W + 2P``).
        S: int, stride (>= 1). Default 1.
        P: int, zero padding added on *each* side (>= 0). Default 0. Keras' ``padding="same"``
            with stride 1 and an odd filter corresponds to ``P = (F - 1) // 2``.

    Returns:
        int: the output size along the axis.

    Raises:
        ValueError: if an argument is not an integer or out of range, if the filter is larger
            than the padded input, or if ``(W - F + 2P)`` is not divisible by ``S``; the message
            shows the arithmetic and suggests the nearest padding or stride that works.

    Example:
        >>> conv_output_size(227, 11, S=4)  # AlexNet conv1: 227x227 input, 11x11 filter, stride 4
        55
        >>> conv_output_size(32, 5, S=1, P=2)  # 'same' 5x5 convolution keeps 32
        32
    """
    W = _check_int("W", "input size", W)
    F = _check_int("F", "filter size", F)
    S = _check_int("S", "stride", S)
    P = _check_int("P", "padding", P)
    for name, meaning, value, low in (
        ("W", "input size", W, 1),
        ("F", "filter size", F, 1),
        ("S", "stride", S, 1),
        ("P", "padding", P, 0),
    ):
        if value < low:
            raise ValueError(
                f"conv_output_size: {name} ({meaning}) must be >= {low}, got {value}."
            )
    padded = W + 2 * P
    if F > padded:
        needed_p = math.ceil((F - W) / 2)
        raise ValueError(
            f"conv_output_size: filter larger than the padded input: F = {F} > W + 2P = "
            f"{W} + {2 * P} = {padded}. Use a filter of at most {padded}, or padding "
            f"P >= {needed_p}."
        )
    span = W - F + 2 * P
    if span % S:
        # A tiling padding may not exist (even S, odd W - F); a tiling stride always does (1).
        tiling_p = [p for p in range(P + S + 1) if W - F + 2 * p >= 0 and (W - F + 2 * p) % S == 0]
        tiling_s = [s for s in range(1, span + 1) if span % s == 0]
        best_p, best_s = _nearest(tiling_p, P), _nearest(tiling_s, S)
        fixes = []
        if best_p is not None:
            fixes.append(f"padding P = {best_p} (output {(W - F + 2 * best_p) // S + 1})")
        fixes.append(f"stride S = {best_s} (output {span // best_s + 1})")
        raise ValueError(
            "conv_output_size: the hyper-parameters do not tile the input: (W - F + 2P) / S = "
            f"({W} - {F} + {2 * P}) / {S} = {span}/{S} is not an integer; use "
            + " or ".join(fixes)
            + ", or change W or F."
        )
    return span // S + 1


# --------------------------------------------------------------------------------------------
# layer_table
# --------------------------------------------------------------------------------------------

COLUMNS = [
    "layer",
    "type",
    "output_shape",
    "activations",
    "activation_bytes",
    "params",
    "trainable_params",
]

# numpy has no bfloat16; everything else Keras uses numpy knows.
_ODD_DTYPE_BYTES = {"bfloat16": 2}


def _dtype_bytes(dtype):
    name = str(dtype)
    if name in _ODD_DTYPE_BYTES:
        return _ODD_DTYPE_BYTES[name]
    return np.dtype(name).itemsize


def _model_inputs(model):
    try:
        return list(keras.tree.flatten(model.inputs))
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"layer_table: model {model.name!r} has no defined inputs, so its layers have no "
            "output shapes. Build it with a fixed input: start a Sequential model with "
            "keras.Input(shape=...), or use the functional API (keras.Model(inputs, outputs))."
        ) from error


def _outputs_of(layer):
    try:
        return list(keras.tree.flatten(layer.output))
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"layer_table: layer {layer.name!r} ({type(layer).__name__}) has no symbolic "
            "output. layer_table reads Functional and Sequential models; a subclassed model "
            "only runs its layers eagerly. Wrap it: keras.Model(inputs, subclassed(inputs))."
        ) from error


def _row(name, type_name, tensors, params, trainable, bytes_per_value, owner):
    shapes, activations, nbytes = [], 0, 0
    for tensor in tensors:
        shape = tuple(tensor.shape[1:])
        if any(d is None for d in shape):
            raise ValueError(
                f"layer_table: layer {name!r} has output shape {shape} with an unknown size "
                f"(None), so its activations cannot be counted. Build {owner!r} with a fixed "
                "input shape, e.g. keras.Input(shape=(224, 224, 3))."
            )
        count = math.prod(shape)
        per_value = bytes_per_value if bytes_per_value is not None else _dtype_bytes(tensor.dtype)
        shapes.append(shape)
        activations += count
        nbytes += count * per_value
    return {
        "layer": name,
        "type": type_name,
        "output_shape": shapes[0] if len(shapes) == 1 else tuple(shapes),
        "activations": int(activations),
        "activation_bytes": int(nbytes) if float(nbytes).is_integer() else float(nbytes),
        "params": int(params),
        "trainable_params": int(trainable),
    }


def _rows(model, bytes_per_value, expand_nested, prefix, include_inputs):
    rows = []
    layers = list(model.layers)
    has_input_layer = any(isinstance(layer, keras.layers.InputLayer) for layer in layers)
    inputs = _model_inputs(model)
    if include_inputs and not has_input_layer:
        # Sequential.layers hides its InputLayer; its input tensor still has a name.
        for tensor in inputs:
            rows.append(
                _row(
                    prefix + tensor.name, "InputLayer", [tensor], 0, 0, bytes_per_value, model.name
                )
            )
    for layer in layers:
        if isinstance(layer, keras.layers.InputLayer) and not include_inputs:
            continue
        if expand_nested and isinstance(layer, keras.Model):
            # The nested model's input is the previous row's output: skip it, not count it twice.
            rows.extend(
                _rows(layer, bytes_per_value, True, f"{prefix}{layer.name}/", include_inputs=False)
            )
            continue
        trainable = sum(math.prod(w.shape) for w in layer.trainable_weights)
        rows.append(
            _row(
                prefix + layer.name,
                type(layer).__name__,
                _outputs_of(layer),
                layer.count_params(),
                trainable,
                bytes_per_value,
                model.name,
            )
        )
    return rows


def layer_table(model, bytes_per_value=None, expand_nested=False):
    """One row per layer of a built Keras model: output shape, activations and parameters.

    Rows come in the order of ``model.layers``, starting with the input(s) (a Sequential
    model's hidden ``InputLayer`` is listed under its input tensor's name). A final ``total``
    row sums ``activations``, ``activation_bytes``, ``params`` and ``trainable_params``; its
    ``type`` is ``""`` and its ``output_shape`` is ``None``.

    Columns:
        layer: the layer's name (``outer/inner`` for layers of an expanded nested model).
        type: the layer's class name.
        output_shape: the output shape without the batch axis, e.g. ``(224, 224, 64)``.
            A layer with several outputs gets a tuple of shapes.
        activations: values the layer outputs per example (summed over all its outputs).
        activation_bytes: ``activations`` times the bytes per value: ``bytes_per_value`` when
            given, else the size of the output's dtype (float32 -> 4, float16/bfloat16 -> 2).
        params: ``layer.count_params()``, trainable and not (e.g. BatchNorm moving statistics).
        trainable_params: the trainable part of ``params``.

    Special cases:
        * A nested model (a ``keras.Model`` used as a layer) is one row with its output and all
          its parameters; with ``expand_nested=True`` it is replaced by the rows of its own
          layers, named ``outer/inner``, without its input layer (the input is the previous
          layer's output, already counted). Activations *inside* a nested model count only
          when it is expanded.
        * A layer called several times (shared weights) is one row: its parameters count once
          and its output is the one from its first call.

    Args:
        model: a built Functional or Sequential ``keras.Model`` with fixed (non-None) shapes.
        bytes_per_value: number or None. Bytes per activation value, overriding the dtype
            (e.g. ``2`` to estimate half-precision memory). Default None.
        expand_nested: bool. List the layers of nested models instead of one row each.

    Returns:
        pandas.DataFrame with the columns above and ``len(rows) + 1`` rows (the ``total`` last).

    Raises:
        ValueError: if the model has no defined inputs, a layer has no symbolic output
            (subclassed models), an output shape has unknown (None) sizes, or
            ``bytes_per_value`` is not a positive number.

    Example:
        >>> model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3)])
        >>> table = layer_table(model)
        >>> print(table.shape, table["params"].iloc[-1])
        (3, 7) 80
    """
    if bytes_per_value is not None and (
        isinstance(bytes_per_value, bool)
        or not isinstance(bytes_per_value, numbers.Real)
        or bytes_per_value <= 0
    ):
        raise ValueError(
            f"layer_table: bytes_per_value must be a positive number (e.g. 4 for float32, "
            f"2 for float16) or None to use each output's dtype; got {bytes_per_value!r}."
        )
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"layer_table: expected a keras.Model, got {type(model).__name__}. Wrap a single "
            "layer in a model: keras.Sequential([keras.Input(shape), layer])."
        )
    rows = _rows(model, bytes_per_value, expand_nested, prefix="", include_inputs=True)
    table = pd.DataFrame(rows, columns=COLUMNS)
    total = {
        "layer": "total",
        "type": "",
        "output_shape": None,
        **{c: table[c].sum() for c in COLUMNS[3:]},
    }
    table = pd.concat([table, pd.DataFrame([total], columns=COLUMNS)], ignore_index=True)
    return table


def did_you_mean(value, valid):
    """The hint for an unknown name: ``" Did you mean 'x'?"`` for the closest valid one, or "".

    Every "unknown name" error in biocnn ends its first sentence with this hint.

    Example:
        >>> did_you_mean("rleu", ["relu", "tanh"])
        " Did you mean 'relu'?"
    """
    close = difflib.get_close_matches(str(value), [str(v) for v in valid], n=1)
    return f" Did you mean '{close[0]}'?" if close else ""
