"""Seed and fold ensembles at prediction time: ``biocnn predict --run``, ``biocnn export --run PARENT``."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from biocnn import experiment
from biocnn.commands import export as export_command
from biocnn.commands import predict
from biocnn.export import ensemble_members, from_runs, load
from biocnn.rundir import RunDirectory
from biocnn.training import TrainingConfig


def _splits(seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(30) % 2
    x = rng.random((30, 5, 5, 1)).astype("float32")
    x[y == 1, :2] += 0.5
    return {"train": (x[:16], y[:16]), "val": (x[16:23], y[16:23]), "test": (x[23:], y[23:])}


def _train(folder, seed, class_names=("a", "b"), shape=(5, 5, 1)):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")],
                             name="tiny")
    splits = _splits(seed)
    if shape != (5, 5, 1):
        splits = {s: (np.resize(x, (len(x), *shape)).astype("float32"), y) for s, (x, y) in splits.items()}
    experiment.train_and_evaluate(RunDirectory(folder), model, splits, TrainingConfig(epochs=1, batch_size=8, seed=seed),
                                  class_names=list(class_names), verbose=0,
                                  extra_config={"inputs": {"raw_dtype": "float32"}})


@pytest.fixture(scope="module")
def seeds_parent(tmp_path_factory):
    parent = tmp_path_factory.mktemp("ens") / "seeds"
    for seed in (0, 1):
        _train(parent / f"seed_{seed}", seed)
    return parent


def _members_mean(parent, x, seeds=(0, 1)):
    outputs = [keras.saving.load_model(parent / f"seed_{s}" / "model.keras").predict(x, verbose=0) for s in seeds]
    return np.mean(outputs, axis=0)


def test_the_exported_ensemble_is_the_mean_of_the_members(seeds_parent, tmp_path):
    assert [p.rsplit("/", 1)[1] for p in ensemble_members([seeds_parent])] == ["seed_0", "seed_1"]
    export_command.main(["--run", str(seeds_parent), "--out", str(tmp_path / "ensemble")])
    exported = load(tmp_path / "ensemble")
    meta = json.loads((tmp_path / "ensemble" / "biocnn_export.json").read_text())
    assert meta["source"]["members"] == 2 and set(meta["training"]["metrics"]["members"]) == {"seed_0", "seed_1"}
    x = np.random.default_rng(5).random((6, 5, 5, 1)).astype("float32")
    np.testing.assert_allclose(exported(x)["probabilities"], _members_mean(seeds_parent, x), rtol=1e-5, atol=1e-6)


def test_predict_with_runs_averages_the_members_and_their_views(seeds_parent, tmp_path):
    x = np.random.default_rng(6).random((7, 5, 5, 1)).astype("float32")
    np.savez(tmp_path / "new.npz", images=x)
    predict.main(["--run", str(seeds_parent / "seed_1"), str(seeds_parent / "seed_0"), "--npz", str(tmp_path / "new.npz"),
                  "--out", str(tmp_path / "two.csv")])
    table = pd.read_csv(tmp_path / "two.csv")
    np.testing.assert_allclose(table[["probability_a", "probability_b"]].to_numpy(),
                               _members_mean(seeds_parent, x), rtol=1e-5, atol=1e-6)
    predict.main(["--run", str(seeds_parent), "--tta", "--npz", str(tmp_path / "new.npz"), "--out", str(tmp_path / "tta.csv")])
    views = [x, x[:, ::-1], x[:, :, ::-1], x[:, ::-1, ::-1]]
    expected = np.mean([_members_mean(seeds_parent, np.ascontiguousarray(v)) for v in views], axis=0)
    table = pd.read_csv(tmp_path / "tta.csv")
    np.testing.assert_allclose(table[["probability_a", "probability_b"]].to_numpy(), expected, rtol=1e-5, atol=1e-6)


def test_members_of_other_classes_or_shapes_are_refused_by_name(seeds_parent, tmp_path):
    _train(tmp_path / "other_classes", 3, class_names=("x", "y"))
    with pytest.raises(ValueError, match=r"member '.*other_classes' differs from '.*seed_0' in class_names: "
                                         r"\['x', 'y'\] vs \['a', 'b'\]"):
        from_runs([seeds_parent, tmp_path / "other_classes"], tmp_path / "bad")
    _train(tmp_path / "other_shape", 4, shape=(6, 5, 1))
    with pytest.raises(ValueError, match=r"other_shape' differs .* in model input shape: \[6, 5, 1\] vs \[5, 5, 1\]"):
        from_runs([seeds_parent / "seed_1", tmp_path / "other_shape"], tmp_path / "bad")
    with pytest.raises(ValueError, match="neither a finished run .* nor a parent of seed_K/ or fold_K/ runs"):
        ensemble_members([tmp_path])
    with pytest.raises(ValueError, match="--tta with --model"):
        predict.main(["--model", str(tmp_path), "--tta", "--npz", "x.npz", "--out", str(tmp_path / "p.csv")])


def test_a_cross_validation_with_tta_exports_its_folds_and_their_views(tmp_path):
    from biocnn import cv

    def build():
        return keras.Sequential([keras.Input((5, 5, 1)), keras.layers.Flatten(),
                                 keras.layers.Dense(2, activation="softmax")], name="tiny")

    x, y = (np.concatenate(a) for a in zip(*_splits(1).values()))
    folds = cv.assign_folds(y, cv=2, class_names=["a", "b"])
    for k, fold in enumerate(folds):  # cross_validate's folds, without its (bootstrap) report
        cv.run_fold(k, fold, build, x, y, str(tmp_path / "cv"), TrainingConfig(epochs=1, batch_size=8),
                    class_names=["a", "b"], tta="auto", extra_config={"inputs": {"raw_dtype": "float32"}})
    assert json.loads((tmp_path / "cv" / "fold_1" / "config.json").read_text())["test_time"]["tta"]["spec"] == "flips"
    meta = from_runs([tmp_path / "cv"], tmp_path / "folds")
    assert meta["outputs"]["tta"]["spec"] == "flips" and meta["source"]["members"] == 2
    folds = [keras.saving.load_model(tmp_path / "cv" / f"fold_{k}" / "model.keras") for k in (1, 2)]
    probe = np.random.default_rng(7).random((4, 5, 5, 1)).astype("float32")
    views = [probe, probe[:, ::-1], probe[:, :, ::-1], probe[:, ::-1, ::-1]]
    expected = np.mean([m.predict(np.ascontiguousarray(v), verbose=0) for m in folds for v in views], axis=0)
    np.testing.assert_allclose(load(tmp_path / "folds")(probe)["probabilities"], expected, rtol=1e-5, atol=1e-6)


def test_a_sequence_ensemble_encodes_in_the_graph_and_averages_both_strands(tmp_path):
    from biocnn.data import Encoding, reverse_complement

    encoding = Encoding("dna", length=9)
    members = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((9, 4)), keras.layers.Conv1D(3, 3), keras.layers.GlobalMaxPooling1D(),
                                  keras.layers.Dense(2, activation="softmax")], name="seq")
        folder = tmp_path / "seeds" / f"seed_{seed}"
        folder.mkdir(parents=True)
        model.save(folder / "model.keras")
        (folder / "config.json").write_text(json.dumps({
            "class_names": ["bound", "unbound"], "encoding": encoding.to_dict(), "seed": seed,
            "test_time": {"tta": {"spec": "rc", "views": [[], [1, 2]]}, "rc_average": True}}))
        members.append(model)
    meta = from_runs([tmp_path / "seeds"], tmp_path / "export")
    assert meta["outputs"]["rc_average"] and meta["input"]["name"] == "sequence"
    sequences = ["ACGTACGTA", "ttgcaNNac", "GGGCCCAAA"]
    x = encoding.encode(sequences)
    expected = np.mean([m.predict(v, verbose=0) for m in members for v in (x, reverse_complement(x))], axis=0)
    np.testing.assert_allclose(load(tmp_path / "export")(sequences)["probabilities"], expected, rtol=1e-5, atol=1e-6)
