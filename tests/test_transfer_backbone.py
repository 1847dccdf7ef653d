"""biocnn.transfer.backbone: preprocessing, channel adaptation, weights files, errors."""

import urllib.error
import urllib.request

import keras
import numpy as np
import pytest

from biocnn import transfer

MNV2 = {"alpha": 0.35}


@pytest.fixture(scope="module", autouse=True)
def float64():
    # The adaptation is exact in exact arithmetic: checked in float64, so that float32 round-off
    # (amplified by deep random networks) cannot hide a real difference.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_dtype_policy(previous)


@pytest.fixture(scope="module")
def mobilenet_rgb():
    return transfer.backbone("MobileNetV2", weights=None, input_shape=(28, 28, 3), **MNV2)


@pytest.fixture(scope="module")
def vgg_rgb():
    return transfer.backbone("vgg16", weights=None, input_shape=(32, 32, 3))


@pytest.mark.parametrize("mode, reference", [
    ("caffe", keras.applications.vgg16.preprocess_input),
    ("torch", keras.applications.densenet.preprocess_input),
    ("tf", keras.applications.mobilenet_v2.preprocess_input),
])
def test_preprocessing_matches_keras_applications(mode, reference):
    x = np.random.default_rng(0).uniform(0, 1, (2, 4, 4, 3)).astype("float32")
    ours = transfer.ImageNetPreprocessing(mode, input_scale=255.0, dtype="float32")(x)
    np.testing.assert_allclose(np.asarray(ours), reference(x * 255.0), rtol=1e-5, atol=1e-4)


def test_grey_adaptation_equals_rgb_network_on_replicated_image(mobilenet_rgb):
    grey = transfer.adapt_input_channels(mobilenet_rgb, 1)
    g = np.random.default_rng(1).uniform(0, 255, (2, 28, 28, 1))
    np.testing.assert_allclose(grey(g), mobilenet_rgb(np.repeat(g, 3, axis=-1)), rtol=1e-7, atol=1e-9)
    # the first convolution's kernel on the grey channel is the sum of its (scaled) RGB kernels
    conv, _ = transfer.first_conv(mobilenet_rgb)
    np.testing.assert_allclose(grey.get_layer(conv.name).kernel[..., 0, :],
                               np.asarray(conv.kernel).sum(axis=2) / 127.5, rtol=1e-6)


def test_caffe_mode_adaptation_exact_including_borders(vgg_rgb):
    # BGR flip and per-channel means: the offsets ride on the ones channel, so borders match too.
    g = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 1)).astype("float32")
    grey = transfer.adapt_input_channels(vgg_rgb, 1)
    np.testing.assert_allclose(grey(g), vgg_rgb(np.repeat(g, 3, -1)), rtol=1e-4, atol=1e-5)
    six = transfer.adapt_input_channels(vgg_rgb, 6)
    rgb = np.random.default_rng(3).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(six(np.concatenate([rgb, rgb], -1)), vgg_rgb(rgb), rtol=1e-4, atol=1e-5)
    assert six.get_layer("block1_conv1").kernel.shape[2] == 7  # 6 channels + the ones channel


def test_small_input_is_resized_inside_and_round_trips(tmp_path):
    model = transfer.backbone("MobileNetV2", weights=None, input_shape=(28, 28, 2), **MNV2)
    assert model.get_layer("mobilenetv2_resize").output.shape[1:3] == (32, 32)
    path = tmp_path / "m.keras"
    model.save(path)
    x = np.random.default_rng(4).uniform(0, 255, (2, 28, 28, 2))
    # a direct call is inference: no batch statistics (keras.layers.Resizing would make it training)
    moving = [np.array(w.numpy()) for w in model.weights if "moving" in w.path]
    model(x)
    for before, w in zip(moving, [w for w in model.weights if "moving" in w.path]):
        np.testing.assert_array_equal(w.numpy(), before, err_msg=w.path)
    np.testing.assert_allclose(keras.models.load_model(path)(x), model(x), rtol=1e-7)


def test_weights_file_round_trip(tmp_path, mobilenet_rgb):
    # a keras.applications-format file (3 channels) loads into backbones of any channels
    path = str(tmp_path / "mnv2.weights.h5")
    transfer.save_application_weights(mobilenet_rgb, path, **MNV2)
    loaded = transfer.backbone("MobileNetV2", weights=path, input_shape=(28, 28, 3), **MNV2)
    x = np.random.default_rng(5).uniform(0, 255, (2, 28, 28, 3))
    np.testing.assert_array_equal(loaded(x), mobilenet_rgb(x))
    grey = transfer.backbone("MobileNetV2", weights=path, input_shape=(28, 28, 1), **MNV2)
    np.testing.assert_allclose(grey(x[..., :1]), mobilenet_rgb(np.repeat(x[..., :1], 3, -1)), rtol=1e-7, atol=1e-9)
    tiled = transfer.backbone("MobileNetV2", weights=path, input_shape=(28, 28, 1), channel_mode="tile", **MNV2)
    np.testing.assert_allclose(tiled(x[..., :1]), grey(x[..., :1]), rtol=1e-7, atol=1e-9)
    # a whole adapted backbone saved with save_weights loads into one built alike
    whole = str(tmp_path / "grey.weights.h5")
    grey.save_weights(whole)
    again = transfer.backbone("MobileNetV2", weights=whole, input_shape=(28, 28, 1), **MNV2)
    np.testing.assert_array_equal(again(x[..., :1]), grey(x[..., :1]))


def test_keras2_style_h5_file_loads(tmp_path):
    app = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3), alpha=0.35,
                                         pooling="avg")
    path = str(tmp_path / "legacy.h5")
    app.save(path)  # the legacy HDF5 layout of the files keras.applications distributes
    model = transfer.backbone("MobileNetV2", weights=path, input_shape=(32, 32, 3), preprocessing=False, alpha=0.35)
    x = np.random.default_rng(6).uniform(-1, 1, (1, 32, 32, 3))
    np.testing.assert_allclose(model(x), app(x), rtol=1e-7)


def test_errors_name_the_problem(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="Unknown backbone 'resnet5'.*Did you mean"):
        transfer.backbone("resnet5")
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        transfer.backbone("ResNet50", weights=str(tmp_path / "missing.h5"), input_shape=(32, 32, 3))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(transfer.WeightsUnavailableError, match="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        transfer.backbone("VGG16", weights="imagenet", input_shape=(32, 32, 3))
    assert transfer.BACKBONES.count("ConvNeXtTiny") == 1 and len(transfer.BACKBONES) >= 20


def test_adaptation_refuses_what_it_cannot_fold():
    padded_first = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.ZeroPadding2D(1),
                                     keras.layers.Rescaling(2.0, offset=-1.0), keras.layers.Conv2D(2, 3)])
    with pytest.raises(NotImplementedError, match="'rescaling.*' \\(Rescaling\\) acts on zero padding"):
        transfer.adapt_input_channels(padded_first, 1)
    no_conv = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(NotImplementedError, match="'flatten.*' \\(Flatten\\) comes before the first convolution"):
        transfer.adapt_input_channels(no_conv, 1)
    with pytest.raises(ValueError, match="channels must be a positive int, got 0"):
        transfer.adapt_input_channels(padded_first, 0)
