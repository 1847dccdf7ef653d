"""SavedModel export: served in a TensorFlow-only process it equals model(x, training=False).

The three tiny models carry augmentation, dropout and batch norm (with moving statistics far
from the identity), so a served graph that left any of them in training mode would differ.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from biocnn import augment
from biocnn.data import Encoding, reverse_complement
from biocnn.data.preprocess import fit_preprocessing, with_preprocessing
from biocnn.export import check_export_argument, export_run, from_run, load, save
from biocnn.export import metadata as metadata_module

CONV = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}
ENCODING = Encoding("dna", length=12, align="center")
# lowercase, N, IUPAC codes, too long (cropped) and too short (padded)
SEQUENCES = ["ACGTACGTACGT", "acgtnacgtRYk", "NNNNACGTSWMB", "ACGTACGTACGTACGTAAAC", "dhvACg", "T"]


def tiny_network(input_shape, classes, augmentation, seed):
    """augmentation -> conv -> batch norm -> relu -> flatten -> dropout -> Dense 'logits' -> softmax."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape, name="x")
    x = augmentation(inputs)
    x = CONV[len(input_shape) - 1](3, 3, padding="same", name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.5)(x)
    x = keras.layers.Dense(classes, name="logits")(x)
    model = keras.Model(inputs, keras.layers.Softmax(name="probs")(x), name=f"tiny{len(input_shape) - 1}d")
    bn = model.get_layer("bn")
    rng = np.random.default_rng(seed)
    bn.moving_mean.assign(rng.normal(0, 1, 3).astype("float32"))
    bn.moving_variance.assign(rng.uniform(0.2, 3, 3).astype("float32"))
    return model


def _serialized(path, array):
    import tensorflow as tf

    tf.io.write_file(path, tf.io.serialize_tensor(tf.constant(array)))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """A 1D model fed strings, and 2D/3D models with normalisation fitted on raw intensities."""
    root = tmp_path_factory.mktemp("exports")
    rng = np.random.default_rng(0)
    one = tiny_network((12, 4), 3, augment.RandomShift(2, seed=1), seed=1)
    save(one, root / "seq", encoding=ENCODING, class_names=["donor", "acceptor", "neither"])

    found = {"seq": (one, SEQUENCES, "sequence")}
    for rank, shape, policy in ((2, (8, 8, 2), "microscopy"), (3, (4, 6, 6, 1), "volume")):
        train = (rng.random((16, *shape)) * 900 + 100).astype("float32")  # raw intensities, far from N(0, 1)
        augmentation = keras.Sequential([augment.policy(policy, rank=rank, seed=2, channels=shape[-1])])
        if rank == 2:  # Keras's own augmentation layers default to training mode: export must switch them off
            augmentation.add(keras.layers.RandomFlip(seed=3))
        network = tiny_network(shape, 2, augmentation, seed=rank)
        model = with_preprocessing(fit_preprocessing(train), network)
        name = {2: "image", 3: "volume"}[rank]
        save(model, root / name, class_names=["healthy", "tumour"], data={"train": {"samples": 16}}, seed=rank)
        x = (rng.random((5, *shape)) * 900 + 100).astype("float32")
        found[name] = (model, x, name)
        found[f"{name}_train"] = train
    return root, found


FRESH_PROCESS = r"""
import json, sys
import tensorflow as tf
imported_by_tensorflow = set(sys.modules)  # TensorFlow itself wires up tf.keras on import
result = {}
for name, path, input_name, data, out in json.loads(sys.argv[1]):
    model = tf.saved_model.load(path)
    serve = model.signatures["serving_default"]
    if input_name == "sequence":
        x = tf.constant(open(data).read().split("\n"))
    else:
        x = tf.io.parse_tensor(tf.io.read_file(data), tf.float32)
    outputs = serve(**{input_name: x})
    tf.io.write_file(out, tf.io.serialize_tensor(outputs["probabilities"]))
    result[name] = {
        "inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in serve.structured_input_signature[1].items()},
        "outputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in serve.structured_outputs.items()},
        "class_name": [c.decode() for c in outputs["class_name"].numpy()],
    }
result["biocnn"] = sorted(m for m in sys.modules if m.split(".")[0] == "biocnn")
result["keras_after_import"] = sorted(m for m in set(sys.modules) - imported_by_tensorflow if "keras" in m)
print("RESULT" + json.dumps(result))
"""


@pytest.fixture(scope="module")
def served(exports, tmp_path_factory):
    """Serve the three exports in a TensorFlow-only process while saved_model_cli runs beside it."""
    root, found = exports
    folder = tmp_path_factory.mktemp("served")
    jobs = []
    for name in ("seq", "image", "volume"):
        model, x, input_name = found[name]
        data = str(folder / f"{name}.in")
        if input_name == "sequence":
            with open(data, "w") as f:
                f.write("\n".join(x))
        else:
            _serialized(data, x)
        jobs.append([name, str(root / name), input_name, data, str(folder / f"{name}.out")])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    fresh = subprocess.Popen([sys.executable, "-c", FRESH_PROCESS, json.dumps(jobs)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=str(folder), env=env)
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    show = None
    if os.path.exists(cli):
        show = subprocess.Popen([cli, "show", "--all", "--dir", str(root / "seq")], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
    outputs = {"fresh": (fresh, *fresh.communicate(timeout=300))}
    if show is not None:
        outputs["cli"] = (show, *show.communicate(timeout=300))
    return jobs, outputs


def test_served_in_a_tensorflow_only_process_equals_inference_outputs(exports, served):
    import tensorflow as tf

    root, found = exports
    jobs, outputs = served
    process, stdout, stderr = outputs["fresh"]
    assert process.returncode == 0, stderr[-3000:]
    result = json.loads(stdout.split("RESULT", 1)[1])
    assert result["biocnn"] == [] and result["keras_after_import"] == []  # serving needed neither

    for name, _, input_name, _, out in jobs:
        model, x, _ = found[name]
        model_input = ENCODING.encode(x) if name == "seq" else x
        expected = model(model_input, training=False).numpy()
        served_probabilities = tf.io.parse_tensor(tf.io.read_file(out), tf.float32).numpy()
        np.testing.assert_allclose(served_probabilities, expected, rtol=1e-5, atol=1e-6)
        # The test can fail: in training mode augmentation, dropout and batch statistics change outputs.
        weights = model.get_weights()  # a training-mode call moves batch norm's statistics
        assert np.abs(model(model_input, training=True).numpy() - expected).max() > 1e-3
        model.set_weights(weights)
        names = metadata_module.read(root / name)["class_names"]
        assert result[name]["class_name"] == [names[i] for i in expected.argmax(1)]
        spec = [None] if name == "seq" else [None, *x.shape[1:]]
        assert result[name]["inputs"] == {input_name: ["string" if name == "seq" else "float32", spec]}
        assert result[name]["outputs"] == {"probabilities": ["float32", [None, len(names)]],
                                           "class_index": ["int64", [None]], "class_name": ["string", [None]]}


def test_saved_model_cli_lists_the_documented_signature(served):
    _, outputs = served
    if "cli" not in outputs:
        pytest.skip(f"saved_model_cli is not installed next to {sys.executable}")
    process, stdout, stderr = outputs["cli"]
    assert process.returncode == 0, stderr[-3000:]
    serving = stdout.split("signature_def['serving_default']:")[1].split("signature_def[")[0]
    assert "inputs['sequence'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1)" in serving
    assert "outputs['probabilities'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 3)" in serving
    assert "outputs['class_index'] tensor_info:\n        dtype: DT_INT64" in serving
    assert "signature_def['embeddings']" in stdout and "inputs['one_hot']" in stdout


def test_metadata_records_classes_encoding_constants_and_versions(exports):
    root, found = exports
    meta = load(root / "image").metadata
    with open(root / "image" / "assets" / "biocnn_export.json") as f:
        assert json.load(f) == meta
    assert meta["format"] == "biocnn-export" and meta["modality"] == "image"
    assert meta["class_names"] == ["healthy", "tumour"]
    assert meta["input"] == {**meta["input"], "name": "image", "dtype": "float32", "shape": [None, 8, 8, 2]}
    (norm,) = [s for s in meta["preprocessing"]["in_graph"] if s["step"] == "normalization"]
    train = found["image_train"]
    np.testing.assert_allclose(norm["mean"], train.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(norm["variance"], train.var(axis=(0, 1, 2)), rtol=1e-3)
    assert meta["training"]["seed"] == 2 and meta["training"]["data"] == {"train": {"samples": 16}}
    assert {"biocnn", "tensorflow", "keras", "numpy", "python"} <= set(meta["versions"])
    assert set(meta["signatures"]) == {"serving_default", "embeddings", "prepared"}

    seq = load(root / "seq").metadata
    assert seq["encoding"] == ENCODING.to_dict() and seq["input"]["dtype"] == "string"
    assert set(seq["signatures"]) == {"serving_default", "embeddings", "encoded"}


def test_embeddings_are_the_input_of_the_last_dense_layer(exports):
    root, found = exports
    model, x, _ = found["image"]
    network = model.layers[-1]
    reference = keras.Model(network.inputs, network.get_layer("logits").input)
    expected = reference(model.layers[1](x, training=False), training=False).numpy()
    np.testing.assert_allclose(load(root / "image").embed(x), expected, rtol=1e-5, atol=1e-6)


def test_prediction_inputs_are_checked_against_the_spec(exports):
    root, found = exports
    image = load(root / "image")
    with pytest.raises(ValueError, match=r"shape \(10, 10, 2\); this image export takes 'image' of shape "
                                         r"\(H, W, C\) = \(8, 8, 2\) per sample\. Resize to 8 x 8"):
        image(np.zeros((2, 10, 10, 2), "float32"))
    with pytest.raises(ValueError, match=r"Give 2 channel\(s\)"):
        image(np.zeros((2, 8, 8, 3), "float32"))
    bad = found["image"][1].copy()
    bad[3, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="sample 4 has NaN or infinite values"):
        image(bad)
    seq = load(root / "seq")
    with pytest.raises(ValueError, match=r"r7: invalid letter 'Z' at position 3 for the dna alphabet"):
        seq(["ACGT", "ACZT"], names=["r6", "r7"])
    with pytest.raises(ValueError, match="takes raw DNA strings"):
        seq(np.zeros((1, 12, 4), "float32"))
    # A single sample without the batch axis is accepted.
    one = image(found["image"][1][0])["probabilities"]
    np.testing.assert_allclose(one, image(found["image"][1][:1])["probabilities"])


def _tiny_dense(head_units, activation):
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((5, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(head_units, activation=activation, name="out")])


def test_logits_get_a_softmax_and_one_sigmoid_unit_becomes_two_columns(tmp_path):
    x = np.random.default_rng(1).normal(size=(4, 5, 1)).astype("float32")
    logits = _tiny_dense(3, None)
    save(logits, tmp_path / "logits", embeddings=False)
    z = logits(x).numpy().astype(np.float64)
    softmax = np.exp(z - z.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    np.testing.assert_allclose(load(tmp_path / "logits")(x)["probabilities"], softmax, rtol=1e-5)
    sigmoid = _tiny_dense(1, "sigmoid")
    save(sigmoid, tmp_path / "sigmoid", class_names=["neg", "pos"], embeddings=False)
    p = sigmoid(x).numpy()[:, 0]
    np.testing.assert_allclose(load(tmp_path / "sigmoid")(x)["probabilities"], np.stack([1 - p, p], 1), rtol=1e-5)
    with pytest.raises(ValueError, match=r"3 class names \['a', 'b', 'c'\] for a model with 2 classes"):
        save(sigmoid, tmp_path / "wrong", class_names=["a", "b", "c"])


def test_preprocessing_given_separately_is_baked_in(tmp_path):
    rng = np.random.default_rng(4)
    train = (rng.random((10, 6, 6, 1)) * 50 + 10).astype("float32")
    preprocessing = fit_preprocessing(train, percentiles=(1, 99))
    network = tiny_network((6, 6, 1), 2, keras.layers.Identity(), seed=6)
    meta = save(network, tmp_path / "e", preprocessing=preprocessing, embeddings=False)
    steps = [s["step"] for s in meta["preprocessing"]["in_graph"]]
    assert steps == ["cast", "nan_policy", "percentile_clip", "normalization"]  # float32 input: NaN refused
    x = (rng.random((3, 6, 6, 1)) * 50 + 10).astype("float32")
    expected = network(preprocessing(x, training=False), training=False).numpy()
    np.testing.assert_allclose(load(tmp_path / "e")(x)["probabilities"], expected, rtol=1e-5, atol=1e-6)


def test_existing_paths_and_failed_exports(exports, tmp_path, monkeypatch):
    root, found = exports
    model = _tiny_dense(2, "softmax")
    target = tmp_path / "export"
    save(model, target, class_names=["a", "b"], embeddings=False)
    with pytest.raises(FileExistsError, match="already holds a biocnn export. Pass overwrite=True"):
        save(model, target, embeddings=False)

    # A failure while writing leaves the previous export as it was and no temporary folder.
    def broken(folder, metadata):
        raise OSError("disk full")

    monkeypatch.setattr(metadata_module, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        save(model, target, class_names=["c", "d"], embeddings=False, overwrite=True)
    with pytest.raises(OSError, match="disk full"):
        save(model, tmp_path / "new", embeddings=False)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["export"]
    assert load(target).class_names == ["a", "b"]

    save(model, target, class_names=["c", "d"], embeddings=False, overwrite=True)
    assert load(target).class_names == ["c", "d"]

    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="is not a biocnn export .* will not write into it or delete it"):
        save(model, other, overwrite=True)
    assert (other / "todo.txt").read_text() == "keep me"


def test_load_refuses_what_is_not_a_biocnn_export(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such export directory"):
        load(tmp_path / "missing")
    with pytest.raises(ValueError, match="is not a biocnn export: it has no biocnn_export.json. It is a folder"):
        load(tmp_path)
    (tmp_path / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ValueError, match="It is a SavedModel without biocnn's metadata"):
        load(tmp_path)
    (tmp_path / "biocnn_export.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="is not a biocnn export description"):
        load(tmp_path)


def test_from_run_exports_a_run_directory_with_rc_average(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    encoding = Encoding("dna", length=10, align="end")
    model = tiny_network((10, 4), 2, augment.ReverseComplement(seed=0), seed=4)
    model.save(run / "model.keras")
    config = {"class_names": ["bound", "unbound"], "encoding": encoding.to_dict(), "seed": 4,
              "test_time": {"rc_average": True}, "data": {"train": {"samples": 10}}, "augmentation": {"x": 1}}
    (run / "config.json").write_text(json.dumps(config))
    (run / "metrics.json").write_text(json.dumps({"test": {"accuracy": 0.75, "auroc": None}}))

    class Args:
        export = str(tmp_path / "exported")
        overwrite = False

    check_export_argument(Args)
    meta = export_run(Args, str(run))
    assert meta["training"]["metrics"] == {"test": {"accuracy": 0.75, "auroc": None}}
    assert meta["source"]["run_directory"] == str(run) and meta["source"]["trained_with_augmentation"]
    exported = load(Args.export)
    sequences = ["ACGTACGTAAGGT", "ttgca", "NRYACGTACG"]
    x = encoding.encode(sequences)
    expected = (model(x, training=False).numpy() + model(reverse_complement(x), training=False).numpy()) / 2
    np.testing.assert_allclose(exported(sequences)["probabilities"], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(FileExistsError, match="already holds a biocnn export"):
        check_export_argument(Args)
    os.remove(run / "model.keras")
    with pytest.raises(ValueError, match="has no model.keras: its training has not finished"):
        from_run(run, tmp_path / "again")


def test_docstring_examples_run():
    import doctest

    import biocnn.export
    import biocnn.serialization
    from biocnn.export import allowlist, cli, runfacts, savedmodel, sequence_graph

    for module in (sequence_graph, metadata_module, cli, savedmodel, runfacts, allowlist, biocnn.export,
                   biocnn.serialization):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0, module.__name__
