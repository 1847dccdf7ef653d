"""pipelines/transfer_learning.py end to end on tiny data: run directory, exit codes, one error line."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import keras
import pytest

from biocnn import cli, transfer

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "pipelines", "transfer_learning.py")


def tiny_npz(path, spatial, counts=(8, 4, 4)):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in zip(("train", "val", "test"), counts):
        arrays[f"{split}_images"] = rng.integers(0, 255, (n, *spatial), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2)[:, None]
    np.savez(path, **arrays)
    return str(path)


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    # a backbone "pre-trained" here stands in for an ImageNet file: loaded by path, as one would be
    path = str(tmp_path_factory.mktemp("weights") / "mobilenetv2_0.35.weights.h5")
    transfer.save_application_weights(
        transfer.backbone("MobileNetV2", weights=None, input_shape=(32, 32, 3), alpha=0.35), path, alpha=0.35)
    return path


def test_2d_run_writes_the_run_directory(tmp_path, weights_file):
    data = tiny_npz(tmp_path / "tiny.npz", (28, 28))
    out = tmp_path / "run"
    result = run("--npz", data, "--backbone", "MobileNetV2", "--alpha", "0.35", "--weights", weights_file,
                 "--head-epochs", "1", "--epochs", "1", "--unfreeze", "1", "--batch-size", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("config.json", "history.csv", "metrics.json", "model.keras", "training_curves.png",
                 "predictions.csv", "per_class.csv", "confusion_matrix.csv", "roc.png"):
        assert (out / name).exists(), name
    history = pd.read_csv(out / "history.csv")
    assert list(history["phase"]) == ["head", "fine_tune"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["test"]["accuracy"] <= 1 and metrics["unfrozen_layers"] >= 1
    assert len(pd.read_csv(out / "predictions.csv")) == 4
    assert not (out / "checkpoints").exists()  # both phases' checkpoints go once the run has finished
    with pytest.raises(SystemExit) as exit_info:  # in process: the check comes before any model is built
        cli.run_main(pipeline().main, ["--npz", data, "--weights", weights_file, "--out", str(out)])
    assert exit_info.value.code == 2


def pipeline():
    spec = importlib.util.spec_from_file_location("transfer_learning", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bad_weights_path_is_one_error_line(tmp_path, capsys):
    data = tiny_npz(tmp_path / "tiny.npz", (28, 28), counts=(4, 2, 2))
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(pipeline().main, ["--npz", data, "--backbone", "VGG16", "--weights", str(tmp_path / "nope.h5"),
                                       "--out", str(tmp_path / "r")])
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "nope.h5" in errors[0] and "does not exist" in errors[0]


def test_volumes_get_the_inflated_backbone(tmp_path):
    module = pipeline()
    args = module.parse_args(["--npz", "unused.npz", "--backbone", "MobileNetV2", "--alpha", "0.35", "--weights", "none",
                              "--inflate-mode", "centre", "--unfreeze", "all", "--out", str(tmp_path / "r")])
    model = module.build_model(args, (6, 28, 28, 1), 2)
    assert model.input_shape == (None, 6, 28, 28, 1) and model.output_shape == (None, 2)
    assert model.get_layer("Conv1").kernel.shape == (3, 3, 3, 2, 16)  # 1 channel + the ones channel, depth 3
    assert args.unfreeze == "all" and len(transfer.backbone_blocks(model)) > 10
    assert isinstance(model.get_layer("expanded_conv_depthwise"), transfer.DepthwiseConv3D)
    assert model.get_layer("out_relu").output.shape[1] == 6 and args.inflate_depth_stride is False  # depth kept


def test_inflate_depth_stride_strides_the_depth_and_is_recorded(tmp_path):
    module = pipeline()
    args = module.parse_args(["--npz", "unused.npz", "--backbone", "MobileNetV2", "--alpha", "0.35", "--weights", "none",
                              "--inflate-depth-stride", "--out", str(tmp_path / "r")])
    model = module.build_model(args, (8, 28, 28, 1), 2)
    assert model.get_layer("block_1_depthwise").strides == (2, 2, 2)
    assert model.get_layer("out_relu").output.shape[1:4] == (1, 1, 1)  # 8 slices, strided 2 five times ('same')
    assert vars(args)["inflate_depth_stride"] is True  # vars(args) is config.json's "arguments"
    # on 2D images nothing is inflated: the 3D-only options are refused, not ignored
    for flags in (["--inflate-depth-stride"], ["--inflate-pointwise-depth", "1"]):
        args = module.parse_args(["--npz", "unused.npz", "--backbone", "MobileNetV2", "--alpha", "0.35", "--weights",
                                  "none", *flags, "--out", str(tmp_path / "r")])
        with pytest.raises(ValueError, match=rf"^{flags[0]}: for volumes .* 2D images of shape \(28, 28, 1\)"):
            module.build_model(args, (28, 28, 1), 2)


def test_random_weights_train_end_to_end_in_one_phase(tmp_path):
    data = tiny_npz(tmp_path / "tiny.npz", (28, 28))
    out = tmp_path / "scratch"
    cli.run_main(pipeline().main, ["--npz", data, "--backbone", "MobileNetV2", "--alpha", "0.35", "--weights", "none",
                                   "--bn-momentum", "0.5", "--epochs", "2", "--batch-size", "4", "--out", str(out)])
    history = pd.read_csv(out / "history.csv")
    assert "phase" not in history and list(history["epoch"]) == [1, 2]
    config = json.loads((out / "config.json").read_text())
    assert config["training_mode"] == "end to end from random weights"
    model = keras.saving.load_model(out / "model.keras")
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.momentum == 0.5 and layer.trainable for layer in norms)
    # batch norm was trained: its moving statistics left their initial values (mean 0)
    assert any(np.abs(layer.moving_mean.numpy()).max() > 0 for layer in norms)
