"""Exports and runs that load safely: after ``import biocnn`` alone, and never running file or Python ops.

* Every registered biocnn Keras object is known after ``import biocnn`` in a fresh process
  (transfer layers included: ``Could not locate class 'AppendOnes'`` before), and a model.keras
  with biocnn layers, loss and optimizer loads there with ``keras.models.load_model``.
* A crafted SavedModel whose serving function reads and writes files is refused by
  ``export.load`` with one line naming the operation and ``--trust-export``, before TensorFlow
  runs any of it; biocnn's own exports (every reader step, every modality) pass the check.
"""

import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

import biocnn
from biocnn import augment, transfer
from biocnn.data import Encoding
from biocnn.data.preprocess import PercentileClip, reader_layers
from biocnn.export import ALLOWED_OPS, check_graph, load, save
from biocnn.export.allowlist import graph_ops
from biocnn.models import LocalResponseNormalization

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _all_registered():
    for module in pkgutil.walk_packages(biocnn.__path__, "biocnn."):
        importlib.import_module(module.name)
    return sorted(biocnn.serialization.custom_objects())


def _tiny_run_model():
    """A model with biocnn objects from every corner: preprocessing, augmentation, zoo and transfer layers."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 2))
    x = PercentileClip(1, 99)(inputs)
    x = augment.RandomFlip(seed=1)(x)
    x = transfer.AppendOnes()(x)
    x = transfer.ImageNetPreprocessing("torch")(transfer.TileChannels(3)(x))
    x = keras.layers.Conv2D(4, 3)(x)
    x = LocalResponseNormalization()(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    model.compile(optimizer=biocnn.optimizers.MomentumSGD(0.01), loss=biocnn.losses.get("cross_entropy"))
    return model


LOAD_AFTER_IMPORT_BIOCNN = r"""
import json, sys
import biocnn
import keras
import numpy as np
names = sorted(biocnn.serialization.custom_objects())
model = keras.models.load_model(sys.argv[1])
x = np.load(sys.argv[2])
exported = biocnn.export.from_run(sys.argv[3], sys.argv[4])  # a transfer run: AppendOnes, TileChannels ...
served = biocnn.export.load(sys.argv[4])(x, raw=True)["probabilities"]
print("RESULT" + json.dumps({"names": names, "output": model(x, training=False).numpy().tolist(),
                             "served": served.tolist(), "loss": type(model.loss).__name__}))
"""


def test_every_run_model_loads_after_import_biocnn_alone(tmp_path):
    model = _tiny_run_model()
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"class_names": ["a", "b"], "inputs": {"raw_dtype": "float32"}}))
    x = np.random.default_rng(0).random((3, 8, 8, 2)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    done = subprocess.run([sys.executable, "-c", LOAD_AFTER_IMPORT_BIOCNN, str(run / "model.keras"),
                           str(tmp_path / "x.npy"), str(run), str(tmp_path / "export")],
                          capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT", 1)[1])
    # Every object any biocnn module registers is registered by `import biocnn` alone.
    everything = _all_registered()
    assert result["names"] == everything and "biocnn>AppendOnes" in everything
    assert set(everything) >= {"biocnn>SelectChannels", "biocnn>IntensityScaling", "biocnn>SpatialResize",
                               "biocnn>IntensityWindow", "biocnn>ReplaceNonFinite"}
    np.testing.assert_allclose(result["output"], model(x, training=False).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["served"], result["output"], rtol=1e-5, atol=1e-6)
    assert result["loss"] == type(model.loss).__name__


def test_reader_layers_round_trip_through_keras_files(tmp_path):
    steps = reader_layers(channels=[1, 0], nan_policy="min", window=(-100.0, 300.0), resize_to=(4, 5))
    inputs = keras.Input((6, 7, 3))
    x = inputs
    for step in steps:
        x = step(x)
    model = keras.Model(inputs, x)
    model.save(tmp_path / "reader.keras")
    loaded = keras.models.load_model(tmp_path / "reader.keras")
    assert [type(lay).__name__ for lay in loaded.layers[1:]] == [type(s).__name__ for s in steps]
    assert [lay.get_config() for lay in loaded.layers[1:]] == [s.get_config() for s in steps]
    x = np.random.default_rng(1).normal(100, 200, (2, 6, 7, 3)).astype("float32")
    x[0, 0, 0, 1] = np.nan
    np.testing.assert_allclose(loaded(x), model(x))


# --- the graph allowlist --------------------------------------------------------------------


def _crafted(tmp_path, secret):
    """A SavedModel whose serving function reads ``secret`` and writes a file, with copied biocnn metadata."""
    import tensorflow as tf

    class Sneaky(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4, 1], tf.float32, name="signal")])
        def serve(self, x):
            stolen = tf.io.read_file(secret)
            tf.io.write_file(str(tmp_path / "dropped.txt"), stolen)
            p = tf.nn.softmax(tf.reduce_sum(x, axis=[1, 2])[:, None] * [1.0, -1.0])
            return {"probabilities": p, "class_index": tf.argmax(p, -1),
                    "class_name": tf.gather(tf.constant(["a", "b"]), tf.argmax(p, -1))}

    module = Sneaky()
    path = tmp_path / "crafted"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    honest = tmp_path / "honest"
    net = keras.Sequential([keras.Input((4, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    save(net, honest, class_names=["a", "b"], embeddings=False)
    shutil.copy(honest / "biocnn_export.json", path / "biocnn_export.json")  # it looks like a biocnn export
    return path


def test_a_savedmodel_that_reads_and_writes_files_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("lab notebook")
    path = _crafted(tmp_path, str(secret))
    with pytest.raises(ValueError, match=r"the SavedModel's graph uses the operation 'ReadFile' \(in __inference_serve"
                                         r".*\(also: WriteFile\).* pass --trust-export \(trust_export=True\)"):
        load(path)
    assert not (tmp_path / "dropped.txt").exists()  # nothing of it ran
    ops, _ = graph_ops(path)
    assert {"ReadFile", "WriteFile"} <= set(ops) and not {"ReadFile", "WriteFile"} & ALLOWED_OPS
    # The user's word overrides the check (and then the graph does what it holds).
    trusted = load(path, trust_export=True)
    trusted(np.ones((1, 4, 1), "float32"))
    assert (tmp_path / "dropped.txt").read_text() == "lab notebook"


def test_biocnn_exports_pass_the_check_in_every_modality(tmp_path):
    keras.utils.set_random_seed(2)
    dense = [keras.layers.Conv1D(2, 3), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")]
    sequence = keras.Sequential([keras.Input((12, 4)), *dense])
    save(sequence, tmp_path / "seq", encoding=Encoding("dna", length=12), rc_average=True)
    image = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(2, 3), keras.layers.BatchNormalization(),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])
    save(image, tmp_path / "image", reader={"raw_dtype": "uint16", "channels": [2, 0], "resize_to": [6, 6]})
    volume = keras.Sequential([keras.Input((4, 4, 4, 1)), keras.layers.Conv3D(2, 3), keras.layers.Flatten(),
                               keras.layers.Dense(2, activation="softmax")])
    for policy in ("raise", "zero", "min"):
        save(volume, tmp_path / f"volume_{policy}", reader={"raw_dtype": "float32", "nan_policy": policy,
                                                           "window": [-100, 300], "resize_to": [4, 4, 4]})
    for name in ("seq", "image", "volume_raise", "volume_zero", "volume_min"):
        used = check_graph(tmp_path / name)
        assert "ReadFile" not in used and "SaveV2" in used  # the checkpoint function keeps its own ops
        assert load(tmp_path / name).signatures  # and loading checks the same way
