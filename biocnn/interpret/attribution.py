"""Which parts of an input drive a prediction: gradient saliency, integrated gradients, Grad-CAM.

One implementation serves 1D sequences, 2D images and 3D volumes (channels last):

* :func:`saliency` - the gradient of the class score with respect to the input
  (Simonyan et al., 2014), its absolute value by default;
* :func:`integrated_gradients` - ``(x - x') * integral_0^1 grad f(x' + a (x - x')) da``
  (Sundararajan et al., 2017), the integral by the trapezoid rule over ``steps`` intervals,
  all points of the path in batches; the attributions sum to ``f(x) - f(x')``;
* :func:`grad_cam` - the last convolutional feature maps weighted by the spatial mean of the
  class score's gradient, rectified (Selvaraju et al., 2017), then linearly resized to the
  input's spatial shape by :func:`resize_linear`.

The class score is ``model(x)[:, class_index]`` - the probability for a softmax head, the
logit for a ``head="logits"`` model (logits are the better-behaved choice for Grad-CAM).
Gradients use TensorFlow, the backend biocnn runs on.

    sal = saliency(model, x_test[:4], class_index=1)          # like x_test[:4]
    cam = grad_cam(model, x_test[:4], class_index=1)          # like x_test[:4] without channels
"""

import keras
import numpy as np

from biocnn.data.preprocess import NUMPY_OPS, resize_axes
from biocnn.interpret.features import as_batch, conv_layer_name, layer_model

__all__ = ["saliency", "integrated_gradients", "grad_cam", "resize_linear", "plot_attributions"]


def tensorflow_module():
    """The ``tensorflow`` module, or a ValueError saying that gradients need the TensorFlow backend."""
    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"biocnn.interpret gradients need the TensorFlow backend; KERAS_BACKEND is "
                         f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow.")
    import tensorflow as tf
    return tf


def _class_indices(class_index, n, num_classes):
    index = np.broadcast_to(np.asarray(class_index, dtype="int64"), (n,))
    if index.min() < 0 or index.max() >= num_classes:
        raise ValueError(f"class_index={class_index!r} is out of range for a model with {num_classes} outputs "
                         f"(valid: 0..{num_classes - 1}).")
    return index


def _score(output, index):
    tf = tensorflow_module()
    return tf.gather(output, index, axis=1, batch_dims=1)


def _input_gradients(model, x, index, batch_size=64):
    """d model(x)[i, index[i]] / d x[i], and the scores, in batches."""
    tf = tensorflow_module()
    grads, scores = [], []
    for start in range(0, len(x), batch_size):
        xb = tf.convert_to_tensor(x[start:start + batch_size])
        with tf.GradientTape() as tape:
            tape.watch(xb)
            score = _score(model(xb, training=False), index[start:start + batch_size])
        grads.append(tape.gradient(score, xb).numpy())
        scores.append(score.numpy())
    return np.concatenate(grads), np.concatenate(scores)


def saliency(model, x, class_index, absolute=True, batch_size=64):
    """Gradient saliency: how much each input value moves the class score.

    Args:
        model: a Keras model ``(N, *spatial, C) -> (N, classes)``.
        x: one input ``(*spatial, C)`` or a batch ``(N, *spatial, C)``.
        class_index: the class explained, an int or one per input.
        absolute: return ``|gradient|`` (Simonyan et al.); False keeps the sign.
        batch_size: inputs per gradient computation.

    Returns:
        np.ndarray shaped like ``x``.

    Raises:
        ValueError: ``x`` of the wrong rank, or ``class_index`` out of range.

    Example:
        >>> m = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> print(saliency(m, np.zeros((6, 6, 1)), class_index=1).shape)
        (6, 6, 1)
    """
    xb, single = as_batch(x, model)
    index = _class_indices(class_index, len(xb), model.outputs[0].shape[-1])
    grads, _ = _input_gradients(model, xb, index, batch_size)
    grads = np.abs(grads) if absolute else grads
    return grads[0] if single else grads


def integrated_gradients(model, x, class_index, baseline=None, steps=50, batch_size=64):
    """Integrated gradients along the straight path from ``baseline`` to ``x``.

    Args:
        model: a Keras model ``(N, *spatial, C) -> (N, classes)``.
        x: one input or a batch ``(N, *spatial, C)``.
        class_index: the class explained, an int or one per input.
        baseline: the reference input, broadcastable to one input (default zeros: black image,
            empty one-hot sequence).
        steps: trapezoid intervals on the path (``steps + 1`` gradient evaluations per input).
        batch_size: path points per gradient computation.

    Returns:
        np.ndarray shaped like ``x``; per input, the sum is close to
        ``f(x) - f(baseline)`` (completeness) when ``steps`` is large enough.

    Raises:
        ValueError: ``steps < 1``, ``x`` of the wrong rank, or ``class_index`` out of range.

    Example:
        >>> m = keras.Sequential([keras.Input((5, 4)), keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> print(integrated_gradients(m, np.ones((5, 4)), 0, steps=8).shape)
        (5, 4)
    """
    if int(steps) < 1:
        raise ValueError(f"steps must be a positive integer (e.g. 50), got {steps!r}.")
    xb, single = as_batch(x, model)
    index = _class_indices(class_index, len(xb), model.outputs[0].shape[-1])
    base = np.zeros(xb.shape[1:], "float32") if baseline is None else np.asarray(baseline, "float32")
    base = np.broadcast_to(base, xb.shape[1:])
    alphas = np.linspace(0.0, 1.0, int(steps) + 1, dtype="float32").reshape((-1,) + (1,) * (xb.ndim - 1))
    weights = np.full(int(steps) + 1, 1.0 / steps, "float32")
    weights[[0, -1]] /= 2  # trapezoid rule
    result = np.empty_like(xb)
    for i, xi in enumerate(xb):
        path = base + alphas * (xi - base)
        grads, _ = _input_gradients(model, path, np.full(len(path), index[i]), batch_size)
        result[i] = (xi - base) * np.tensordot(weights, grads, axes=1)
    return result[0] if single else result


def resize_linear(array, shape):
    """Linear (bi-, tri-linear) resizing of the leading axes of ``array`` to ``shape``.

    :func:`biocnn.data.preprocess.resize_axes`, the one resize of biocnn (half-pixel centres, as
    image resizing does), in float64 on the leading axes. Trailing axes (channels) are kept.

    Args:
        array: ``(*spatial, ...)`` values.
        shape: the new spatial shape, one size per leading axis to resize.

    Returns:
        np.ndarray ``(*shape, ...)``.

    Example:
        >>> print(resize_linear(np.ones((2, 3)), (4, 6)).shape, resize_linear(np.arange(2.), (4,)))
        (4, 6) [0.   0.25 0.75 1.  ]
    """
    return resize_axes(np.asarray(array, dtype="float64"), shape, first_axis=0, xp=NUMPY_OPS)


def grad_cam(model, x, class_index, layer=None, normalize=True):
    """Grad-CAM: where in the input the last convolution saw evidence for the class.

    ``cam = relu(sum_k w_k A_k)`` with ``w_k`` the spatial mean of ``d score / d A_k``,
    resized linearly to the input's spatial shape.

    Args:
        model: a Keras model, possibly wrapping another (in-model preprocessing in front).
        x: one input or a batch ``(N, *spatial, C)``.
        class_index: the class explained, an int or one per input.
        layer: the feature map's layer name (default: the last convolutional feature map,
            by :func:`biocnn.models.last_conv_layer_name`, looking inside a wrapped model).
        normalize: divide each map by its maximum (maps of zeros stay zero).

    Returns:
        np.ndarray ``(N, *spatial)`` (``(*spatial)`` for one input), non-negative.

    Raises:
        ValueError: no convolutional layer, unknown ``layer``, or a layer without spatial axes.

    Example:
        >>> from biocnn import models
        >>> m = models.create("lenet5", (28, 28, 1), 2)
        >>> print(grad_cam(m, np.zeros((28, 28, 1)), class_index=1).shape)
        (28, 28)
    """
    tf = tensorflow_module()
    xb, single = as_batch(x, model)
    index = _class_indices(class_index, len(xb), model.outputs[0].shape[-1])
    layer = layer or conv_layer_name(model)
    fn = layer_model(model, layer)
    spatial = xb.shape[1:-1]
    cams = []
    for i in range(len(xb)):
        xi = tf.convert_to_tensor(xb[i:i + 1])
        with tf.GradientTape() as tape:
            activation, output = fn(xi)
            score = _score(output, index[i:i + 1])
        grads = tape.gradient(score, activation)
        activation = activation.numpy()[0]
        if activation.ndim != len(spatial) + 1:
            raise ValueError(f"grad_cam: layer {layer!r} outputs shape {activation.shape}; Grad-CAM needs a "
                             f"feature map with {len(spatial)} spatial axes and channels.")
        grads = np.zeros_like(activation) if grads is None else grads.numpy()[0]
        weights = grads.reshape(-1, grads.shape[-1]).mean(axis=0)
        cam = np.maximum(activation @ weights, 0.0)
        cam = resize_linear(cam, spatial)
        if normalize and cam.max() > 0:
            cam = cam / cam.max()
        cams.append(cam.astype("float32"))
    cams = np.stack(cams)
    return cams[0] if single else cams


def panels(array, rank):
    """The 2D pictures of one ``(*spatial, C)`` array: letters x positions, the image, or mid-slices."""
    if rank == 1:
        return [array.T]
    if rank == 2:
        return [array]
    from biocnn.gallery import orthogonal_slices
    return orthogonal_slices(array)


def _as_channels(heat, x):
    """A map shaped like ``x`` (one channel for 2D/3D, every letter for 1D)."""
    rank = x.ndim - 1
    heat = np.asarray(heat, "float32")
    if heat.ndim == rank:
        heat = heat[..., None]
    if rank == 1:
        return np.broadcast_to(heat, x.shape)
    return heat.max(axis=-1, keepdims=True)


def plot_attributions(x, maps, path=None, titles=None, alpha=0.5):
    """Inputs with attribution maps laid over them, one row per input, for 1D, 2D and 3D.

    A 2D image is shown as is, a 3D volume as its three orthogonal mid-slices, a 1D sequence
    as a letters x positions picture. Each map (saliency, integrated gradients: the maximum
    over channels; Grad-CAM) is stretched to [0, 1] per input and drawn over it in colour.

    Args:
        x: ``(N, *spatial, C)`` inputs.
        maps: a list of maps, each ``(N, *spatial[, C])``.
        path: a PNG to write (optional).
        titles: one title per map.
        alpha: opacity of the maps.

    Returns:
        matplotlib Figure (closed when written to ``path``).

    Example:
        >>> fig = plot_attributions(np.random.rand(2, 8, 8, 1), [np.random.rand(2, 8, 8)], titles=["cam"])
        >>> print(len(fig.axes))
        4
    """
    from biocnn.gallery import display_image
    from biocnn.plots import plt, save_figure

    x = np.asarray(x, "float32")
    rank = x.ndim - 2
    titles = titles or [f"map {i}" for i in range(len(maps))]
    views = len(panels(x[0], rank))
    columns = views * (1 + len(maps))
    wide = rank == 1
    fig, axes = plt.subplots(len(x), columns, figsize=((4.5 if wide else 1.7) * columns, 1.7 * len(x) + 0.3),
                             squeeze=False)
    for row, xi in enumerate(x):
        pictures = panels(xi, rank)
        shown = [p if rank == 1 else display_image(p) for p in pictures]
        for col, picture in enumerate(shown):
            axes[row, col].imshow(picture, cmap="gray", aspect="auto" if wide else "equal")
            axes[row, col].set_title("input" if views == 1 else f"input {('axial', 'coronal', 'sagittal')[col]}",
                                     fontsize=7)
        for k, (heat, title) in enumerate(zip(maps, titles)):
            heat = _as_channels(heat[row], xi)
            heat = (heat - heat.min()) / max(float(heat.max() - heat.min()), 1e-12)
            for v, (picture, overlay) in enumerate(zip(shown, panels(heat, rank))):
                ax = axes[row, views * (1 + k) + v]
                ax.imshow(picture, cmap="gray", aspect="auto" if wide else "equal")
                ax.imshow(overlay if rank == 1 else overlay[..., 0], cmap="jet", alpha=alpha, vmin=0, vmax=1,
                          aspect="auto" if wide else "equal")
                ax.set_title(title, fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig
