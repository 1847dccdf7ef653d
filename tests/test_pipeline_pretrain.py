"""pretrain_fashion_mnist: the saved notop file is a keras.applications weights file (loads by path like ImageNet files)."""

import hashlib
import importlib.util
import os

import h5py
import keras
import numpy as np
import pytest

from biocnn import transfer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "pipelines", "pretrain_fashion_mnist.py")


def _pipeline():
    spec = importlib.util.spec_from_file_location("pretrain_fashion_mnist", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notop_file_loads_into_keras_applications_with_identical_features(tmp_path):
    pipeline = _pipeline()
    keras.utils.set_random_seed(0)
    model, application = pipeline.build("MobileNetV2", 32, 10)
    # Moving statistics away from their initial 0 and 1, so that a file that lost them would show.
    for layer in application.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.full(layer.moving_mean.shape, 0.1, "float32"))
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 2.0, "float32"))
    path = str(tmp_path / "mobilenetv2_fashion_mnist_notop.h5")
    digest = pipeline.save_notop(application, path)
    assert digest == hashlib.sha256(open(path, "rb").read()).hexdigest()
    with h5py.File(path, "r") as f:  # legacy Keras HDF5, as the ImageNet files: layers by name, no ".weights.h5" layout
        assert "Conv1" in [n.decode() if isinstance(n, bytes) else n for n in f["model_weights"].attrs["layer_names"]]
    # Loaded the way an ImageNet notop file is, at another input size (the weights do not depend on it).
    loaded = keras.applications.MobileNetV2(include_top=False, weights=path, input_shape=(48, 48, 3), pooling="avg")
    reference = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(48, 48, 3), pooling="avg")
    reference.set_weights(application.get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, size=(2, 48, 48, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    # Through biocnn.transfer.backbone by path, on grey 28 px images (first convolution adapted to 1 channel, resize
    # and preprocessing in the graph), the features equal the pre-training graph's (grey -> RGB -> resize -> x/127.5-1).
    grey = np.random.default_rng(2).integers(0, 256, size=(3, 28, 28, 1)).astype("float32")
    features = transfer.backbone("MobileNetV2", weights=path, input_shape=(28, 28, 1), resize=(32, 32))
    expected = transfer.embed(model, grey, layer=transfer.PENULTIMATE)
    np.testing.assert_allclose(transfer.embed(features, grey), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_errors_name_the_fix(tmp_path):
    pipeline = _pipeline()
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        pipeline.main(["--data", str(tmp_path), "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit):
        pipeline.parse_args(["--backbone", "MobileNetV3", "--out", str(tmp_path)])
