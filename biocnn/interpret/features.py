"""What the layers of a CNN respond to: first-layer filters, feature maps, top-activating inputs.

Works for 1D, 2D and 3D models alike, and for a model that wraps another (the in-model
preprocessing of :func:`biocnn.data.preprocess.with_preprocessing`): a layer is found by name
in the model or in the model it wraps.

    grid = plot_filters(model, "filters.png")            # first-layer filters as an image grid
    maps = feature_maps(model, x, "lenet5_conv1_act")    # (N, *spatial, channels) activations
    index, score = top_activating(model, x_test, "lenet5_conv2_act", channel=3, k=9)
"""

import keras
import numpy as np

from biocnn.gallery import display_image
from biocnn.models import last_conv_layer_name
from biocnn.plots import plt, save_figure

__all__ = ["layer_model", "find_layer", "conv_layer_name", "first_conv_layer_name", "filter_images", "plot_filters",
           "feature_maps", "top_activating"]

_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def _wrapped(model):
    """The model that ``model`` wraps as its last layer (preprocessing in front), or None."""
    last = model.layers[-1] if model.layers else None
    return last if isinstance(last, keras.Model) and len(model.outputs) == 1 else None


def find_layer(model, name):
    """``(owner, layer)``: the layer called ``name`` in ``model`` or in the model it wraps.

    Raises:
        ValueError: no such layer; the message lists the convolution layers there are.

    Example:
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c")])
        >>> print(find_layer(m, "c")[1].name)
        c
    """
    owners = [model] + ([_wrapped(model)] if _wrapped(model) is not None else [])
    for owner in owners:
        for layer in owner.layers:
            if layer.name == name:
                return owner, layer
    convs = [layer.name for owner in owners for layer in owner.layers if isinstance(layer, _CONVS)]
    raise ValueError(f"layer {name!r} is not in model {model.name!r} (nor in a model it wraps); "
                     f"its convolution layers are: {convs}.")


def conv_layer_name(model):
    """The last convolutional feature map of ``model`` (looking inside a wrapped model).

    Example:
        >>> from biocnn import models
        >>> print(conv_layer_name(models.create("lenet5", (28, 28, 1), 2)))
        lenet5_conv2_act
    """
    inner = _wrapped(model)
    return last_conv_layer_name(inner if inner is not None else model)


def first_conv_layer_name(model):
    """The first ``Conv1D``/``Conv2D``/``Conv3D`` layer of ``model`` (or of the model it wraps).

    Raises:
        ValueError: the model has no convolution.
    """
    for owner in (model, _wrapped(model)):
        for layer in (owner.layers if owner is not None else []):
            if isinstance(layer, _CONVS):
                return layer.name
    raise ValueError(f"model {model.name!r} has no Conv1D/2D/3D layer; filters need a convolutional model.")


def layer_model(model, layer):
    """A callable ``x -> (activation of layer, model output)``, differentiable end to end.

    For a layer of a wrapped model the wrapper's preprocessing runs first, then the inner
    model, whose output is the wrapper's output (a wrapper is a chain: input, preprocessing
    layers, inner model, as :func:`biocnn.data.preprocess.with_preprocessing` builds).

    Args:
        model: a functional or sequential Keras model.
        layer: the layer's name.

    Returns:
        a function of a batch of inputs returning two tensors.

    Raises:
        ValueError: the layer is not found.

    Example:
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c"),
        ...                       keras.layers.GlobalAveragePooling2D()])
        >>> a, y = layer_model(m, "c")(np.zeros((1, 8, 8, 1), "float32"))
        >>> print(a.shape, y.shape)
        (1, 6, 6, 2) (1, 2)
    """
    owner, found = find_layer(model, layer)
    both = keras.Model(owner.inputs[0], [found.output, owner.outputs[0]])
    if owner is model:
        return both
    # The wrapper is a chain (input, preprocessing..., inner model): what feeds the inner model
    # is the output of the layer before it.
    before = [layer for layer in model.layers[:-1] if not isinstance(layer, keras.layers.InputLayer)]
    if not before:
        return both
    prefix = keras.Model(model.inputs[0], before[-1].output)
    return lambda x: both(prefix(x))


def as_batch(x, model):
    """``x`` as a float32 batch for ``model``, and whether it was one sample (then add the batch axis).

    Raises:
        ValueError: if ``x`` is neither one sample nor a batch of the model's input shape.
    """
    x = np.asarray(x, dtype="float32")
    rank = len(model.inputs[0].shape) - 1
    if x.ndim == rank:
        return x[None], True
    if x.ndim != rank + 1:
        raise ValueError(f"x has shape {x.shape}; model {model.name!r} takes {tuple(model.inputs[0].shape[1:])} "
                         f"per sample: pass one sample or a batch (N, ...).")
    return x, False


def feature_maps(model, x, layer, batch_size=64):
    """The activation of ``layer`` for inputs ``x``.

    Args:
        model: a Keras model.
        x: one input (without batch axis) or a batch ``(N, *spatial, C)``.
        layer: the layer's name.
        batch_size: inputs per forward pass.

    Returns:
        np.ndarray: the layer's output, ``(N, *spatial', channels)`` (no batch axis for one input).

    Raises:
        ValueError: unknown layer, or ``x`` of the wrong rank.

    Example:
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c")])
        >>> print(feature_maps(m, np.zeros((8, 8, 1)), "c").shape)
        (6, 6, 2)
    """
    xb, single = as_batch(x, model)
    fn = layer_model(model, layer)
    out = np.concatenate([keras.ops.convert_to_numpy(fn(xb[i:i + batch_size])[0])
                          for i in range(0, len(xb), batch_size)])
    return out[0] if single else out


def top_activating(model, x, layer, channel, k=9, batch_size=64):
    """The inputs of ``x`` that most activate ``channel`` of ``layer`` (its spatial maximum).

    Args:
        model: a Keras model.
        x: a dataset ``(N, *spatial, C)``.
        layer: the layer's name.
        channel: the channel (filter) index in the layer's last axis.
        k: how many inputs to return.

    Returns:
        (indices, scores): ``k`` indices into ``x``, strongest first, and their activations.

    Raises:
        ValueError: ``channel`` out of range.

    Example:
        >>> m = keras.Sequential([keras.Input((4, 1)), keras.layers.Conv1D(1, 1, use_bias=False, name="c")])
        >>> m.layers[0].set_weights([np.ones((1, 1, 1))])
        >>> print(top_activating(m, np.arange(12.).reshape(3, 4, 1), "c", 0, k=2)[0])
        [2 1]
    """
    maps = feature_maps(model, x, layer, batch_size)
    if not 0 <= channel < maps.shape[-1]:
        raise ValueError(f"channel={channel} is out of range: layer {layer!r} has {maps.shape[-1]} channels.")
    score = maps[..., channel].reshape(len(maps), -1).max(axis=1)
    order = np.argsort(-score, kind="stable")[:k]
    return order, score[order]


def filter_images(model, layer=None):
    """The filters of a convolution as 2D pictures, one per output channel.

    A 2D filter ``(kh, kw, in)`` is shown as colour when it has 3 input channels, else as the
    mean over input channels; a 3D filter by its middle depth slice; a 1D filter as an
    ``(in, width)`` picture (letters x positions for one-hot sequences).

    Args:
        model: a Keras model.
        layer: a convolution's name (default: the first convolution).

    Returns:
        np.ndarray ``(filters, h, w)`` or ``(filters, h, w, 3)``.

    Example:
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3)])
        >>> print(filter_images(m).shape)
        (4, 3, 3)
    """
    _, conv = find_layer(model, layer or first_conv_layer_name(model))
    if not isinstance(conv, _CONVS):
        raise ValueError(f"layer {conv.name!r} is a {type(conv).__name__}, not a convolution.")
    kernel = keras.ops.convert_to_numpy(conv.kernel)  # (*window, in, out)
    kernel = np.moveaxis(kernel, -1, 0)  # (out, *window, in)
    rank = kernel.ndim - 2
    if rank == 1:
        return np.swapaxes(kernel, 1, 2)
    if rank == 3:
        kernel = kernel[:, kernel.shape[1] // 2]
    return kernel if kernel.shape[-1] == 3 else kernel.mean(axis=-1)


def plot_filters(model, path=None, layer=None, columns=8):
    """First-layer (or ``layer``'s) filters as an image grid, each filter stretched on its own.

    Args:
        model: a Keras model with a convolution.
        path: a PNG to write (optional).
        layer: a convolution's name (default: the first).
        columns: filters per row.

    Returns:
        matplotlib Figure (closed when written to ``path``).

    Example:
        >>> m = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(6, 5)])
        >>> print(len(plot_filters(m).axes))
        6
    """
    images = filter_images(model, layer)
    rows = -(-len(images) // columns)
    cols = min(columns, len(images))
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows + 0.4), squeeze=False)
    for ax in axes.flat[len(images):]:
        ax.remove()
    for i, (ax, image) in enumerate(zip(axes.flat, images)):
        if images.ndim == 4:  # colour filters
            shown = display_image(image)
        else:
            shown = (image - image.min()) / max(image.max() - image.min(), 1e-12)
        ax.imshow(shown, cmap="gray", interpolation="nearest", aspect="auto")
        ax.set_title(str(i), fontsize=7)
        ax.axis("off")
    fig.suptitle(f"filters of {layer or first_conv_layer_name(model)}", fontsize=9)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig
