"""pipelines/classify_images.py end to end on tiny generated image sets.

The pipeline runs in this process through ``cli.run_main`` as its command line does (a
subprocess would spend most of the test importing TensorFlow again): 16-bit OME-TIFFs
listed in a CSV with groups; a folder of PNGs, streamed; an npz; and every bad input.
"""

import importlib.util
import json
import os

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "pipelines", "classify_images.py")
CLASSES = ("platelet", "rbc", "wbc")


def _pipeline():
    spec = importlib.util.spec_from_file_location("classify_images", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cell(label_index, rng, size=16):
    """A 3-channel 16-bit image whose bright channel is the class: learnable in one epoch."""
    image = rng.integers(200, 400, size=(3, size, size)).astype(np.uint16)
    image[label_index, 4:12, 4:12] += 3000
    return image


@pytest.fixture(scope="module")
def tiff_csv(tmp_path_factory):
    root = tmp_path_factory.mktemp("cells")
    rng = np.random.default_rng(0)
    rows = []
    for smear in range(12):
        os.makedirs(root / f"smear{smear}", exist_ok=True)
        for c, label in enumerate(CLASSES):
            for k in range(2):
                path = f"smear{smear}/{label}_{k}.ome.tif"
                tifffile.imwrite(root / path, _cell(c, rng), ome=True, metadata={"axes": "CYX"})
                rows.append(f"{path},{label},smear{smear}")
    (root / "cells.csv").write_text("path,label,group\n" + "\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(1)
    for c, label in enumerate(CLASSES):
        os.makedirs(root / label)
        for k in range(10):
            image = np.moveaxis(_cell(c, rng), 0, -1) // 16  # 8-bit RGB
            Image.fromarray(image.astype(np.uint8)).save(root / label / f"{k}.png")
    return root


def test_csv_of_16bit_tiffs_end_to_end(tiff_csv, tmp_path, capsys):
    from biocnn import cli

    out = tmp_path / "run"
    with pytest.warns(DeprecationWarning, match="--model-option is an old spelling; write --model lenet5:pooling='avg'"):
        cli.run_main(_pipeline().main, [
            "--csv", str(tiff_csv / "cells.csv"), "--clip", "1", "99.8", "--model", "lenet5",
            "--model-option", "pooling='avg'", "--augment", "microscopy", "--epochs", "1",
            "--batch-size", "16", "--test-size", "0.25", "--val-size", "0.25", "--out", str(out),
            "--export", str(tmp_path / "export"),
        ])
    printed = capsys.readouterr().out
    assert "lenet5:" in printed and "test: accuracy" in printed and "wall time" in printed
    assert {"config.json", "metrics.json", "model.keras", "predictions.csv", "per_class.csv",
            "confusion_matrix.png", "roc.png", "training_curves.png", "misclassified.png"} <= set(os.listdir(out))

    config = json.load(open(out / "config.json"))
    assert config["class_names"] == list(CLASSES)
    assert config["inputs"]["input_shape"] == [16, 16, 3] and config["inputs"]["clip_percentiles"] == [1.0, 99.8]
    assert config["model_spec"] == {"name": "lenet5", "options": {"pooling": "avg"}}  # the old spelling, mapped
    predictions = pd.read_csv(out / "predictions.csv")
    test_smears = {p.split("/")[0] for p in predictions["id"]}
    assert len(predictions) == 6 * len(test_smears)  # whole smears: 3 classes x 2 crops each
    metrics = json.load(open(out / "metrics.json"))
    assert set(metrics["test"]["per_class"]) == set(CLASSES)

    # The saved model takes the file's raw intensities (scaled by the dtype maximum) and
    # reproduces the reported test accuracy: clipping and normalisation are inside it.
    import keras

    from biocnn.data import load_image

    model = keras.saving.load_model(out / "model.keras")
    x = np.stack([load_image(tiff_csv / p) for p in predictions["id"]])
    labels = predictions["label"].map(CLASSES.index).to_numpy()
    accuracy = float(np.mean(model.predict(x, verbose=0).argmax(1) == labels))
    assert accuracy == pytest.approx(metrics["test"]["accuracy"])

    # --export: the SavedModel serves the same scores from the same raw intensities.
    import biocnn

    served = biocnn.export.load(tmp_path / "export")
    expected = predictions[[f"probability_{c}" for c in CLASSES]].to_numpy()
    np.testing.assert_allclose(np.asarray(served(x)["probabilities"]), expected, atol=1e-5)


def test_folder_streamed_and_npz_runs_in_process(png_folder, tmp_path):
    pipeline = _pipeline()
    common = ["--model", "lenet5", "--epochs", "1", "--batch-size", "8"]
    pipeline.main(["--folder", str(png_folder), "--stream", "--size", "12", "12", *common, "--out", str(tmp_path / "f")])
    predictions = pd.read_csv(tmp_path / "f" / "predictions.csv")
    assert set(predictions["label"]) <= set(CLASSES)
    assert all(p.split("/")[0] == label for p, label in zip(predictions["id"], predictions["label"]))
    assert (tmp_path / "f" / "misclassified.png").stat().st_size > 0

    rng = np.random.default_rng(2)
    arrays = {}
    for split, n in (("train", 24), ("val", 8), ("test", 8)):
        labels = np.arange(n) % 2
        arrays[f"{split}_images"] = np.stack([_cell(c, rng)[0] // 16 for c in labels]).astype(np.uint8)
        arrays[f"{split}_labels"] = labels
    np.savez(tmp_path / "tiny.npz", **arrays)
    pipeline.main(["--npz", str(tmp_path / "tiny.npz"), "--class-names", "a", "b", *common, "--out", str(tmp_path / "n")])
    metrics = json.load(open(tmp_path / "n" / "metrics.json"))
    assert metrics["test"]["num_samples"] == 8 and set(metrics["test"]["per_class"]) == {"a", "b"}


def _copy_folder(source, target):
    import shutil

    shutil.copytree(source, target)
    return target


def test_bad_inputs_fail_before_training_with_actionable_errors(png_folder, tiff_csv, tmp_path):
    pipeline = _pipeline()
    out = tmp_path / "run"
    common = ["--model", "lenet5", "--epochs", "1", "--out", str(out)]

    corrupt = _copy_folder(png_folder, tmp_path / "corrupt")
    data = (corrupt / "rbc" / "3.png").read_bytes()
    (corrupt / "rbc" / "3.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"rbc/3\.png': cannot read the image, the file is corrupt or truncated"):
        pipeline.main(["--folder", str(corrupt), *common])

    empty = _copy_folder(png_folder, tmp_path / "empty")
    os.makedirs(empty / "monocyte")
    with pytest.raises(ValueError, match=r"Class folder '.*monocyte' has no image files"):
        pipeline.main(["--folder", str(empty), *common])

    mixed = _copy_folder(png_folder, tmp_path / "mixed")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(mixed / "wbc" / "grey.png")
    with pytest.raises(ValueError, match=r"different numbers of channels.*wbc/grey\.png.*--channels"):
        pipeline.main(["--folder", str(mixed), *common])

    csv = tiff_csv / "bad.csv"
    csv.write_text("path,label\nsmear0/rbc_0.ome.tif,rbc\nsmear0/gone.tif,rbc\n../../etc/passwd.png,wbc\n")
    with pytest.raises(ValueError) as error:
        pipeline.main(["--csv", str(csv), *common])
    assert "line 3: 'smear0/gone.tif'" in str(error.value) and "line 4: '../../etc/passwd.png'" in str(error.value)
    assert "lead outside the data root" in str(error.value)

    rows = [f"smear{s}/{c}_0.ome.tif,{c},{'train' if c != 'wbc' else 'test'}" for s in range(3) for c in CLASSES]
    rows += ["smear5/rbc_1.ome.tif,rbc,val"]
    csv.write_text("path,label,split\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"'wbc' \(3 in test\) have no training samples"):
        pipeline.main(["--csv", str(csv), *common])
    volumes = {f"{s}_{k}": np.zeros((2, 4, 5, 6), np.uint8) if k == "images" else np.array([0, 1])
               for s in ("train", "val", "test") for k in ("images", "labels")}
    np.savez(tmp_path / "volumes.npz", **volumes)
    with pytest.raises(ValueError, match=r"volumes\.npz: holds volumes, but this command takes images; use biocnn volumes"):
        pipeline.main(["--npz", str(tmp_path / "volumes.npz"), *common])
    assert not out.exists()  # nothing is written before the data is known to be good


def test_a_bad_input_is_one_error_line_for_the_user(tmp_path, capsys):
    from biocnn import cli

    with pytest.raises(SystemExit) as exit_code:
        cli.run_main(_pipeline().main, ["--folder", str(tmp_path / "none"), "--out", str(tmp_path / "run")])
    assert exit_code.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: Data root '{tmp_path / 'none'}' is not a folder."
