"""Neural style transfer (Gatys, Ecker and Bethge, 2015) with a VGG-19 backbone.

The picture is optimised pixel by pixel so that its VGG features on one layer match those of
the content image and the Gram matrices of its features on several layers match the style
image's:

* content loss ``L_c = 1/2 sum (F - P)^2`` (``F``, ``P``: the generated and content features);
* style loss per layer ``E_l = 1/(4 N_l^2 M_l^2) sum (G - A)^2`` with ``G = F^T F`` the Gram
  matrix of ``N_l`` channels over ``M_l`` positions, averaged over layers (``w_l = 1/L``, as Gatys et al.);
* total ``alpha * L_c + beta * L_s``.

The backbone is ``keras.applications.VGG19(include_top=False)`` with ``weights`` as given:
``"imagenet"`` (needs a download) or a local ``.h5`` weights file gives the real thing; with
``weights=None`` the network is random and the code path is exercised only - the picture is
not a meaningful stylisation.

    image = style_transfer(content, style, weights="vgg19_notop.h5", steps=300)
"""

import keras
import numpy as np

from biocnn.interpret.attribution import tensorflow_module, resize_linear

__all__ = ["gram_matrix", "style_loss", "content_loss", "vgg19_features", "style_transfer",
           "CONTENT_LAYER", "STYLE_LAYERS"]

CONTENT_LAYER = "block4_conv2"
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")


def gram_matrix(features):
    """Gram matrices ``G_ij = sum_k F_ki F_kj`` of feature maps, over every spatial position.

    Args:
        features: ``(N, *spatial, C)`` feature maps (any number of spatial axes).

    Returns:
        ``(N, C, C)`` tensor.

    Example:
        >>> print(gram_matrix(np.ones((1, 4, 4, 3), "float32")).shape)
        (1, 3, 3)
    """
    features = keras.ops.convert_to_tensor(features)
    flat = keras.ops.reshape(features, (keras.ops.shape(features)[0], -1, features.shape[-1]))
    return keras.ops.einsum("nki,nkj->nij", flat, flat)


def style_loss(generated, style):
    """One layer's style loss ``E_l = 1/(4 N^2 M^2) sum (G - A)^2``, per sample.

    Args:
        generated: ``(N, *spatial, C)`` features of the generated image.
        style: features of the style image, the same number of channels (``(1, ...)`` broadcasts).

    Returns:
        ``(N,)`` tensor; ``N_l = C`` channels, ``M_l`` = the number of positions of ``generated``.

    Raises:
        ValueError: the channel counts differ.

    Example:
        >>> print(style_loss(np.ones((2, 4, 4, 3), "float32"), np.zeros((1, 4, 4, 3), "float32")).shape)
        (2,)
    """
    if generated.shape[-1] != style.shape[-1]:
        raise ValueError(f"style_loss: generated features have {generated.shape[-1]} channels, style features "
                         f"{style.shape[-1]}; take both from the same layer.")
    channels = generated.shape[-1]
    positions = int(np.prod(generated.shape[1:-1]))
    difference = gram_matrix(generated) - gram_matrix(style)
    return keras.ops.sum(difference ** 2, axis=(1, 2)) / (4.0 * channels ** 2 * positions ** 2)


def content_loss(generated, content):
    """``1/2 sum (F - P)^2`` per sample.

    Example:
        >>> print(content_loss(np.ones((1, 2, 2, 1), "float32"), np.zeros((1, 2, 2, 1), "float32")))
        tf.Tensor([2.], shape=(1,), dtype=float32)
    """
    generated = keras.ops.convert_to_tensor(generated)
    difference = keras.ops.reshape(generated - content, (keras.ops.shape(generated)[0], -1))
    return 0.5 * keras.ops.sum(difference ** 2, axis=1)


def vgg19_features(shape, weights=None, layers=(CONTENT_LAYER,) + STYLE_LAYERS):
    """A VGG-19 (no top) returning the outputs of ``layers``, taking RGB images in [0, 1].

    Args:
        shape: ``(H, W)`` of the images (at least 32 x 32).
        weights: ``"imagenet"``, a local weights file, or None (random: code path only).
        layers: VGG-19 layer names.

    Returns:
        keras.Model ``(N, H, W, 3) -> [features per layer]``.

    Raises:
        ValueError: an unknown layer name (the valid ones are listed).

    Example:
        >>> print(len(vgg19_features((32, 32)).outputs))
        6
    """
    vgg = keras.applications.VGG19(include_top=False, weights=weights, input_shape=tuple(shape) + (3,))
    vgg.trainable = False
    names = [layer.name for layer in vgg.layers]
    unknown = [name for name in layers if name not in names]
    if unknown:
        raise ValueError(f"unknown VGG-19 layers {unknown}; valid: {names[1:]}.")
    inputs = keras.Input(tuple(shape) + (3,))
    # VGG-19 expects caffe preprocessing: 0-255 BGR minus the ImageNet channel means.
    features = keras.Model(vgg.input, [vgg.get_layer(name).output for name in layers])
    outputs = features(keras.applications.vgg19.preprocess_input(inputs * 255.0))
    return keras.Model(inputs, outputs, name="vgg19_features")


def _rgb(image, shape, name):
    image = np.asarray(image, "float32")
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"style_transfer: {name} must be an (H, W, 1) or (H, W, 3) image in [0, 1], "
                         f"got shape {image.shape}.")
    image = resize_linear(image, shape) if image.shape[:2] != tuple(shape) else image
    return np.repeat(image, 3, axis=-1)[None] if image.shape[-1] == 1 else image[None]


def style_transfer(content, style, weights=None, content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS,
                   alpha=1.0, beta=1e3, steps=200, learning_rate=0.02, init="content", seed=0, history=None):
    """Paint ``content`` in the style of ``style`` (Gatys et al., 2015), optimising the pixels.

    Args:
        content: ``(H, W, 1|3)`` image in [0, 1]; grey images are repeated to RGB.
        style: an image in [0, 1], resized to the content's size.
        weights: VGG-19 weights: ``"imagenet"``, a local file, or None (random network: the
            code runs but the result means nothing).
        content_layer, style_layers: VGG-19 layer names.
        alpha, beta: weights of the content and style losses.
        steps: Adam steps on the pixels (Gatys et al. used L-BFGS).
        learning_rate: Adam's step, in [0, 1] intensity units.
        init: start from ``"content"`` or ``"noise"``.
        seed: for ``init="noise"``.
        history: a list to which ``(total, content, style)`` losses are appended, per step.

    Returns:
        np.ndarray ``(H, W, 3)`` in [0, 1].

    Raises:
        ValueError: images of the wrong shape, content smaller than 32 x 32, unknown layers
            or ``init``.

    Example:
        >>> out = style_transfer(np.random.rand(32, 32, 1), np.random.rand(32, 32, 3), steps=1)
        >>> print(out.shape)
        (32, 32, 3)
    """
    tf = tensorflow_module()
    shape = np.asarray(content).shape[:2]
    if min(shape) < 32:
        raise ValueError(f"style_transfer: content is {shape[0]} x {shape[1]}; VGG-19 needs at least 32 x 32 "
                         "(resize it first).")
    if init not in ("content", "noise"):
        raise ValueError(f"init must be 'content' or 'noise', got {init!r}.")
    content, style = _rgb(content, shape, "content"), _rgb(style, shape, "style")
    features = vgg19_features(shape, weights, (content_layer,) + tuple(style_layers))
    target_content = features(content)[0]
    target_style = features(style)[1:]
    start = content if init == "content" else np.random.default_rng(seed).uniform(0, 1, content.shape)
    pixels = tf.Variable(start.astype("float32"))
    optimizer = keras.optimizers.Adam(learning_rate)
    for _ in range(int(steps)):
        with tf.GradientTape() as tape:
            outputs = features(pixels)
            c = content_loss(outputs[0], target_content)[0]
            s = sum(style_loss(g, a)[0] for g, a in zip(outputs[1:], target_style)) / len(style_layers)
            total = alpha * c + beta * s
        optimizer.apply_gradients([(tape.gradient(total, pixels), pixels)])
        pixels.assign(tf.clip_by_value(pixels, 0.0, 1.0))
        if history is not None:
            history.append((float(total), float(c), float(s)))
    return pixels.numpy()[0]
