"""biocnn.transfer.torch_weights: the torch-free .pth reader, the layouts, torch_padding."""

import os
import pickle
import zipfile

import keras
import numpy as np
import pytest

from biocnn import models, transfer
from biocnn.transfer.torch_weights import read_torch_state_dict, write_torch_state_dict

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("zip_format", [True, False])
def test_round_trip_without_torch(tmp_path, zip_format):
    arrays = {"a.weight": RNG.normal(size=(4, 3, 2, 2)).astype("float32"), "a.n": np.array(7, "int64"),
              "b": np.arange(5, dtype="float64"), "mask": np.array([True, False])}
    path = tmp_path / "w.pth"
    write_torch_state_dict(path, arrays, zip_format=zip_format)
    assert zipfile.is_zipfile(path) == zip_format
    back = read_torch_state_dict(path)
    assert list(back) == list(arrays)
    for key, value in arrays.items():
        assert back[key].dtype == value.dtype and back[key].shape == value.shape
        np.testing.assert_array_equal(back[key], value)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("zip_format", [True, False])
def test_refuses_pickled_code_and_runs_nothing(tmp_path, zip_format):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    payload = {"weight": _Evil(marker)}
    if zip_format:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", pickle.dumps(payload, protocol=2))
    else:
        with open(path, "wb") as stream:
            for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
                pickle.dump(header, stream, protocol=2)
            pickle.dump(payload, stream, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"names '(posix|os)\.system'; only tensors"):
        read_torch_state_dict(path)
    assert not marker.exists()


def test_refuses_a_tensor_outside_its_storage(tmp_path):
    path = tmp_path / "w.pth"
    write_torch_state_dict(path, {"w": np.zeros((2, 3), "float32")}, zip_format=True)
    with zipfile.ZipFile(path) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    entries["archive/data/0"] = entries["archive/data/0"][:8]  # 2 of 6 elements
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="reaches element 5 of a storage of 2 elements"):
        read_torch_state_dict(path)


def test_not_a_torch_file(tmp_path):
    path = tmp_path / "w.pth"
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="neither a zip nor a legacy torch.save file"):
        read_torch_state_dict(path)


@pytest.mark.parametrize("zip_format", [True, False])
def test_torch_written_strided_tensors(tmp_path, zip_format):
    torch = pytest.importorskip("torch")
    base = torch.arange(60, dtype=torch.float32)
    state = {"permuted": base.reshape(3, 4, 5).permute(2, 0, 1), "offset": base[7:19].reshape(3, 4),
             "strided": base[::3], "half": base[:4].half(), "long": torch.arange(3)}
    path = tmp_path / "t.pth"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    back = read_torch_state_dict(path)
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value.numpy())
    # and torch reads what biocnn writes
    write_torch_state_dict(tmp_path / "b.pth", {k: v.numpy() for k, v in state.items()}, zip_format=zip_format)
    loaded = torch.load(tmp_path / "b.pth", weights_only=True)
    assert all(torch.equal(loaded[k], v.contiguous()) for k, v in state.items())


def _torchvision_state(model):
    """A torchvision-named state dict for a biocnn ResNet, made with NumPy (PyTorch layouts)."""
    state = {}
    names = {"conv1": "conv1"}
    for layer in model.layers:
        if not layer.weights or layer.name.endswith("_logits"):
            continue
        rest = layer.name[len(model.name) + 1:]
        if rest.startswith("conv1_"):
            module = "conv1" if rest.endswith("_conv") else "bn1"
        else:
            stage, block, index, kind = rest.split("_")
            base = f"layer{int(stage[4:]) - 1}.{int(block[5:]) - 1}"
            module = f"{base}.downsample.{0 if kind == 'conv' else 1}" if index == "0" else f"{base}.{kind}{index}"
        if isinstance(layer, keras.layers.Conv2D):
            k = layer.kernel.shape
            state[f"{module}.weight"] = RNG.normal(size=(k[3], k[2], k[0], k[1])).astype("float32")
        else:
            n = layer.gamma.shape[0]
            for p in ("weight", "bias", "running_mean"):
                state[f"{module}.{p}"] = RNG.normal(size=n).astype("float32")
            state[f"{module}.running_var"] = RNG.uniform(0.5, 1.5, n).astype("float32")
            state[f"{module}.num_batches_tracked"] = np.array(3, "int64")
    del names
    fc = model.get_layer(f"{model.name}_logits").kernel.shape
    state["fc.weight"] = RNG.normal(size=(fc[1], fc[0])).astype("float32")
    state["fc.bias"] = RNG.normal(size=fc[1]).astype("float32")
    return state


@pytest.mark.parametrize("zip_format", [True, False])
def test_torchvision_layout_on_a_numpy_state_dict(tmp_path, zip_format):
    model = models.resnet18((32, 32, 3), 5, width_multiplier=0.125, stem="imagenet", head="logits")
    state = _torchvision_state(model)
    state["extra.weight"] = np.zeros(3, "float32")
    path = tmp_path / "r.pth"
    write_torch_state_dict(path, state, zip_format=zip_format)
    with pytest.warns(UserWarning, match="torch_padding"):
        report = transfer.import_torch_weights(model, path, layout="torchvision_resnet")
    assert report.unused == ("extra.weight",) and report.missing == ()
    assert len(report.loaded) == sum(1 for layer in model.layers if layer.weights)
    conv = model.get_layer("resnet18_conv3_block1_2_conv").kernel.numpy()  # (kh, kw, in, out)
    torch_conv = state["layer2.0.conv2.weight"]  # (out, in, kh, kw)
    i, j, c, o = 2, 1, 3, 5
    assert conv[i, j, c, o] == torch_conv[o, c, i, j]
    np.testing.assert_array_equal(model.get_layer("resnet18_conv4_block1_0_bn").moving_variance.numpy(),
                                  state["layer3.0.downsample.1.running_var"])
    np.testing.assert_array_equal(model.get_layer("resnet18_logits").kernel.numpy(), state["fc.weight"].T)
    with pytest.raises(ValueError, match=r"strict.*1 tensors unused: extra.weight"):
        transfer.import_torch_weights(model, path, layout="torchvision_resnet", strict=True)


def test_efficientnet_layout_on_a_numpy_state_dict():
    net = transfer.efficientnet_lite("efficientnet_lite0", (32, 32, 3), name="lite")
    dw = RNG.normal(size=(96, 1, 3, 3)).astype("float32")  # block 1 = block2a: 16 * 6 channels
    report = transfer.import_torch_weights(net, {"_blocks.1._depthwise_conv.weight": dw,
                                                 "_blocks.1._bn1.running_mean": np.arange(96, dtype="float32"),
                                                 "_blocks.99._bn1.weight": np.ones(3, "float32"),
                                                 "_fc.weight": np.ones((1000, 1280), "float32")})
    kernel = net.get_layer("lite_block2a_dwconv").kernel.numpy()  # (kh, kw, C, 1)
    assert kernel.shape == (3, 3, 96, 1) and kernel[0, 2, 7, 0] == dw[7, 0, 0, 2]
    np.testing.assert_array_equal(net.get_layer("lite_block2a_dwconv_bn").moving_mean.numpy(), np.arange(96))
    assert set(report.unused) == {"_blocks.99._bn1.weight", "_fc.weight"}  # no such block; no top
    with pytest.raises(ValueError, match=r"'_conv_stem' gives layer 'lite_stem_conv' a kernel of shape \(3, 3, 1, 32\)"):
        transfer.import_torch_weights(net, {"_conv_stem.weight": np.zeros((32, 1, 3, 3), "float32")})
    with pytest.raises(ValueError, match="unknown layout 'efficientnett'. Did you mean"):
        transfer.import_torch_weights(net, {}, layout="efficientnett")


def test_torch_padding_matches_symmetric_padding():
    x = RNG.normal(size=(1, 8, 8, 2)).astype("float32")
    model = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(3, 3, strides=2, padding="same", name="c"),
                              keras.layers.ReLU(), keras.layers.MaxPooling2D(3, 2, padding="same", name="p")])
    padded = transfer.torch_padding(model)
    kernel, bias = model.get_layer("c").get_weights()
    # by hand: pad 1 each side, valid stride-2 convolution, then pad 1 and valid 3x3/2 max pooling
    xp = np.pad(x[0], ((1, 1), (1, 1), (0, 0)))
    conv = np.stack([[np.einsum("ijc,ijco->o", xp[2 * r:2 * r + 3, 2 * s:2 * s + 3], kernel) + bias
                      for s in range(4)] for r in range(4)])
    relu = np.pad(np.maximum(conv, 0), ((1, 1), (1, 1), (0, 0)))
    pooled = np.stack([[relu[2 * r:2 * r + 3, 2 * s:2 * s + 3].max(axis=(0, 1)) for s in range(2)] for r in range(2)])
    np.testing.assert_allclose(padded(x)[0], pooled, atol=1e-5)
    assert not np.allclose(model(x)[0], pooled, atol=1e-3)  # Keras' 'same' pads differently here


def test_torchvision_resnet_matches_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    import torch_nets

    torch.manual_seed(0)
    net = torch_nets.randomise_batch_norm(torch_nets.TorchvisionResNet(18, widths=(8, 16, 32, 64), stem=8, num_classes=5))
    path = tmp_path / "resnet.pth"
    torch.save(net.state_dict(), path)
    model = models.resnet18((64, 64, 3), 5, width_multiplier=0.125, stem="imagenet", head="logits")
    with pytest.warns(UserWarning, match="torch_padding"):
        transfer.import_torch_weights(model, path, layout="torchvision_resnet", strict=True)
    model = transfer.torch_padding(model)
    x = RNG.normal(size=(2, 64, 64, 3)).astype("float32")
    with torch.no_grad():
        expected = net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-4)


@pytest.mark.parametrize("depth, zip_format", [(18, True), (50, False)])
def test_medicalnet_matches_pytorch(tmp_path, depth, zip_format):
    torch = pytest.importorskip("torch")
    import torch_nets

    torch.manual_seed(0)
    shortcut = transfer.MEDICALNET_DEPTHS[depth]
    net = torch_nets.randomise_batch_norm(torch_nets.MedicalNetResNet(depth, (8, 16, 32, 64), 8, shortcut))
    checkpoint = {"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()},
                  "epoch": 3}  # as MedicalNet saves it (DataParallel names)
    checkpoint["state_dict"]["module.conv_seg.0.weight"] = torch.zeros(2, 8, 1, 1, 1)
    path = tmp_path / "medicalnet.pth"
    torch.save(checkpoint, path, _use_new_zipfile_serialization=zip_format)
    model = transfer.medicalnet_resnet(depth, (8, 12, 12, 1), width_multiplier=0.125)
    report = transfer.import_torch_weights(model, path, layout="medicalnet")
    assert report.missing == () and report.unused == ("conv_seg.0.weight",)
    x = RNG.normal(size=(2, 8, 12, 12, 1)).astype("float32")
    with torch.no_grad():
        expected = net(torch.from_numpy(x.transpose(0, 4, 1, 2, 3))).numpy()
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-4)


def test_medicalnet_shortcut_a_has_no_weights(tmp_path):
    model = transfer.medicalnet_resnet(18, (8, 8, 8, 1), width_multiplier=0.125)
    assert not any("_0_conv" in layer.name for layer in model.layers)
    shortcut = model.get_layer("medicalnet_resnet18_conv3_block1_0_shortcut")
    x = RNG.normal(size=(1, 5, 5, 5, 3)).astype("float32")
    y = np.asarray(type(shortcut)(6, 2)(x))
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2, ::2])
    assert not y[..., 3:].any()
    path = tmp_path / "m.keras"
    model.save(path)
    v = RNG.normal(size=(1, 8, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(keras.saving.load_model(path)(v), model(v), atol=1e-6)
