"""bioimage.io packages from tiny 2D and 3D runs, checked by bioimageio-core's own test; model cards.

The runs are real pipeline runs (``classify_images.py`` and ``classify_volumes.py`` on tiny
generated .npz files, one epoch). References: the run's own ``predictions.csv`` (the scores
the run wrote for its first test sample), the run's ``model.keras``, onnxruntime, and
``bioimageio.core.test_description`` (what ``bioimageio test`` runs).
"""

import importlib.util
import json
import math
import os

import keras
import numpy as np
import pandas as pd
import pytest

from biocnn import export
from biocnn.export.card import wilson_interval

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER = {"license": "MIT", "authors": ["Test Author"], "cite": "10.5281/zenodo.1234567"}


def _pipeline(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "pipelines", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _npz(path, shape, seed):
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", 16), ("val", 6), ("test", 6)):
        labels = np.arange(n) % 2
        bright = 120 * labels.reshape((n,) + (1,) * len(shape))
        arrays[f"{split}_images"] = (rng.integers(0, 100, (n, *shape)) + bright).astype(np.uint8)
        arrays[f"{split}_labels"] = labels
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    common = ["--class-names", "dark", "bright", "--epochs", "1", "--batch-size", "8"]
    _pipeline("classify_images").main(["--npz", str(_npz(folder / "2d.npz", (12, 12), 0)), "--model", "lenet5",
                                       *common, "--out", str(folder / "run2d")])
    _pipeline("classify_volumes").main(["--npz", str(_npz(folder / "3d.npz", (8, 8, 8), 1)), "--model", "lenet5",
                                        *common, "--examples", "2", "--out", str(folder / "run3d")])
    return {2: folder / "run2d", 3: folder / "run3d"}


@pytest.mark.parametrize("rank", [2, 3])
def test_package_of_a_tiny_run_passes_bioimageio_test(runs, rank, tmp_path, monkeypatch):
    core = pytest.importorskip("bioimageio.core")
    run = runs[rank]
    info = export.to_bioimageio(run, tmp_path / "pkg", **USER)
    pkg = tmp_path / "pkg"
    assert info["validation"] in ("valid-format", "passed")
    assert set(info["weights"]) >= {"tensorflow_saved_model_bundle"}
    rdf = info["rdf"]
    axes = rdf["inputs"][0]["axes"]
    assert [a.get("id", a["type"]) for a in axes] == ["batch", *("zyx"[3 - rank:]), "channel"]
    assert rdf["outputs"][0]["axes"][1]["channel_names"] == ["dark", "bright"]
    assert rdf["license"] == "MIT" and rdf["cite"] == [{"text": "10.5281/zenodo.1234567",
                                                        "doi": "10.5281/zenodo.1234567"}]
    # The files' own values go in (uint8 here): scaling by the dtype's maximum is inside the graph.
    assert rdf["inputs"][0]["data"] == {"type": "uint8", "range": [0.0, 255.0]}

    # The test tensors are the run's first test sample and the run's own scores for it.
    x, y = np.load(pkg / "test_input.npy"), np.load(pkg / "test_output.npy")
    predictions = pd.read_csv(run / "predictions.csv")
    np.testing.assert_allclose(y[0], predictions.loc[0, ["probability_dark", "probability_bright"]].to_numpy(float), atol=1e-5)
    model = keras.saving.load_model(run / "model.keras", compile=False)
    assert x.dtype == np.uint8
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(model(x.astype("float32") / 255, training=False)), atol=1e-5)
    if "onnx" in info["weights"]:
        from biocnn.export.onnx import onnx_session

        np.testing.assert_allclose(onnx_session(str(pkg / "model.onnx")).run(None, {"image" if rank == 2 else "volume": x})[0],
                                   y, atol=1e-4)

    doc = (pkg / "doc.md").read_text()
    metrics = json.load(open(run / "metrics.json"))
    assert f"{metrics['test']['accuracy']:.3f}" in doc and "## Limits" in doc
    assert (pkg / "MODEL_CARD.md").read_text() in doc
    from PIL import Image

    with Image.open(pkg / "cover.png") as cover:
        assert cover.width == 2 * cover.height and (pkg / "cover.png").stat().st_size < 500_000

    monkeypatch.chdir(tmp_path)  # bioimageio.core unzips TensorFlow weights into the working directory
    summary = core.test_description(str(pkg / "rdf.yaml"))
    assert summary.status == "passed", summary.format()


def test_package_from_an_export_and_its_refusals(runs, tmp_path):
    with pytest.raises(ValueError, match=r"to_bioimageio: license, cite missing.*never invents them"):
        export.to_bioimageio(runs[2], tmp_path / "p", authors=["A"])
    with pytest.raises(ValueError, match=r"neither a DOI.*nor a URL"):
        export.to_bioimageio(runs[2], tmp_path / "p", license="MIT", authors=["A"], cite="my paper")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"not a biocnn bioimage.io package.*will not write into it"):
        export.to_bioimageio(runs[2], tmp_path / "taken", **USER)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"

    export.from_run(runs[2], tmp_path / "exp")
    with pytest.raises(ValueError, match=r"test input has shape \(5, 5\); the model takes \(N, 12, 12, 1\)"):
        export.to_bioimageio(tmp_path / "exp", tmp_path / "p", test_input=np.zeros((5, 5)), **USER, onnx=False)
    sample = np.full((12, 12, 1), 128, np.uint8)
    info = export.to_bioimageio(tmp_path / "exp", tmp_path / "p", test_input=sample, **USER, onnx=False)
    assert info["weights"] == ["tensorflow_saved_model_bundle"]
    np.testing.assert_array_equal(np.load(tmp_path / "p" / "test_input.npy"), sample[None])
    with pytest.raises(FileExistsError, match=r"already holds a bioimage.io package.*overwrite=True"):
        export.to_bioimageio(tmp_path / "exp", tmp_path / "p", test_input=sample, **USER, onnx=False)

    signal = keras.Sequential([keras.Input((8, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    export.save(signal, tmp_path / "signal")
    with pytest.raises(ValueError, match=r"is a signal model; bioimage.io packages describe image and volume"):
        export.to_bioimageio(tmp_path / "signal", tmp_path / "q", **USER)


def _wilson_by_quadratic(k, n, z=1.959963984540054):
    # The interval is the set of p with (p_hat - p)^2 <= z^2 p (1 - p) / n: the roots of a quadratic in p.
    p_hat = k / n
    a, b, c = 1 + z * z / n, -(2 * p_hat + z * z / n), p_hat * p_hat
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


@pytest.mark.parametrize("k, n", [(287, 289), (0, 10), (10, 10), (37, 80)])
def test_wilson_interval_solves_the_score_equation(k, n):
    np.testing.assert_allclose(wilson_interval(k, n), _wilson_by_quadratic(k, n), atol=1e-12)


def test_model_card_reads_the_run_as_written(runs, tmp_path):
    run = runs[3]
    config, metrics = json.load(open(run / "config.json")), json.load(open(run / "metrics.json"))
    card = export.model_card(run, out=tmp_path, intended_use="Teaching.", limitations="Synthetic volumes.")
    assert card["task"] == {"modality": "volume", "kind": "classification", "class_names": ["dark", "bright"]}
    assert card["data"]["splits"]["test"] == {"samples": 6, "class_counts": config["data"]["test"]["class_counts"]}
    test = card["metrics"]["test"]
    assert test["accuracy"] == metrics["test"]["accuracy"] and test["num_samples"] == 6
    assert test["accuracy_ci95"] == list(wilson_interval(round(metrics["test"]["accuracy"] * 6), 6))
    assert card["input"]["volume_preprocessing"] == config["preprocessing"]
    assert card["intended_use"] == "Teaching." and card["limitations"][-1] == "Synthetic volumes."
    text = (tmp_path / "MODEL_CARD.md").read_text()
    assert text.startswith("# Model card: lenet5") and "Synthetic volumes." in text
    with pytest.raises(ValueError, match=r"neither a run directory .* nor a biocnn export"):
        export.model_card(tmp_path / "nothing_here")


def test_export_script_writes_each_format_and_refuses_without_licence(runs, tmp_path, capsys):
    script = _pipeline("export")
    with pytest.raises(SystemExit):
        script.main(["--help"])
    assert "--format {savedmodel,onnx,bioimageio,tflite}" in capsys.readouterr().out
    from biocnn.commands.export import FORMATS

    assert FORMATS == export.FORMATS  # the TensorFlow-free parser offers what export_as takes
    script.main(["--run", str(runs[2]), "--out", str(tmp_path / "sm")])
    assert (tmp_path / "sm" / "MODEL_CARD.md").is_file() and export.load(tmp_path / "sm").class_names == ["dark", "bright"]
    if importlib.util.find_spec("tf2onnx") and importlib.util.find_spec("onnxruntime"):
        script.main(["--run", str(runs[2]), "--out", str(tmp_path / "m.onnx"), "--format", "onnx"])
        assert "onnxruntime vs TensorFlow max |difference|" in capsys.readouterr().out
        assert (tmp_path / "m.onnx").stat().st_size > 0
    with pytest.raises(ValueError, match=r"license, authors, cite missing"):
        script.main(["--run", str(runs[2]), "--out", str(tmp_path / "pkg"), "--format", "bioimageio"])
    assert not (tmp_path / "pkg").exists()


def test_docstring_examples_run():
    import doctest

    from biocnn.export import bioimageio, card, formats

    for module in (card, formats, bioimageio):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0, module.__name__


def test_an_export_that_takes_raw_integers_gets_the_files_own_values(runs):
    # Exports may declare the files' dtype (uint8 here) and scale in their graph; the package's test
    # input must then be the raw sample, not the reader's [0, 1] floats. Checked on the run's own npz.
    import tensorflow as tf

    from biocnn.export import bioimageio

    config = json.load(open(runs[2] / "config.json"))
    spec = tf.TensorSpec((None, 12, 12, 1), tf.uint8)
    x = bioimageio._test_input(None, str(runs[2]), config, "image", spec, "run")
    with np.load(config["arguments"]["npz"]) as arrays:
        np.testing.assert_array_equal(x, arrays["test_images"][:1, ..., None])
    assert x.dtype == np.uint8
    assert bioimageio._value_range({}, "image", spec) == [0.0, 255.0]
    with pytest.raises(ValueError, match=r"takes uint8 input .* fractional values"):
        bioimageio._test_input(np.full((12, 12, 1), 0.5), None, None, "image", spec, "run")
