"""compare_architectures: two models, same seed and budget, from an .npz and from IDX files."""

import gzip
import importlib.util
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "pipelines", "compare_architectures.py")
BREAST = os.path.join(ROOT, "datasets", "medmnist", "breastmnist.npz")
TINY_MODELS = ["lenet5:width_multiplier=0.5", "mlp:hidden_units=(16,)"]


def _pipeline():
    spec = importlib.util.spec_from_file_location("compare_architectures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pipeline():
    return _pipeline()


@pytest.fixture(scope="module")
def breast():
    with np.load(BREAST) as source:
        return {key: source[key] for key in source.files}


@pytest.fixture(scope="module")
def small_npz(breast, tmp_path_factory):
    sizes = {"train": 64, "val": 24, "test": 32}
    arrays = {}
    for split, n in sizes.items():
        arrays[f"{split}_images"] = breast[f"{split}_images"][:n]
        arrays[f"{split}_labels"] = breast[f"{split}_labels"][:n]
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, **arrays)
    return str(path)


@pytest.fixture(scope="module")
def npz_run(pipeline, small_npz, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "cmp")
    pipeline.main(["--npz", small_npz, "--models", *TINY_MODELS, "--epochs", "3", "--batch-size", "16",
                   "--target-error", "0.3", "--seed", "3", "--out", out])
    return out


def test_npz_run_writes_the_comparison(npz_run):
    assert {"config.json", "comparison.csv", "summary.csv", "learning_curves.png",
            "lenet5_width_multiplier_0.5_seed3", "mlp_hidden_units_16_seed3"} <= set(os.listdir(npz_run))
    table = pd.read_csv(os.path.join(npz_run, "comparison.csv"))
    assert table["model"].tolist() == TINY_MODELS
    assert (table["seed"] == 3).all() and (table["epochs_run"] == 3).all()
    for column in ("params", "best_val_accuracy", "test_accuracy", "test_auroc", "seconds",
                   "epochs_to_train_error_0.3", "seconds_to_train_error_0.3"):
        assert column in table
    assert table["params"].tolist() == [
        # LeNet-5 at half width on 28x28 ('valid'): 3, 8 filters, 60, 42 units, 2 classes.
        (25 * 3 + 3) + (25 * 3 * 8 + 8) + (4 * 4 * 8 * 60 + 60) + (60 * 42 + 42) + (42 * 2 + 2),
        (784 * 16 + 16) + (16 * 2 + 2),
    ]
    with open(os.path.join(npz_run, "learning_curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_epochs_to_target_is_read_from_the_history(npz_run, pipeline):
    table = pd.read_csv(os.path.join(npz_run, "comparison.csv"))
    for i, slug in enumerate(("lenet5_width_multiplier_0.5", "mlp_hidden_units_16")):
        history = pd.read_csv(os.path.join(npz_run, f"{slug}_seed3", "history.csv"))
        np.testing.assert_allclose(history["train_error"], 1 - history["accuracy"])
        below = history.loc[history["train_error"] <= 0.3, "epoch"]
        expected = below.iloc[0] if len(below) else np.nan
        np.testing.assert_equal(table.loc[i, "epochs_to_train_error_0.3"], expected)
        assert history["seconds"].is_monotonic_increasing


def test_every_model_is_a_run_of_the_experiment_path(npz_run):
    """Each model and seed is one run directory with the one predictions table and metrics schema."""
    table = pd.read_csv(os.path.join(npz_run, "comparison.csv"))
    for i, slug in enumerate(("lenet5_width_multiplier_0.5", "mlp_hidden_units_16")):
        folder = os.path.join(npz_run, f"{slug}_seed3")
        assert {"biocnn_run.json", "config.json", "history.csv", "metrics.json", "model.keras", "predictions.csv",
                "per_class.csv", "confusion_matrix.csv"} <= set(os.listdir(folder))
        assert "checkpoints" not in os.listdir(folder)  # a finished run keeps one copy of its weights
        predictions = pd.read_csv(os.path.join(folder, "predictions.csv"), dtype={"label": str, "predicted": str})
        assert list(predictions.columns) == ["id", "group", "split", "label", "predicted", "probability_0",
                                             "probability_1"]
        assert len(predictions) == 32 and (predictions["split"] == "test").all()
        np.testing.assert_allclose(predictions[["probability_0", "probability_1"]].sum(axis=1), 1.0, rtol=1e-5)
        metrics = json.load(open(os.path.join(folder, "metrics.json")))
        accuracy = (predictions["label"] == predictions["predicted"]).mean()
        assert metrics["test"]["accuracy"] == pytest.approx(accuracy)
        assert table.loc[i, "test_accuracy"] == pytest.approx(accuracy, abs=1e-6)
        assert metrics["best_epoch"] == table.loc[i, "best_epoch"]
        config = json.load(open(os.path.join(folder, "config.json")))
        assert config["class_names"] == ["0", "1"] and config["inputs"]["kind"] == "npz"


def test_first_epoch_below():
    pipeline = _pipeline()
    history = pd.DataFrame({"epoch": [1, 2, 3, 4], "accuracy": [0.5, 0.7, 0.76, 0.9]})
    assert pipeline.first_epoch_below(history, 0.25) == 3  # 1 - 0.76 = 0.24
    assert pipeline.first_epoch_below(history, 0.05) is None


def test_same_seed_same_result(npz_run, pipeline, small_npz, tmp_path):
    out = str(tmp_path / "again")
    pipeline.main(["--npz", small_npz, "--models", TINY_MODELS[1], "--epochs", "3", "--batch-size", "16",
                   "--target-error", "0.3", "--seed", "3", "--out", out])
    first = pd.read_csv(os.path.join(npz_run, "mlp_hidden_units_16_seed3", "history.csv"))
    again = pd.read_csv(os.path.join(out, "mlp_hidden_units_16_seed3", "history.csv"))
    np.testing.assert_allclose(again["loss"], first["loss"], rtol=1e-5)


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    with open(path, "wb") as f:
        f.write(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return str(path)


def test_idx_files_with_a_seeded_validation_split(pipeline, breast, tmp_path):
    images, labels = breast["train_images"][:80], breast["train_labels"][:80].ravel()
    files = {
        "--idx-images": _write_idx(tmp_path / "train-images-idx3-ubyte.gz", images),
        "--idx-labels": _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels),
        "--idx-test-images": _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", breast["test_images"][:20]),
        "--idx-test-labels": _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", breast["test_labels"][:20].ravel()),
    }
    out = str(tmp_path / "idx_run")
    args = [a for pair in files.items() for a in pair]
    pipeline.main([*args, "--val-fraction", "0.25", "--models", TINY_MODELS[1], "--epochs", "1", "--out", out])
    config = json.load(open(os.path.join(out, "config.json")))
    assert {s: config["data"][s]["samples"] for s in ("train", "val", "test")} == {"train": 60, "val": 20, "test": 20}
    assert config["data"]["train"]["input_shape"] == [28, 28, 1]
    table = pd.read_csv(os.path.join(out, "comparison.csv"))
    assert 0.0 <= table["test_accuracy"].iloc[0] <= 1.0


def test_bad_spec_and_existing_output_are_one_line_errors(npz_run, tmp_path):
    result = subprocess.run([sys.executable, SCRIPT, "--models", "lenet5", "lenet:activation=tanh",
                             "--out", str(tmp_path / "x")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "--models 'lenet:activation=tanh': unknown model name 'lenet'. Did you mean 'lenet5'?" in result.stderr
    assert not os.path.exists(tmp_path / "x")
    with pytest.raises(FileExistsError, match=r"already holds a run.*--overwrite"):
        _pipeline().main(["--models", "mlp", "--out", npz_run])


def test_a_model_that_fails_before_training_leaves_nothing_behind(small_npz, tmp_path):
    from biocnn import cli

    out = tmp_path / "failed"
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(_pipeline().main, ["--npz", small_npz, "--models", "mlp:hidden_units=(0,)", "--epochs", "1",
                                        "--out", str(out)])
    assert exit_info.value.code == 2 and not out.exists()
