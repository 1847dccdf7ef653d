"""A finished run keeps one copy of its weights (model.keras); a killed run still resumes."""

import json
import os

import keras
import numpy as np
import pytest

from biocnn import experiment
from biocnn.errors import UserError
from biocnn.rundir import MARKER, RunDirectory
from biocnn.training import TrainingConfig


def _splits():
    rng = np.random.default_rng(0)
    y = np.arange(24) % 2
    x = rng.random((24, 4, 4, 1)).astype("float32") + y[:, None, None, None] * 0.5
    return {"train": (x[:12], y[:12]), "val": (x[12:18], y[12:18]), "test": (x[18:], y[18:])}


def _model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])


def _weights_files(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder) for root, _, names in os.walk(folder)
                  for name in names if name.endswith((".keras", ".h5")))


class _Killed(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == 2:
            raise KeyboardInterrupt("killed after epoch 2")


def test_a_finished_run_holds_one_copy_of_its_weights(tmp_path):
    run = RunDirectory(tmp_path / "fresh")
    experiment.train_and_evaluate(run, _model(), _splits(), TrainingConfig(epochs=3, batch_size=4), verbose=0)
    assert _weights_files(tmp_path / "fresh") == ["model.keras"]
    assert not os.path.exists(tmp_path / "fresh" / "checkpoints")
    marker = json.loads((tmp_path / "fresh" / MARKER).read_text())
    assert not any(f.startswith("checkpoints") for f in marker["files"] + marker["folders"])
    assert "checkpoints/state.json" in marker["removed"]
    with pytest.raises(UserError, match="it finished and kept only model.keras .* --keep-checkpoints"):
        experiment.train_and_evaluate(RunDirectory(tmp_path / "fresh", resume=True), _model(), _splits(),
                                      TrainingConfig(epochs=4, batch_size=4), verbose=0)


def test_a_killed_run_resumes_and_keep_checkpoints_keeps_them(tmp_path):
    folder = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        experiment.train_and_evaluate(RunDirectory(folder), _model(), _splits(), TrainingConfig(epochs=3, batch_size=4),
                                      verbose=0, callbacks=[_Killed()])
    assert os.path.exists(folder / "checkpoints" / "state.json") and not os.path.exists(folder / "model.keras")
    result = experiment.train_and_evaluate(RunDirectory(folder, resume=True), _model(), _splits(),
                                           TrainingConfig(epochs=3, batch_size=4), verbose=0)
    assert result.training.resumed_from == 2 and len(result.training.history) == 3
    assert _weights_files(folder) == ["model.keras"]

    experiment.train_and_evaluate(RunDirectory(tmp_path / "kept2"), _model(), _splits(),
                                  TrainingConfig(epochs=2, batch_size=4), verbose=0, keep_checkpoints=True)
    assert "model.keras" in _weights_files(tmp_path / "kept2") and os.path.exists(
        tmp_path / "kept2" / "checkpoints" / "state.json")


def test_only_recorded_files_are_removed(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.folder("checkpoints")
    run.write_text("checkpoints/state.json", "{}")
    (tmp_path / "run" / "checkpoints" / "mine.txt").write_text("a user's file")
    assert run.remove_recorded("checkpoints") == ["checkpoints/state.json"]
    assert os.listdir(tmp_path / "run" / "checkpoints") == ["mine.txt"]


def test_one_copy_of_rundir_whichever_biocnn_module_comes_first():
    # `from biocnn.rundir import ...` before anything else loaded a second biocnn.rundir for the
    # training code, whose files then went unrecorded (and were neither removed nor overwritten).
    import subprocess
    import sys

    code = ("import biocnn.rundir as r, biocnn.training as t, biocnn.experiment as e\n"
            "print(t.make_folder is r.make_folder and e.training is t, type(r.__spec__.loader).__name__)")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "SourceFileLoader"]
