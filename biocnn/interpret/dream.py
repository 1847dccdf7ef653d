"""Activation maximisation and Deep Dream: change the input so that a layer fires harder.

Gradient ascent on the input (Erhan et al., 2009; Mordvintsev et al., "Inceptionism", 2015)
on the mean activation of a layer, or of one of its channels. As in Inceptionism, each step
shifts the input by a random jitter (and shifts back after), normalises the gradient by its
mean absolute value, and the input is worked on from coarse to fine scales (octaves). Zoo
models take a fixed input size, so the input keeps the model's size and an octave restricts
the step to its resolution: the gradient is linearly resized down to the octave's shape and
back up (coarse octaves paint large structures, the last one fine detail). Works on 1D, 2D and
3D models.

    dreamed = deep_dream(model, x_test[0], layer="lenet5_conv2_act", channel=3)
"""

import keras
import numpy as np

from biocnn.interpret.attribution import tensorflow_module, resize_linear
from biocnn.interpret.features import as_batch, layer_model

__all__ = ["layer_objective", "dream_step", "deep_dream", "plot_dreams"]


def layer_objective(model, x, layer, channel=None):
    """The mean activation of ``layer`` (or of its ``channel``) for each input, ``(N,)``.

    Example:
        >>> m = keras.Sequential([keras.Input((4, 1)), keras.layers.Conv1D(1, 1, use_bias=False, name="c")])
        >>> m.layers[0].set_weights([np.full((1, 1, 1), 2.0)])
        >>> print(layer_objective(m, np.ones((1, 4, 1)), "c"))
        [2.]
    """
    activation = layer_model(model, layer)(np.asarray(x, "float32"))[0]
    return keras.ops.convert_to_numpy(_objective(activation, channel))


def _objective(activation, channel):
    if channel is not None:
        if not 0 <= channel < activation.shape[-1]:
            raise ValueError(f"channel={channel} is out of range: the layer has {activation.shape[-1]} channels.")
        activation = activation[..., channel]
    return keras.ops.mean(keras.ops.reshape(activation, (keras.ops.shape(activation)[0], -1)), axis=1)


def dream_step(model, x, layer, channel=None, step_size=0.01, jitter=0, octave_shape=None, rng=None, fn=None):
    """One gradient-ascent step on a batch of inputs.

    Args:
        model: a Keras model.
        x: a batch ``(N, *spatial, C)``.
        layer: the layer whose (mean) activation is raised.
        channel: one channel of it (default: all).
        step_size: the step, in units of the input per unit of normalised gradient.
        jitter: the largest random shift, in samples, along each spatial axis.
        octave_shape: restrict the step to this spatial resolution (default: full).
        rng: a ``numpy.random.Generator`` for the jitter.
        fn: ``layer_model(model, layer)``, to reuse between steps.

    Returns:
        (new x, the objective per input before the step, on the jittered input).

    Example:
        >>> m = keras.Sequential([keras.Input((6, 1)), keras.layers.Conv1D(2, 3, name="c")])
        >>> x, before = dream_step(m, np.zeros((1, 6, 1)), "c")
        >>> print(x.shape, before.shape)
        (1, 6, 1) (1,)
    """
    tf = tensorflow_module()
    fn = fn or layer_model(model, layer)
    x = np.asarray(x, "float32")
    axes = tuple(range(1, x.ndim - 1))
    shift = (rng or np.random.default_rng()).integers(-jitter, jitter + 1, len(axes)) if jitter else np.zeros(len(axes), int)
    rolled = tf.convert_to_tensor(np.roll(x, shift, axis=axes))
    with tf.GradientTape() as tape:
        tape.watch(rolled)
        objective = _objective(fn(rolled)[0], channel)
        total = keras.ops.sum(objective)
    grads = np.roll(tape.gradient(total, rolled).numpy(), -shift, axis=axes)
    if octave_shape is not None:
        spatial = x.shape[1:-1]
        grads = np.stack([resize_linear(resize_linear(g, octave_shape), spatial) for g in grads]).astype("float32")
    scale = np.abs(grads).reshape(len(x), -1).mean(axis=1).reshape((-1,) + (1,) * (x.ndim - 1))
    return x + step_size * grads / np.maximum(scale, 1e-8), objective.numpy()


def deep_dream(model, x=None, layer=None, channel=None, steps=20, step_size=0.01, octaves=3, octave_scale=1.4,
               jitter=1, clip=None, seed=0):
    """Deep Dream (from an input) or activation maximisation (from noise), multi-scale.

    Args:
        model: a Keras model ``(N, *spatial, C) -> ...``.
        x: the starting input (one, or a batch); default noise 0.5 +- 0.1 (std).
        layer: the layer to excite (required).
        channel: one of its channels (default: all, as Deep Dream does).
        steps: ascent steps per octave.
        step_size: see :func:`dream_step`.
        octaves: scales, coarse to fine, each ``octave_scale`` times finer than the last;
            the last is the full resolution.
        octave_scale: the ratio between successive octaves (> 1).
        jitter: the largest random shift per step, in samples.
        clip: ``(low, high)`` range to keep the input in (e.g. ``(0, 1)``), or None.
        seed: for the starting noise and the jitter.

    Returns:
        np.ndarray shaped like ``x`` (like one input when ``x`` is None).

    Raises:
        ValueError: no layer, ``octaves < 1`` or ``octave_scale <= 1``.

    Example:
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c")])
        >>> print(deep_dream(m, layer="c", steps=2, octaves=2).shape)
        (8, 8, 1)
    """
    if layer is None:
        raise ValueError("deep_dream needs layer=: the name of the layer to excite, e.g. 'lenet5_conv2_act'.")
    if int(octaves) < 1 or octave_scale <= 1:
        raise ValueError(f"octaves must be >= 1 and octave_scale > 1 (e.g. 3 and 1.4); got {octaves}, {octave_scale}.")
    rng = np.random.default_rng(seed)
    if x is None:
        shape = tuple(model.inputs[0].shape[1:])
        x = (0.5 + 0.1 * rng.standard_normal(shape)).astype("float32")
    xb, single = as_batch(x, model)
    spatial = np.array(xb.shape[1:-1])
    fn = layer_model(model, layer)
    for octave in range(int(octaves)):
        shape = tuple(np.maximum(1, np.round(spatial / octave_scale ** (octaves - 1 - octave))).astype(int))
        for _ in range(int(steps)):
            xb, _ = dream_step(model, xb, layer, channel, step_size, jitter,
                               None if shape == tuple(spatial) else shape, rng, fn)
            if clip is not None:
                xb = np.clip(xb, *clip)
    return xb[0] if single else xb


def plot_dreams(images, titles, path=None):
    """Inputs (1D, 2D or 3D) side by side, e.g. an input and its dream, or one per channel.

    A 2D image is shown as is, a volume by its three orthogonal mid-slices (stacked in a
    column), a sequence as letters x positions.

    Args:
        images: ``(N, *spatial, C)`` arrays.
        titles: one title per image.
        path: a PNG to write (optional).

    Returns:
        matplotlib Figure (closed when written to ``path``).

    Example:
        >>> print(len(plot_dreams(np.random.rand(3, 8, 8, 1), ["a", "b", "c"]).axes))
        3
    """
    from biocnn.gallery import display_image
    from biocnn.interpret.attribution import panels
    from biocnn.plots import plt, save_figure

    images = np.asarray(images, "float32")
    rank = images.ndim - 2
    views = len(panels(images[0], rank))
    fig, axes = plt.subplots(views, len(images), figsize=((3.5 if rank == 1 else 1.6) * len(images), 1.6 * views + 0.3),
                             squeeze=False)
    for col, (image, title) in enumerate(zip(images, titles)):
        for row, panel in enumerate(panels(image, rank)):
            axes[row, col].imshow(panel if rank == 1 else display_image(panel), cmap="gray",
                                  aspect="auto" if rank == 1 else "equal")
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
        axes[0, col].set_title(title, fontsize=7)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig
