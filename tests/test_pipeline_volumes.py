"""pipelines/classify_volumes.py on tiny generated volumes: npz, HDF5 and a CSV of files.

One run is a subprocess, as a user runs it; the others call ``main`` in this process (no second
TensorFlow start-up). Bad input must end in one actionable ``error:`` line with exit code 2.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "pipelines", "classify_volumes.py")
TINY = ["--batch-size", "8", "--examples", "4"]
RESNET = ["--model", "resnet18:width_multiplier=0.125"]  # the default model, made small
MLP = ["--model", "mlp"]  # quick to build, for the runs that test the data paths


def _load_pipeline():
    spec = importlib.util.spec_from_file_location("classify_volumes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pipeline = _load_pipeline()


def bright_or_dark(n, shape, seed):
    """Class 1 volumes are brighter: a task a network learns in one or two epochs."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    volumes = rng.normal(100.0, 20.0, size=(n, *shape)) + 150.0 * labels[:, None, None, None]
    return volumes.astype(np.float32), labels


def run_main(argv, capsys):
    """Run the pipeline in this process; returns (exit code, stdout, stderr)."""
    try:
        pipeline.cli.run_main(pipeline.main, argv)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def npz_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("npz")
    arrays = {}
    for split, n, seed in (("train", 32, 0), ("val", 8, 1), ("test", 12, 2)):
        x, y = bright_or_dark(n, (8, 8, 8), seed)
        arrays[f"{split}_images"] = np.clip(x, 0, 255).astype(np.uint8)
        arrays[f"{split}_labels"] = y[:, None].astype(np.uint8)
    np.savez(folder / "tiny3d.npz", **arrays)
    out = str(folder / "run")
    result = subprocess.run(
        [sys.executable, SCRIPT, "--npz", str(folder / "tiny3d.npz"), "--class-names", "dark", "bright",
         "--epochs", "2", "--augment", "--seed", "3", "--out", out, *TINY, *RESNET],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return out, result


def test_help_names_every_data_source(capsys):
    code, stdout, _ = run_main(["--help"], capsys)
    assert code == 0
    for flag in ("--npz", "--hdf5", "--key", "--csv", "--model", "--augment", "--shape", "--window",
                 "--nan-policy", "--stream", "--epochs", "--seed", "--out"):
        assert flag in stdout
    assert "AdrenalMNIST3D" in stdout


def test_npz_run_directory(npz_run):
    out, result = npz_run
    assert result.stderr.strip() == ""
    assert "test: accuracy" in result.stdout and "resnet18" in result.stdout
    assert {"config.json", "history.csv", "metrics.json", "model.keras", "training_curves.png", "predictions.csv",
            "per_class.csv", "confusion_matrix.png", "roc.png", "slices.png"} <= set(os.listdir(out))
    with open(os.path.join(out, "slices.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["class_names"] == ["dark", "bright"]
    assert config["data"]["train"]["input_shape"] == [8, 8, 8, 1]
    assert config["preprocessing"] == {"nan_policy": "raise", "window": None, "target_shape": None}
    assert config["augmentation"] is not None and config["arguments"]["augment"] == "volume"
    predictions = pd.read_csv(os.path.join(out, "predictions.csv"))
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert len(predictions) == 12 == metrics["test"]["num_samples"]
    assert metrics["test"]["accuracy"] == pytest.approx(np.mean(predictions["label"] == predictions["predicted"]))
    assert list(pd.read_csv(os.path.join(out, "history.csv"))["epoch"]) == [1, 2]


def test_saved_model_takes_raw_volumes(npz_run):
    import keras

    out, _ = npz_run
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    predictions = pd.read_csv(os.path.join(out, "predictions.csv"))
    x = np.load(os.path.join(os.path.dirname(out), "tiny3d.npz"))["test_images"][..., None] / np.float32(255)
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 1], predictions["probability_bright"], rtol=1e-4, atol=1e-5)


def test_hdf5_streamed_with_groups_window_and_resampling(tmp_path, capsys):
    volumes, labels = bright_or_dark(40, (10, 9, 9), seed=4)
    with h5py.File(tmp_path / "ct.h5", "w") as f:
        f["volumes"] = volumes - 100.0  # "Hounsfield units"
        f["labels"] = labels
        f["patients"] = np.repeat(np.arange(20), 2)
    out = tmp_path / "run"
    code, stdout, stderr = run_main(
        ["--hdf5", str(tmp_path / "ct.h5"), "--key", "volumes", "--labels-key", "labels", "--groups-key", "patients",
         "--window", "50", "400", "--shape", "8", "8", "8", "--stream", "--epochs", "1", "--out", str(out), *TINY, *MLP],
        capsys)
    assert code == 0, stderr
    config = json.load(open(out / "config.json"))
    assert config["inputs"]["streamed"] is True
    assert config["data"]["test"]["input_shape"] == [8, 8, 8, 1]
    assert config["preprocessing"] == {"nan_policy": "raise", "window": [50.0, 400.0], "target_shape": [8, 8, 8]}
    sizes = {s: config["data"][s]["samples"] for s in ("train", "val", "test")}
    assert sum(sizes.values()) == 40 and all(n % 2 == 0 for n in sizes.values())  # patients kept whole
    test_ids = pd.read_csv(out / "predictions.csv")["id"].astype(int)  # stack indices; patient = index // 2
    assert len(test_ids) == sizes["test"] and ((test_ids // 2).value_counts() == 2).all()


def test_csv_of_nifti_files(tmp_path, capsys):
    nibabel = pytest.importorskip("nibabel")
    volumes, labels = bright_or_dark(24, (8, 8, 8), seed=5)
    rows = ["path,label,group"]
    for i, (volume, label) in enumerate(zip(volumes, labels)):
        nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), tmp_path / f"case{i}.nii.gz")
        rows.append(f"case{i}.nii.gz,{'tumour' if label else 'normal'},p{i // 2}")
    (tmp_path / "cases.csv").write_text("\n".join(rows) + "\n")
    code, stdout, stderr = run_main(["--csv", str(tmp_path / "cases.csv"), "--epochs", "1", "--out",
                                     str(tmp_path / "run"), *TINY, *MLP], capsys)
    assert code == 0, stderr
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert set(predictions["label"]) <= {"normal", "tumour"} and predictions["id"].str.endswith(".nii.gz").all()
    assert os.path.isfile(tmp_path / "run" / "slices.png")


# --- bad input: one line, exit code 2, nothing written ---------------------------------------


@pytest.fixture
def ct_h5(tmp_path):
    volumes, labels = bright_or_dark(20, (8, 8, 8), seed=6)
    with h5py.File(tmp_path / "ct.h5", "w") as f:
        f["volumes"] = volumes
        f["labels"] = labels
    return tmp_path / "ct.h5"


def _fails(argv, capsys, tmp_path):
    code, _, stderr = run_main([*argv, "--out", str(tmp_path / "run"), *TINY, *MLP], capsys)
    assert code == 2 and stderr.startswith("error: ") and stderr.strip().count("\n") == 0
    assert not os.path.exists(tmp_path / "run")
    return stderr


def test_missing_key(ct_h5, capsys, tmp_path):
    stderr = _fails(["--hdf5", str(ct_h5), "--key", "images", "--labels-key", "labels"], capsys, tmp_path)
    assert "no dataset or group 'images'. The file holds: 'labels' (20,) int64, 'volumes' (20, 8, 8, 8) float32" in stderr


def test_nan_volume(ct_h5, capsys, tmp_path):
    with h5py.File(ct_h5, "r+") as f:
        f["volumes"][7, 0, 0, 0] = np.nan
    stderr = _fails(["--hdf5", str(ct_h5), "--key", "volumes", "--labels-key", "labels"], capsys, tmp_path)
    assert "ct.h5:volumes[7]: 1 of 512 voxels are NaN or infinite" in stderr and "'zero'" in stderr


def test_label_table_mismatch(ct_h5, capsys, tmp_path):
    (tmp_path / "labels.csv").write_text("label\n" + "0\n1\n" * 9)
    stderr = _fails(["--hdf5", str(ct_h5), "--key", "volumes", "--csv", str(tmp_path / "labels.csv")], capsys, tmp_path)
    assert "labels.csv has 18 rows but" in stderr and "holds 20 volumes" in stderr


def test_mixed_shapes_without_resampling(tmp_path, capsys):
    rows = ["path,label"]
    for i in range(20):
        np.save(tmp_path / f"v{i}.npy", np.zeros((8 + (i == 5), 8, 8), np.float32))
        rows.append(f"v{i}.npy,{i % 2}")
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    stderr = _fails(["--csv", str(tmp_path / "t.csv")], capsys, tmp_path)
    assert "different shapes: 8x8x8 (1 channel(s)) in 19 volume(s)" in stderr and "9x8x8 (1 channel(s)) in 1 volume(s) (e.g. v5.npy)" in stderr
    assert "--shape D H W" in stderr


def test_truncated_file(tmp_path, capsys):
    np.savez(tmp_path / "t.npz", train_images=np.zeros((40, 8, 8, 8), np.uint8))
    data = open(tmp_path / "t.npz", "rb").read()
    open(tmp_path / "t.npz", "wb").write(data[: len(data) // 2])
    stderr = _fails(["--npz", str(tmp_path / "t.npz")], capsys, tmp_path)
    assert "t.npz: not a readable .npz archive" in stderr
