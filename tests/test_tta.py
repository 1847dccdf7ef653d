"""Test-time augmentation: views against NumPy, the .keras round trip, and a TTA run whose export
(served in a fresh TensorFlow process) reproduces its predictions.csv."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from biocnn import cli, experiment, tta
from biocnn.data import reverse_complement
from biocnn.rundir import RunDirectory
from biocnn.training import TrainingConfig


def _net(shape, classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input(shape), keras.layers.Flatten(),
                             keras.layers.Dense(classes, activation="softmax")])


def _numpy_mean(net, views):
    return np.mean([net.predict(np.ascontiguousarray(v), verbose=0) for v in views], axis=0)


def test_resolve_names_the_natural_views_of_each_modality():
    assert tta.resolve(None, rank=2, channels=1) is None and tta.resolve("none", rank=2, channels=1) is None
    assert tta.resolve("auto", rank=3, channels=1)["views"] == [[], [1], [2], [3], [1, 2], [1, 3], [2, 3], [1, 2, 3]]
    assert tta.resolve("auto", rank=1, channels=4, alphabet="rna") == {"spec": "rc", "views": [[], [1, 2]]}
    assert tta.resolve("flips=3,2", rank=3, channels=1)["views"] == [[], [2], [3], [2, 3]]
    assert tta.resolve("flips", rank=1, channels=20, alphabet="protein")["views"] == [[], [1]]
    assert tuple(cli.TTA_SPECS) == tta.SPECS
    with pytest.warns(UserWarning, match=r"no natural test-time views for 1D inputs with 20 channel\(s\) \(protein\)"):
        assert tta.resolve("auto", rank=1, channels=20, alphabet="protein") is None


@pytest.mark.parametrize("spec, kwargs, message", [
    ("rc", {"rank": 2, "channels": 4}, "reverse complement needs one-hot DNA/RNA"),
    ("flips=4", {"rank": 3, "channels": 1}, r"spatial axes of 3D inputs are 1..3; got '4'"),
    ("flip", {"rank": 2, "channels": 1}, "unknown spec 'flip'; one of auto, flips, rc, none"),
])
def test_resolve_refuses_views_that_do_not_fit(spec, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tta.resolve(spec, **kwargs)


def test_trained_on_views_reads_the_serialised_augmentation():
    from biocnn import augment

    flips = keras.saving.serialize_keras_object(augment.policy("microscopy", rank=2, seed=0, channels=1))
    assert tta.trained_on_views(flips, tta.resolve("flips", rank=2, channels=1))
    assert not tta.trained_on_views(flips, tta.resolve("rc", rank=1, channels=4, alphabet="dna"))
    assert not tta.trained_on_views(None, tta.resolve("flips", rank=2, channels=1))


def test_flip_views_of_a_volume_equal_the_numpy_mean():
    net = _net((3, 4, 5, 2))
    x = np.random.default_rng(1).normal(size=(4, 3, 4, 5, 2)).astype("float32")
    views = [np.flip(x, axis=tuple(v)) if v else x for v in tta.resolve("auto", rank=3, channels=2)["views"]]
    wrapped = tta.with_tta(net, tta.resolve("auto", rank=3, channels=2)["views"])
    np.testing.assert_allclose(wrapped.predict(x, verbose=0), _numpy_mean(net, views), rtol=1e-5, atol=1e-7)


def test_reverse_complement_view_equals_the_strand_mean_and_survives_a_keras_round_trip(tmp_path):
    net = _net((7, 4), classes=2)
    x = np.random.default_rng(2).random((5, 7, 4)).astype("float32")
    wrapped = tta.with_tta(net, tta.resolve("rc", rank=1, channels=4, alphabet="dna")["views"])
    expected = _numpy_mean(net, [x, reverse_complement(x)])
    np.testing.assert_allclose(wrapped.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-7)
    wrapped.save(tmp_path / "tta.keras")
    loaded = keras.saving.load_model(tmp_path / "tta.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-7)
    layer = loaded.get_layer("test_time_augmentation")
    assert layer.get_config()["views"] == [[], [1, 2]]


def _tiny_splits(seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(36) % 2
    x = rng.random((36, 6, 6, 1)).astype("float32")
    x[y == 1, :3] += 0.5  # a class whose top half is brighter: flips change the scores
    return {"train": (x[:20], y[:20]), "val": (x[20:28], y[20:28]), "test": (x[28:], y[28:])}


@pytest.fixture(scope="module")
def tta_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tta") / "run"
    run = RunDirectory(folder)
    model = _net((6, 6, 1), classes=2)
    splits = _tiny_splits()
    with pytest.warns(UserWarning, match=r"--tta flips: the model was not trained on these views \(no RandomFlip"):
        result = experiment.train_and_evaluate(
            run, model, splits, TrainingConfig(epochs=1, batch_size=8), class_names=["a", "b"], verbose=0, tta="auto",
            extra_config={"inputs": {"raw_dtype": "float32"}})
    return folder, model, splits, result


def test_a_tta_run_is_scored_on_the_mean_of_the_flips(tta_run):
    folder, model, splits, result = tta_run
    x = splits["test"][0]
    expected = _numpy_mean(model, [x, x[:, ::-1], x[:, :, ::-1], x[:, ::-1, ::-1]])
    table = pd.read_csv(folder / "predictions.csv")
    np.testing.assert_allclose(table[["probability_a", "probability_b"]].to_numpy(), expected, rtol=1e-5, atol=1e-6)
    config = json.loads((folder / "config.json").read_text())
    assert config["test_time"] == {"tta": {"spec": "flips", "views": [[], [1], [2], [1, 2]]}, "rc_average": False}
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] == pytest.approx(np.mean(expected.argmax(1) == splits["test"][1]))
    plain = model.predict(x, verbose=0)
    assert metrics["test_without_tta"]["accuracy"] == pytest.approx(np.mean(plain.argmax(1) == splits["test"][1]))


FRESH = """
import json, sys
import numpy as np, tensorflow as tf
path, x = sys.argv[1], np.load(sys.argv[2])
served = tf.saved_model.load(path).signatures["serving_default"](tf.constant(x))
print(json.dumps(served["probabilities"].numpy().tolist()))
"""


def test_the_export_of_a_tta_run_serves_its_predictions(tta_run, tmp_path):
    from biocnn.export import from_run

    folder, model, splits, _ = tta_run
    meta = from_run(folder, tmp_path / "export", raw_dtype="float32", embeddings=False)
    assert meta["outputs"]["tta"]["views"] == [[], [1], [2], [1, 2]]
    np.save(tmp_path / "x.npy", splits["test"][0])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # TensorFlow only, no biocnn
    done = subprocess.run([sys.executable, "-c", FRESH, str(tmp_path / "export"), str(tmp_path / "x.npy")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    table = pd.read_csv(folder / "predictions.csv")
    np.testing.assert_allclose(np.array(json.loads(done.stdout.strip().splitlines()[-1])),
                               table[["probability_a", "probability_b"]].to_numpy(), rtol=1e-5, atol=1e-6)
