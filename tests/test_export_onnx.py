"""ONNX exports: every registered model in every rank, exports with in-graph preprocessing, refusals.

The reference is TensorFlow itself (the Keras model in inference mode, or the export's
SavedModel signature); onnxruntime runs the converted file on the same batch.
"""

import json
import os

import keras
import numpy as np
import pytest

pytest.importorskip("tf2onnx")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from biocnn import export, models  # noqa: E402
from biocnn.data import Encoding  # noqa: E402
from biocnn.data.preprocess import fit_preprocessing  # noqa: E402
from biocnn.export.onnx import onnx_session  # noqa: E402
from test_zoo import TINY_OPTIONS, TINY_SHAPES  # noqa: E402  (one list of tiny options for the zoo)

ATOL = 1e-4




def _cases():
    return [(name, rank) for name, ranks in models.available().items() for rank in ranks]


def _run(path, name, x):
    session = onnx_session(path)
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {name: x})))


@pytest.mark.parametrize("name, rank", _cases())
def test_every_registered_model_converts_with_parity_in_every_rank(name, rank, tmp_path):
    keras.backend.clear_session()
    shape = TINY_SHAPES[rank]
    model = models.create(name, shape, 3, **TINY_OPTIONS[name])
    info = export.to_onnx(model, tmp_path / "m.onnx")
    assert info["input"] == {"name": "input", "dtype": "float32", "shape": ["batch", *shape]}
    assert info["max_abs_difference"]["output"] < ATOL
    # An independent batch (not the probe): normal values, another batch size.
    x = np.random.default_rng(1).normal(size=(3, *shape)).astype("float32")
    got = _run(tmp_path / "m.onnx", "input", x)["output"]
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(model(x, training=False)), atol=ATOL, rtol=0)


def test_image_export_with_percentile_clip_and_normalisation_carries_them(tmp_path):
    rng = np.random.default_rng(0)
    model = models.create("lenet5", (12, 12, 2), 2, width_multiplier=0.5)
    train = (rng.random((20, 12, 12, 2)) * [1.0, 40.0]).astype("float32")
    preprocessing = fit_preprocessing(train, percentiles=(1.0, 99.0))
    export.save(model, tmp_path / "exp", class_names=["a", "b"], preprocessing=preprocessing)
    info = export.to_onnx(tmp_path / "exp", tmp_path / "cells.onnx")
    assert info["outputs"] == ["class_index", "probabilities"]
    steps = [s["step"] for s in info["preprocessing_in_graph"]]
    assert steps[0] == "cast" and steps[-2:] == ["percentile_clip", "normalization"]  # reader steps first

    # Raw intensities in (second channel in the hundreds): the ONNX graph clips and normalises itself.
    x = (rng.random((4, 12, 12, 2)) * [1.0, 300.0]).astype("float32")
    got = _run(tmp_path / "cells.onnx", "image", x)
    expected = keras.ops.convert_to_numpy(model(preprocessing(x), training=False))
    np.testing.assert_allclose(got["probabilities"], expected, atol=ATOL, rtol=0)
    np.testing.assert_array_equal(got["class_index"], expected.argmax(1))
    props = {p.key: p.value for p in onnx.load(tmp_path / "cells.onnx").metadata_props}
    assert json.loads(props["biocnn_class_names"]) == ["a", "b"]
    assert json.loads(props["biocnn_export"])["modality"] == "image"


def test_sequence_export_converts_its_one_hot_signature_with_rc_average(tmp_path):
    encoding = Encoding("dna", length=20)
    model = models.create("deepbind", (20, 4), 2, **TINY_OPTIONS["deepbind"])
    export.save(model, tmp_path / "exp", encoding=encoding, rc_average=True)
    info = export.to_onnx(tmp_path / "exp", tmp_path / "seq.onnx", outputs=["probabilities"])
    assert info["input"]["name"] == "one_hot" and info["outputs"] == ["probabilities"]
    x = encoding.encode(["ACGTACGTACGTACGTACGT", "TTTTGGGGCCCCAAAANNAC"]).astype("float32")
    forward = keras.ops.convert_to_numpy(model(x, training=False))
    reverse = keras.ops.convert_to_numpy(model(x[:, ::-1, ::-1], training=False))
    np.testing.assert_allclose(_run(tmp_path / "seq.onnx", "one_hot", x)["probabilities"],
                               (forward + reverse) / 2, atol=ATOL, rtol=0)


def test_refusals_name_the_problem(tmp_path):
    model = models.create("mlp", (6, 1), 2, hidden_units=(4,))
    (tmp_path / "taken.onnx").write_bytes(b"not mine")
    with pytest.raises(FileExistsError, match=r"taken\.onnx' already exists.*overwrite=True"):
        export.to_onnx(model, tmp_path / "taken.onnx")
    assert (tmp_path / "taken.onnx").read_bytes() == b"not mine"
    with pytest.raises(ValueError, match=r"is not a biocnn export"):
        export.to_onnx(tmp_path, tmp_path / "x.onnx")
    export.save(models.create("mlp", (8, 4), 2, hidden_units=(4,)), tmp_path / "seq",
                encoding=Encoding("dna", length=8))
    with pytest.raises(ValueError, match=r"signature 'serving_default' takes raw strings.*signature='encoded'"):
        export.to_onnx(tmp_path / "seq", tmp_path / "x.onnx", signature="serving_default")
    with pytest.raises(ValueError, match=r"outputs \['logits'\].*has \['class_index', 'probabilities'\]"):
        export.to_onnx(tmp_path / "seq", tmp_path / "x.onnx", outputs=["logits"])
    with pytest.raises(ValueError, match=r"differ from TensorFlow's by .*'.*y\.onnx' was not written"):
        export.to_onnx(model, tmp_path / "y.onnx", atol=-1.0)
    assert not os.path.exists(tmp_path / "y.onnx")


def test_docstring_examples_run():
    import doctest

    from biocnn.export import onnx as onnx_module

    assert doctest.testmod(onnx_module, optionflags=doctest.ELLIPSIS).failed == 0
