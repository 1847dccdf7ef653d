import json
import os

import pytest

from biocnn.rundir import RunDirectory, atomic_path, write_json


def test_new_run_directory_is_created(tmp_path):
    run = RunDirectory(tmp_path / "run")
    assert os.path.isdir(run.path) and not run.resumed
    run.write_json("config.json", {"seed": 1})
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == {"seed": 1}


def test_existing_run_is_not_overwritten_without_the_flag(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.write_json("config.json", {"seed": 1})
    run.write_text("history.csv", "epoch\n1\n")  # a run that trained: more than its config
    with pytest.raises(FileExistsError, match=r"already holds a run. Pass --overwrite to replace it, --resume"):
        RunDirectory(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == {"seed": 1}


def test_overwrite_replaces_and_resume_keeps(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.write_json("config.json", {})
    run.write_text("old.txt", "old")
    resumed = RunDirectory(tmp_path / "run", resume=True)
    assert resumed.resumed and os.path.exists(resumed.file("old.txt"))
    RunDirectory(tmp_path / "run", overwrite=True)
    assert os.listdir(tmp_path / "run") == []


def test_a_folder_that_is_not_a_run_is_never_deleted(tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match=r"is not empty and does not hold a biocnn run"):
        RunDirectory(tmp_path, overwrite=True)
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_overwrite_and_resume_together_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Choose one of overwrite and resume"):
        RunDirectory(tmp_path, overwrite=True, resume=True)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"ok": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            with open(tmp, "w") as f:
                f.write("{half")
            raise RuntimeError("disk full")
    assert json.loads(target.read_text()) == {"ok": 1}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_json_has_no_nan(tmp_path):
    import numpy as np

    write_json(tmp_path / "m.json", {"auroc": float("nan"), "n": np.int64(3), "x": np.float32(0.5)})
    assert json.loads((tmp_path / "m.json").read_text()) == {"auroc": None, "n": 3, "x": 0.5}
