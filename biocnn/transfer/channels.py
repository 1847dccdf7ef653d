"""Any number of input channels for a network built and pretrained on RGB.

:func:`adapt_input_channels` rebuilds a functional model for ``C`` input channels and adapts
its first convolution so that the pretrained features are kept:

* ``C = 1``: the kernels are summed over the RGB input axis, so a grey image ``g`` gives
  exactly what the RGB network gives on ``[g, g, g]``;
* ``C != 1``: the RGB kernels are repeated cyclically over the ``C`` channels and scaled by
  ``3 / C`` (timm's ``adapt_input_conv``), so an image whose channels repeat an RGB image
  cyclically (``C`` a multiple of 3) gives exactly what the RGB network gives on that image.

The preprocessing between the input and the first convolution (rescaling, per-channel mean
subtraction and division, the BGR flip of caffe mode) must be a per-pixel affine map
``L x + b`` of the RGB input; it is measured by feeding constant images through it and then
folded into the convolution: the kernels of the raw channels become ``K L`` before the
summing or repeating, and the offsets ``b`` go to one extra input channel of ones
(:class:`~biocnn.transfer.layers.AppendOnes`, zero in the padding), so that even the borders
of a zero-padded convolution match the RGB network exactly. The adapted convolution thus has
``C + 1`` input channels and keeps the original layer's name.
"""

import keras
import numpy as np

from biocnn.data.preprocess import SpatialResize
from biocnn.transfer.layers import AppendOnes, ImageNetPreprocessing

__all__ = ["adapt_input_channels", "first_conv", "channel_matrix", "clone_with_weights", "layers_by_name", "as_functional"]

#: Layers allowed between the input and the first convolution: per-pixel affine maps ...
_AFFINE = (ImageNetPreprocessing, keras.layers.Rescaling, keras.layers.Normalization)
#: ... and layers that act on every channel alike.
_RESIZE = (SpatialResize, keras.layers.Resizing)
_SPATIAL = _RESIZE + (keras.layers.ZeroPadding1D, keras.layers.ZeroPadding2D,
            keras.layers.ZeroPadding3D)
_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def first_conv(model):
    """The first convolution of ``model`` and the layers before it.

    Args:
        model: a functional keras.Model (flat: no nested models before the first convolution).

    Returns:
        ``(conv, prefix)``: the first ``Conv1D/2D/3D`` layer in topological order, and the list
        of layers before it.

    Raises:
        ValueError: the model has no convolution.
        NotImplementedError: a layer before it is neither a per-pixel affine map nor a
            resizing or padding layer (the adaptation would not be exact).

    Example:
        >>> m = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Rescaling(2.0), keras.layers.Conv2D(4, 3)])
        >>> conv, prefix = first_conv(m)
        >>> print(type(conv).__name__, [type(p).__name__ for p in prefix])
        Conv2D ['Rescaling']
    """
    prefix = []
    for layer in model.layers:
        if isinstance(layer, _CONVS):
            return layer, prefix
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if not isinstance(layer, _AFFINE + _SPATIAL):
            raise NotImplementedError(
                f"adapt_input_channels: layer '{layer.name}' ({type(layer).__name__}) comes before the "
                f"first convolution of '{model.name}'; only {', '.join(c.__name__ for c in _AFFINE + _SPATIAL)} "
                "can be folded into it."
            )
        if isinstance(layer, _AFFINE) and any(isinstance(p, _SPATIAL[len(_RESIZE):]) for p in prefix):
            raise NotImplementedError(
                f"adapt_input_channels: '{layer.name}' ({type(layer).__name__}) acts on zero padding in "
                f"'{model.name}'; the offsets can be folded into the first convolution only when the "
                "padding comes after the preprocessing."
            )
        prefix.append(layer)
    raise ValueError(f"adapt_input_channels: model '{model.name}' has no Conv1D/2D/3D layer to adapt.")


def _pre_padding_tensor(conv, prefix):
    # The tensor that enters the trailing padding layers (or the convolution itself).
    tensor = conv.input
    for layer in reversed(prefix):
        if isinstance(layer, _SPATIAL) and not isinstance(layer, _RESIZE) and layer.output is tensor:
            tensor = layer.input
        else:
            break
    return tensor


def channel_matrix(model, conv, prefix):
    """The preprocessing before ``conv`` as ``(L, b)``: it maps a raw pixel ``x`` to ``L x + b``.

    Measured by feeding constant images through the layers before the convolution, and checked
    on a third constant image.

    Returns:
        ``L`` (in_channels_of_conv, model_input_channels) and ``b`` (in_channels_of_conv,), float64.

    Raises:
        NotImplementedError: the preprocessing is not affine per pixel.
    """
    tensor = _pre_padding_tensor(conv, prefix)
    probe = keras.Model(model.inputs[0], tensor)
    shape = tuple(model.inputs[0].shape[1:])
    channels = shape[-1]

    def at(value):
        image = np.broadcast_to(np.asarray(value, "float32"), (1, *shape))
        return np.asarray(probe(image), "float64")[(0, *(s // 2 for s in probe.output.shape[1:-1]))]

    unit = 100.0
    offset = at(np.zeros(channels))
    matrix = np.stack([(at(unit * np.eye(channels)[r]) - offset) / unit for r in range(channels)], axis=1)
    check = np.linspace(13.0, 211.0, channels)
    if not np.allclose(at(check), matrix @ check + offset, rtol=1e-4, atol=1e-3):
        raise NotImplementedError(
            f"adapt_input_channels: the preprocessing before '{conv.name}' is not an affine map per "
            "pixel, so the first convolution cannot absorb it."
        )
    return matrix, offset


def _adapted_kernel(kernel, matrix, offset, channels):
    """The first convolution's kernel for ``channels`` raw channels plus the ones channel."""
    raw = np.einsum("...cf,cr->...rf", kernel, matrix)  # kernels of the raw RGB channels
    if channels == 1:
        adapted = raw.sum(axis=-2, keepdims=True)
    else:
        adapted = np.stack([raw[..., j % raw.shape[-2], :] for j in range(channels)], axis=-2)
        adapted *= raw.shape[-2] / channels
    ones = np.einsum("...cf,c->...f", kernel, offset)[..., None, :]
    return np.concatenate([adapted, ones], axis=-2).astype(kernel.dtype)


def adapt_input_channels(model, channels):
    """``model`` rebuilt for ``channels`` input channels, its first convolution adapted.

    See the module docstring for the rule. All layers but the first convolution are shared
    with ``model`` (same weights); the layers before the convolution that are affine per pixel
    are dropped (folded into it), resizing and padding layers are kept.

    Args:
        model: a flat functional keras.Model taking RGB (3-channel) inputs, e.g. a
            :func:`biocnn.transfer.backbone` with ``input_shape=(H, W, 3)``.
        channels: positive int, the number of input channels of the result.

    Returns:
        keras.Model with input ``(*spatial, channels)`` and ``model``'s outputs.

    Raises:
        ValueError: ``channels`` is not a positive int, or the model has no convolution.
        NotImplementedError: other layers before the first convolution (see :func:`first_conv`).

    Example:
        >>> rgb = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(4, 3, padding="same")])
        >>> grey = adapt_input_channels(rgb, 1)
        >>> g = np.random.rand(1, 8, 8, 1).astype("float32") * 255
        >>> print(grey.input_shape, np.allclose(grey(g), rgb(np.repeat(g, 3, -1)), atol=1e-5))
        (None, 8, 8, 1) True
    """
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise ValueError(f"adapt_input_channels: channels must be a positive int, got {channels!r}.")
    model = as_functional(model)
    conv, prefix = first_conv(model)
    matrix, offset = channel_matrix(model, conv, prefix)
    kernel, *bias = conv.get_weights()
    inputs = keras.Input((*model.inputs[0].shape[1:-1], channels), name=model.inputs[0].name)
    ones = AppendOnes(name=f"{model.name}_ones")
    appended = []

    def call(layer, *args, **kwargs):
        if layer.name in skipped:
            return args[0]
        if not appended and not isinstance(layer, _RESIZE):
            appended.append(True)  # the first layer after the affine preprocessing gets the ones
            args = (ones(args[0]),) + args[1:]
        return layer(*args, **kwargs)

    skipped = {layer.name for layer in prefix if isinstance(layer, _AFFINE)}
    adapted = clone_with_weights(model, inputs, call)
    adapted.get_layer(conv.name).set_weights([_adapted_kernel(kernel, matrix, offset, channels), *bias])
    return adapted


def as_functional(model):
    """A Sequential model as a functional one with copies of its layers (its weights); others unchanged.

    ``keras.models.clone_model`` rebuilds only functional models on new inputs.

    Example:
        >>> seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> print(type(as_functional(seq)).__name__ != "Sequential")
        True
    """
    if not isinstance(model, keras.Sequential):
        return model
    inputs = keras.Input(batch_shape=model.inputs[0].shape, name=f"{model.name}_input")
    x = inputs
    copies = []
    for layer in model.layers:
        copy = type(layer).from_config(layer.get_config())
        x = copy(x)
        copies.append((copy, layer))
    for copy, layer in copies:
        copy.set_weights(layer.get_weights())
    return keras.Model(inputs, x, name=model.name)


def clone_with_weights(model, inputs, call_function=None, clone_function=None):
    """``model`` rebuilt on ``inputs`` with new layers that get ``model``'s weights (by name).

    Args:
        model: a functional keras.Model.
        inputs: the new ``keras.Input``.
        call_function: ``(layer, *args, **kwargs) -> outputs``, as for
            ``keras.models.clone_model`` (default: call the layer).
        clone_function: ``layer -> new layer`` (default: the layer's class from its config).

    Returns:
        keras.Model; every new layer whose name and weight shapes match one of ``model``'s holds
        its weights (the others keep their initial ones).
    """
    clone = keras.models.clone_model(
        model, input_tensors=inputs, call_function=call_function or (lambda layer, *a, **k: layer(*a, **k)),
        clone_function=clone_function or (lambda layer: type(layer).from_config(layer.get_config())),
    )
    originals = layers_by_name(model)
    for name, layer in layers_by_name(clone).items():
        if layer.weights and name in originals:
            old = originals[name].get_weights()
            if [w.shape for w in old] == [tuple(w.shape) for w in layer.weights]:
                layer.set_weights(old)
    return clone


def layers_by_name(model):
    """name -> layer for every layer of ``model``, nested models' layers included (first wins)."""
    found = {}
    for layer in model.layers:
        found.setdefault(layer.name, layer)
        if isinstance(layer, keras.Model):
            for name, inner in layers_by_name(layer).items():
                found.setdefault(name, inner)
    return found
