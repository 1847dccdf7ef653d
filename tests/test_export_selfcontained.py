"""Self-contained exports: the file's own array, served by TensorFlow alone, gives the run's answer.

Three tiny runs, one per modality, each trained by its pipeline with ``--export``: 16-bit
3-channel TIFFs of two sizes read with a channel choice and a resize; an HDF5 of CT volumes in
Hounsfield units (int16) read with a window and resampling; a FASTA of DNA. For each, the
test files' raw arrays are served in a fresh process that imports only TensorFlow, and the
probabilities must equal the run's ``predictions.csv`` rows and ``predict_files`` /
``ExportedModel`` on the same files. (Before, the raw HU volumes gave [1, 0] for every case and
raw uint16 images were taken as intensities in [0, 1].)
"""

import importlib.util
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest
import tifffile

from biocnn.data import read_image
from biocnn.export import load, predict_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ("dim", "bright")


def _main(script, argv):
    spec = importlib.util.spec_from_file_location(script, os.path.join(ROOT, "pipelines", f"{script}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.cli.run_main(module.main, [str(a) for a in argv])


def _image_run(folder):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(24):
        label = i % 2
        size = (12, 12) if i % 3 else (10, 14)  # two sizes: the export resizes in the graph
        image = rng.integers(300, 900, size=(3, *size)).astype(np.uint16)
        image[2] += np.uint16(20000 * label)  # channel 2 (kept) says the class, in 16-bit units
        tifffile.imwrite(folder / f"cell{i}.tif", image, metadata={"axes": "CYX"})
        rows.append(f"cell{i}.tif,{CLASSES[label]}")
    (folder / "cells.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    _main("classify_images", ["--csv", folder / "cells.csv", "--size", 8, 8, "--channels", 2, 0, "--model", "mlp", "--augment", "none",
                              "--epochs", 1, "--batch-size", 8, "--out", folder / "run", "--export", folder / "export"])


def _volume_run(folder):
    rng = np.random.default_rng(1)
    labels = np.arange(24) % 2
    hu = rng.normal(0.0, 40.0, size=(24, 10, 9, 9)) + 120.0 * labels[:, None, None, None] - 20.0
    with h5py.File(folder / "ct.h5", "w") as f:
        f["volumes"] = np.round(hu).astype(np.int16)  # Hounsfield units, as CT scanners store them
        f["labels"] = labels
    _main("classify_volumes", ["--hdf5", folder / "ct.h5", "--key", "volumes", "--labels-key", "labels",
                               "--window", 50, 400, "--shape", 8, 8, 8, "--model", "mlp", "--epochs", 1,
                               "--batch-size", 8, "--examples", 2, "--out", folder / "run", "--export", folder / "export"])


def _sequence_run(folder):
    rng = np.random.default_rng(2)
    texts = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(40)]
    texts = [t[:10] + "GGGACTTTCC" + t[20:] if i % 2 == 0 else t.lower() for i, t in enumerate(texts)]
    (folder / "seqs.fa").write_text("".join(f">s{i}\n{t}\n" for i, t in enumerate(texts)))
    (folder / "labels.csv").write_text("id,label\n" + "".join(f"s{i},{'bound' if i % 2 == 0 else 'free'}\n"
                                                              for i in range(40)))
    _main("classify_sequences", ["--fasta", folder / "seqs.fa", "--labels", folder / "labels.csv", "--model",
                                 "deepbind:filters=4,kernel_size=6,hidden_units=8", "--epochs", 1, "--out",
                                 folder / "run", "--export", folder / "export"])
    return dict(zip([f"s{i}" for i in range(40)], texts))


def _serialized(path, array):
    import tensorflow as tf

    tf.io.write_file(str(path), tf.io.serialize_tensor(tf.constant(array)))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("selfcontained")
    found = {}
    for name, build in (("image", _image_run), ("volume", _volume_run), ("sequence", _sequence_run)):
        folder = root / name
        folder.mkdir()
        extra = build(folder)
        predictions = pd.read_csv(folder / "run" / "predictions.csv", dtype={"id": str})
        found[name] = {"folder": folder, "predictions": predictions, "extra": extra}
    return found


def _raw_inputs(name, run):
    """The run's test samples as their files hold them, with a path for predict_files."""
    folder, ids = run["folder"], run["predictions"]["id"].tolist()
    if name == "image":
        return [read_image(folder / i) for i in ids], [str(folder / i) for i in ids]
    if name == "volume":
        with h5py.File(folder / "ct.h5") as f:
            arrays = [f["volumes"][int(i)] for i in ids]
        paths = []
        for i, array in zip(ids, arrays):
            np.save(folder / f"case{i}.npy", array)
            paths.append(str(folder / f"case{i}.npy"))
        return [a[..., None] for a in arrays], paths
    return [run["extra"][i] for i in ids], None


TENSORFLOW_ONLY = r"""
import json, sys
import tensorflow as tf
imported_by_tensorflow = set(sys.modules)  # TensorFlow itself wires up tf.keras on import
result = {}
for name, path, input_name, inputs, dtype in json.loads(sys.argv[1]):
    serve = tf.saved_model.load(path).signatures["serving_default"]
    spec = serve.structured_input_signature[1][input_name]
    rows = []
    for data in inputs:  # one sample per call: the images differ in size
        x = tf.constant([data]) if dtype == "string" else tf.io.parse_tensor(tf.io.read_file(data), tf.as_dtype(dtype))[None]
        rows.append(serve(**{input_name: x})["probabilities"].numpy()[0].tolist())
    result[name] = {"probabilities": rows, "dtype": spec.dtype.name, "shape": spec.shape.as_list()}
result["modules"] = sorted(m for m in set(sys.modules) - imported_by_tensorflow if m.split(".")[0] in ("biocnn", "keras"))
print("RESULT" + json.dumps(result))
"""


@pytest.fixture(scope="module")
def served(runs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    jobs = []
    for name, run in runs.items():
        arrays, _ = _raw_inputs(name, run)
        meta = json.loads((run["folder"] / "export" / "biocnn_export.json").read_text())
        if name == "sequence":
            inputs, dtype = arrays, "string"
        else:
            inputs, dtype = [], meta["input"]["dtype"]
            for k, array in enumerate(arrays):
                _serialized(folder / f"{name}{k}.tensor", array)
                inputs.append(str(folder / f"{name}{k}.tensor"))
        jobs.append([name, str(run["folder"] / "export"), meta["input"]["name"], inputs, dtype])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", TENSORFLOW_ONLY, json.dumps(jobs)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=str(folder))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.split("RESULT", 1)[1])


def _scores(run):
    table = run["predictions"]
    return table[[c for c in table.columns if c.startswith("probability_")]].to_numpy()


@pytest.mark.parametrize("name", ["image", "volume", "sequence"])
def test_raw_file_served_by_tensorflow_alone_equals_the_run_and_predict_files(runs, served, name):
    run = runs[name]
    assert served["modules"] == []  # neither biocnn nor keras was needed to serve
    expected = _scores(run)
    np.testing.assert_allclose(served[name]["probabilities"], expected, rtol=1e-4, atol=2e-5)

    exported = load(run["folder"] / "export")
    arrays, paths = _raw_inputs(name, run)
    if name == "sequence":
        files = predict_files(exported, fasta=run["folder"] / "seqs.fa")
        files = files.set_index("id").loc[run["predictions"]["id"]]
        direct = exported(arrays)["probabilities"]
    else:
        files = predict_files(exported, **{f"{name}s": paths})
        direct = np.concatenate([exported(a, raw=True)["probabilities"] for a in arrays])
    np.testing.assert_allclose(files[[c for c in files.columns if c.startswith("probability_")]], expected,
                               rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(direct, expected, rtol=1e-4, atol=2e-5)
    # The answers are not all one class with certainty (the old failure: [1, 0] for every raw input).
    assert np.ptp(expected[:, 0]) > 1e-3


def test_signatures_declare_the_raw_dtype_and_layout(runs, served):
    assert served["image"]["dtype"] == "uint16" and served["image"]["shape"] == [None, None, None, 3]
    assert served["volume"]["dtype"] == "int16" and served["volume"]["shape"] == [None, None, None, None, 1]
    assert served["sequence"]["dtype"] == "string" and served["sequence"]["shape"] == [None]
    image = load(runs["image"]["folder"] / "export").metadata
    assert image["input"]["layout"] == "NHWC"
    assert [s["step"] for s in image["preprocessing"]["in_graph"]][:3] == ["select_channels", "scale_intensities",
                                                                         "resize"]
    assert image["reader"] == {"raw_dtype": "uint16", "raw_channels": 3, "channels": [2, 0], "scale_integers": True,
                               "nan_policy": None, "window": None, "resize_to": [8, 8]}
    volume = load(runs["volume"]["folder"] / "export").metadata
    assert volume["reader"] == {"raw_dtype": "int16", "raw_channels": 1, "channels": None, "scale_integers": False,
                                "nan_policy": None, "window": [-150.0, 250.0], "resize_to": [8, 8, 8]}
    training = volume["training"]
    assert sum(training["split_sizes"].values()) == 24 and training["data_source"]["key"] == "volumes"
    assert training["raw_dtype_from"] == "the headers of the run's data files"
    assert training["metrics"]["test"]["accuracy"] is not None


def test_raw_input_outside_the_signature_is_refused(runs):
    import tensorflow as tf

    image = load(runs["image"]["folder"] / "export")
    raw = read_image(runs["image"]["folder"] / "cell1.tif")
    with pytest.raises(ValueError, match=r"has dtype float32; this image export takes the files' own uint16 values "
                                         r"for 'image' \(divided by 65535 in the graph\)"):
        image(raw.astype(np.float32), raw=True)
    with pytest.raises(ValueError, match=r"has shape \(3, 12, 12\); .* It looks channels-first; this export takes "
                                         r"channels last: move the channel axis"):
        image(np.moveaxis(raw, -1, 0)[None], raw=True)
    # TensorFlow alone (the loaded signature) refuses them too, with a message that says why.
    serve = image.saved_model.signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a uint16 tensor but is a float tensor"):
        serve(image=tf.constant(raw[None].astype(np.float32)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"biocnn image export, input image: expected uint16 of shape "
                                                            r"\(N, H, W, C\) = \(any, any, any, 3\), channels last"):
        serve(image=tf.constant(np.moveaxis(raw, -1, 0)[None]))
    volume = load(runs["volume"]["folder"] / "export")
    with pytest.raises(ValueError, match=r"takes the files' own int16 values"):
        volume(np.zeros((10, 9, 9, 1), np.float32), raw=True)


@pytest.mark.parametrize("policy", ["zero", "min"])
def test_graph_reader_steps_equal_the_numpy_readers(policy):
    """reader_layers on a batch == the NumPy steps of load_image / VolumePreprocessing, sample by sample."""
    from biocnn.data import scale_intensities
    from biocnn.data.intensity import replace_nonfinite, window
    from biocnn.data.preprocess import reader_layers, resize, select_channels

    rng = np.random.default_rng(3)
    images = rng.integers(0, 65535, size=(3, 9, 13, 4)).astype(np.uint16)
    steps = reader_layers(channels=[3, 1], resize_to=(8, 8))
    x = images
    for step in steps:
        x = step(x)
    expected = np.stack([resize(scale_intensities(select_channels(a, [3, 1])), (8, 8)) for a in images])
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6, atol=1e-7)

    volumes = rng.normal(0, 300, size=(2, 5, 7, 6, 1)).astype(np.float32)
    volumes[0, 1, 2, 3, 0], volumes[1, 0, 0, 0, 0], volumes[1, 4, 6, 5, 0] = np.nan, -np.inf, np.inf
    steps = reader_layers(scale_integers=False, nan_policy=policy, window=(-150.0, 250.0), resize_to=(4, 4, 4))
    x = volumes
    for step in steps:
        x = step(x)
    expected = np.stack([resize(window(replace_nonfinite(v, policy), center=50.0, width=400.0), (4, 4, 4))
                         for v in volumes])
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6, atol=1e-6)
