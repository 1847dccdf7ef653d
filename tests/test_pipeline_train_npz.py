"""The main job, run as a user runs it: a subprocess on a small slice of BreastMNIST."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "pipelines", "train_npz.py")


def _run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    source = np.load(os.path.join(ROOT, "datasets", "medmnist", "breastmnist.npz"))
    sizes = {"train": 96, "val": 32, "test": 48}
    arrays = {}
    for split, n in sizes.items():
        arrays[f"{split}_images"] = source[f"{split}_images"][:n]
        arrays[f"{split}_labels"] = source[f"{split}_labels"][:n]
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, **arrays)
    return str(path)


@pytest.fixture(scope="module")
def first_run(small_npz, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "run")
    result = _run("--npz", small_npz, "--epochs", "2", "--batch-size", "32", "--seed", "7", "--keep-checkpoints",
                  "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result


def test_help():
    result = _run("--help")
    assert result.returncode == 0
    assert "--out" in result.stdout and "--resume" in result.stdout and "BreastMNIST" in result.stdout


def test_run_directory_contract(first_run):
    out, result = first_run
    assert "test: accuracy" in result.stdout
    assert result.stderr.strip() == ""  # no TensorFlow start-up noise
    assert {"config.json", "history.csv", "metrics.json", "model.keras", "training_curves.png",
            "checkpoints", "predictions.csv", "per_class.csv", "confusion_matrix.csv",
            "confusion_matrix.png", "roc.png"} <= set(os.listdir(out))
    predictions = pd.read_csv(os.path.join(out, "predictions.csv"))
    assert len(predictions) == 48 and {"id", "group", "split", "label", "predicted", "probability_0", "probability_1"} <= set(predictions)
    accuracy = np.mean(predictions["label"] == predictions["predicted"])
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    for split in ("val", "test"):
        assert {"accuracy", "loss", "auroc", "auprc"} <= set(metrics[split])
        assert 0.0 <= metrics[split]["accuracy"] <= 1.0
    assert metrics["test"]["num_samples"] == 48
    assert metrics["test"]["accuracy"] == pytest.approx(accuracy)
    assert set(metrics["test"]["per_class"]) == {"0", "1"}
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["seed"] == 7 and config["arguments"]["epochs"] == 2
    assert config["versions"]["keras"].startswith("3.")
    history = pd.read_csv(os.path.join(out, "history.csv"))
    assert list(history["epoch"]) == [1, 2]
    assert {"loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"} <= set(history.columns)
    with open(os.path.join(out, "training_curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_saved_model_reproduces_the_reported_test_accuracy(first_run, small_npz):
    import keras

    from biocnn.data import load_npz_splits

    out, _ = first_run
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    x, y = load_npz_splits(small_npz)["test"]
    accuracy = float(np.mean(model.predict(x, verbose=0).argmax(1) == y))
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert accuracy == pytest.approx(metrics["test"]["accuracy"])


def test_existing_output_is_refused_then_resumed(first_run, small_npz):
    out, _ = first_run
    before = open(os.path.join(out, "metrics.json")).read()
    refused = _run("--npz", small_npz, "--epochs", "2", "--batch-size", "32", "--seed", "7", "--out", out)
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0
    assert refused.stderr.startswith("error: Output folder") and "--overwrite" in refused.stderr
    assert open(os.path.join(out, "metrics.json")).read() == before

    resumed = _run("--npz", small_npz, "--epochs", "3", "--batch-size", "32", "--seed", "7", "--keep-checkpoints",
                   "--out", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from epoch 2 of 3" in resumed.stdout
    assert list(pd.read_csv(os.path.join(out, "history.csv"))["epoch"]) == [1, 2, 3]


def test_bad_input_is_one_clear_line(tmp_path):
    result = _run("--npz", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: No such .npz file: '{tmp_path / 'missing.npz'}'."
    assert not os.path.exists(tmp_path / "run")
    result = _run("--model", "lenet", "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "Did you mean 'lenet5'" in result.stderr
