"""pipelines/predict.py, run as a user runs it, on tiny exports and hand-made lab files."""

import importlib.util
import json
import os

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from biocnn.data import Encoding
from biocnn.data.preprocess import fit_preprocessing, resize, with_preprocessing
from biocnn.export import from_run, save

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "pipelines", "predict.py")
ENCODING = Encoding("dna", length=10, align="start", unknown="zeros")


def _pipeline():
    spec = importlib.util.spec_from_file_location("predict_pipeline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(capsys, *args):
    """``main`` as the script runs it; returns (exit code, stdout, stderr)."""
    code = 0
    pipeline = _pipeline()
    try:
        pipeline.cli.run_main(pipeline.main, [str(a) for a in args])
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _network(shape, classes, seed):
    keras.utils.set_random_seed(seed)
    conv = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}[len(shape) - 1]
    return keras.Sequential([keras.Input(shape), conv(3, 3, padding="same"), keras.layers.BatchNormalization(),
                             keras.layers.ReLU(), keras.layers.Flatten(), keras.layers.Dropout(0.5),
                             keras.layers.Dense(classes, activation="softmax")])


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    rng = np.random.default_rng(0)
    sequence = _network((10, 4), 2, seed=1)
    save(sequence, root / "seq", encoding=ENCODING, class_names=["bound", "unbound"], embeddings=False)

    # Images: a run directory whose reader resized to 8 x 8 and kept channels 0 and 2.
    image = with_preprocessing(fit_preprocessing(rng.random((8, 8, 8, 2)).astype("float32")),
                               _network((8, 8, 2), 3, seed=2))
    run = root / "image_run"
    run.mkdir()
    image.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"class_names": ["rbc", "wbc", "platelet"],
                                                 "inputs": {"size": [8, 8], "channels": [0, 2]}}))
    from_run(run, root / "image", embeddings=False)

    volume = _network((4, 6, 6, 1), 2, seed=3)
    save(volume, root / "volume", class_names=["normal", "hyperplasia"], embeddings=False,
         before_graph={"volume_preprocessing": {"nan_policy": "zero", "window": None, "target_shape": None}})
    return root, {"seq": sequence, "image": image, "volume": volume}


def test_fasta_predictions_equal_the_model(exports, tmp_path, capsys):
    root, models = exports
    records = {"r1": "ACGTACGTAC", "r2": "acgtnRYkac", "r3": "ACGTACGTACGTTTTT", "r4": "gat"}
    fasta = tmp_path / "reads.fa"
    fasta.write_text("".join(f">{k} sample\n{v}\n" for k, v in records.items()))
    code, out, err = _run(capsys, "--model", root / "seq", "--fasta", fasta, "--out", tmp_path / "preds.csv")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "preds.csv")
    assert list(table.columns) == ["id", "predicted", "probability_bound", "probability_unbound"]
    expected = models["seq"](ENCODING.encode(list(records.values())), training=False).numpy()
    np.testing.assert_allclose(table[["probability_bound", "probability_unbound"]], expected, rtol=1e-5, atol=1e-6)
    assert table["id"].tolist() == list(records)
    assert table["predicted"].tolist() == [["bound", "unbound"][i] for i in expected.argmax(1)]
    assert "4 predictions" in out


def test_csv_sequences_and_no_silent_overwrite(exports, tmp_path, capsys):
    root, models = exports
    table = tmp_path / "lab.csv"
    table.write_text("name,seq\nx1, ACGTTTGACA\nx2,ttttt\n")
    out = tmp_path / "preds.csv"
    args = ["--model", root / "seq", "--csv", table, "--sequence-column", "seq", "--id-column", "name", "--out", out]
    assert _run(capsys, *args)[0] == 0
    written = pd.read_csv(out)
    expected = models["seq"](ENCODING.encode(["ACGTTTGACA", "ttttt"]), training=False).numpy()
    np.testing.assert_allclose(written.iloc[:, 2:], expected, rtol=1e-5, atol=1e-6)
    code, _, err = _run(capsys, *args)
    assert code == 2 and err.strip() == f"error: '{out}' already exists. Pass --overwrite to replace it, or choose another --out."
    assert _run(capsys, *args, "--overwrite")[0] == 0
    code, _, err = _run(capsys, *args[:6], "--sequence-column", "sequence", "--out", tmp_path / "b.csv")
    assert code == 2 and "no column 'sequence' (--sequence-column); the columns are ['name', 'seq']" in err


def test_a_letter_outside_the_alphabet_names_the_record(exports, tmp_path, capsys):
    root, _ = exports
    fasta = tmp_path / "reads.fa"
    fasta.write_text(">ok\nACGT\n>bad1\nACUGT\n")
    code, _, err = _run(capsys, "--model", root / "seq", "--fasta", fasta, "--out", tmp_path / "preds.csv")
    assert code == 2
    assert f"{fasta}, record 2 ('bad1'): invalid letter 'U' at position 3 for the dna alphabet" in err
    # predict.py has no --alphabet: the fix names the export's alphabet instead.
    assert "U is RNA: this export was trained on DNA; predict them with a model trained on RNA." in err
    assert "--alphabet" not in err
    assert not (tmp_path / "preds.csv").exists()


def _png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_image_folder_is_read_as_in_training(exports, tmp_path, capsys):
    root, models = exports
    rng = np.random.default_rng(1)
    pixels = {"a/one.png": rng.integers(0, 256, (10, 12, 3), dtype=np.uint8),
              "b/two.png": rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)}
    for name, array in pixels.items():
        _png(tmp_path / "lab" / name, array)
    code, _, err = _run(capsys, "--model", root / "image", "--folder", tmp_path / "lab", "--out", tmp_path / "p.csv")
    assert code == 0, err
    # The run's reader: uint8 / 255, channels 0 and 2, bilinear resize to 8 x 8.
    x = np.stack([resize(a[..., [0, 2]].astype(np.float32) / 255, (8, 8)) for a in pixels.values()])
    table = pd.read_csv(tmp_path / "p.csv")
    assert table["id"].tolist() == ["a/one.png", "b/two.png"]
    np.testing.assert_allclose(table.iloc[:, 2:], models["image"](x, training=False).numpy(), rtol=1e-5, atol=1e-6)

    np.savez(tmp_path / "lab.npz", test_images=np.stack(list(pixels.values())), test_labels=np.zeros(2))
    code, _, err = _run(capsys, "--model", root / "image", "--npz", tmp_path / "lab.npz", "--out", tmp_path / "n.csv")
    assert code == 0, err
    np.testing.assert_allclose(pd.read_csv(tmp_path / "n.csv").iloc[:, 2:], table.iloc[:, 2:], rtol=1e-6)


def test_volume_files_with_the_runs_nan_policy_and_resize(exports, tmp_path, capsys):
    root, models = exports
    rng = np.random.default_rng(2)
    volumes = [rng.random((4, 6, 6)).astype(np.float32) for _ in range(2)]
    volumes[1][0, 0, 0] = np.nan  # the run's policy: NaN -> 0
    paths = [tmp_path / f"v{i}.npy" for i in range(2)]
    for path, volume in zip(paths, volumes):
        np.save(path, volume)
    code, _, err = _run(capsys, "--model", root / "volume", "--volumes", *paths, "--out", tmp_path / "v.csv")
    assert code == 0, err
    x = np.nan_to_num(np.stack(volumes))[..., None]
    np.testing.assert_allclose(pd.read_csv(tmp_path / "v.csv").iloc[:, 2:], models["volume"](x, training=False).numpy(),
                               rtol=1e-5, atol=1e-6)

    np.save(tmp_path / "big.npy", rng.random((8, 12, 12)).astype(np.float32))
    code, _, err = _run(capsys, "--model", root / "volume", "--volumes", tmp_path / "big.npy", "--out", tmp_path / "b.csv")
    assert code == 2
    assert err.strip() == (
        f"error: '{tmp_path / 'big.npy'}' has shape (8, 12, 12, 1); this volume export takes 'volume' of shape "
        "(D, H, W, C) = (4, 6, 6, 1) per sample. Resize to 4 x 6 x 6 first (pipelines/predict.py --resize; "
        "biocnn.data.preprocess.resize in Python), as in training.")
    code, _, err = _run(capsys, "--model", root / "volume", "--volumes", tmp_path / "big.npy", "--resize",
                        "--out", tmp_path / "b.csv")
    assert code == 0, err


def test_wrong_kind_of_input_and_a_folder_that_is_not_an_export(exports, tmp_path, capsys):
    root, _ = exports
    fasta = tmp_path / "reads.fa"
    fasta.write_text(">r1\nACGT\n")
    code, _, err = _run(capsys, "--model", root / "image", "--fasta", fasta, "--out", tmp_path / "p.csv")
    assert code == 2
    assert "takes images of shape (8, 8, 2); give one of --folder, --images, --csv, --npz, --h5 (got --fasta)." in err
    code, _, err = _run(capsys, "--model", tmp_path, "--fasta", fasta, "--out", tmp_path / "p.csv")
    assert code == 2 and f"'{tmp_path}' is not a biocnn export: it has no biocnn_export.json" in err


def test_trust_export_reaches_the_loader(monkeypatch):
    from biocnn import export
    from biocnn.commands import predict
    from biocnn.data.genome import LAST_WINDOW_POLICIES

    assert predict.LAST_WINDOW_POLICIES == LAST_WINDOW_POLICIES
    calls = []

    def load(path, trust_export=False):
        calls.append((path, trust_export))
        raise ValueError("stop here")

    monkeypatch.setattr(export, "load", load)
    for flags, trusted in (([], False), (["--trust-export"], True)):
        with pytest.raises(ValueError, match="stop here"):
            predict.main(["--model", "e", "--fasta", "x.fa", *flags])
        assert calls[-1] == ("e", trusted)
