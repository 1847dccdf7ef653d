import dataclasses
import json
import os

import numpy as np
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


# --- A run knows what it is (issue 18, item 1) ------------------------------------------------

from biocnn import rundir  # noqa: E402
from biocnn.errors import UserError  # noqa: E402


def _finished_run(path):
    run = RunDirectory(path)
    run.write_json("config.json", {"seed": 1})
    run.folder("checkpoints")
    run.write_text("checkpoints/state.json", "{}")
    run.write_text("metrics.json", "{}")
    run.close()
    return run


def test_a_users_project_folder_with_a_config_json_survives_overwrite_and_resume(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.json").write_text('{"mine": true}')
    (project / "annotations.csv").write_text("id,label\n")
    for flags in ({"overwrite": True}, {"resume": True}, {}):
        with pytest.raises(FileExistsError, match=r"does not hold a biocnn run \(no biocnn_run.json; it holds "
                                                  r"annotations.csv, config.json\).*written by another program"):
            RunDirectory(project, **flags)
    assert sorted(os.listdir(project)) == ["annotations.csv", "config.json"]
    assert (project / "config.json").read_text() == '{"mine": true}'


def test_overwrite_removes_only_what_the_run_wrote(tmp_path):
    run = _finished_run(tmp_path / "run")
    assert sorted(run.manifest()) == ["checkpoints/state.json", "config.json", "metrics.json"]
    (tmp_path / "run" / "notes.txt").write_text("my notes")  # a user's file inside the run
    (tmp_path / "run" / "checkpoints" / "keep.txt").write_text("mine too")
    again = RunDirectory(tmp_path / "run", overwrite=True)
    assert sorted(os.listdir(again.path)) == ["checkpoints", "notes.txt"]
    assert os.listdir(again.file("checkpoints")) == ["keep.txt"]


def test_resume_into_an_empty_folder_or_an_unstarted_run_starts_afresh(tmp_path):
    (tmp_path / "empty").mkdir()
    assert not RunDirectory(tmp_path / "empty", resume=True).resumed
    first = RunDirectory(tmp_path / "cv")  # a fold job that has written only its config so far
    first.write_json("config.json", {})
    second = RunDirectory(tmp_path / "cv", resume=True)  # another fold job of the same run
    assert not second.resumed and os.path.exists(second.file("config.json"))  # nothing removed
    second.write_text("fold_2.txt", "")
    first.write_text("fold_1.txt", "")  # the manifests of both jobs are merged on disk
    assert sorted(RunDirectory(tmp_path / "cv", resume=True).manifest()) == ["config.json", "fold_1.txt", "fold_2.txt"]


def test_an_unstarted_run_does_not_block_the_rerun_and_leaves_no_folder(tmp_path):
    earlier = rundir.open_runs()  # other tests' runs
    run = RunDirectory(tmp_path / "runs" / "a")
    run.write_json("config.json", {"seed": 1})  # then training failed before its first epoch
    rerun = RunDirectory(tmp_path / "runs" / "a")  # no --overwrite needed
    assert os.listdir(rerun.path) == [] and not rerun.resumed
    rerun.write_json("config.json", {"seed": 2})
    assert rundir.discard_unstarted(keep=earlier) == [rerun.path]
    assert not os.path.exists(tmp_path / "runs" / "a")  # the folder it created is gone
    finished = _finished_run(tmp_path / "runs" / "b")
    assert rundir.discard_unstarted(keep=earlier) == [] and os.path.exists(finished.file("metrics.json"))


def test_resume_refuses_other_data_and_names_what_changed(tmp_path):
    labels, ids = np.array([0, 1, 0, 1]), np.array(["r1", "r2", "r3", "r4"])
    run = RunDirectory(tmp_path / "run")
    run.check_or_record_fingerprints(data={"ids": ids, "labels": labels, "split": {"test": [2, 3]}},
                                     settings={"test_size": 0.2, "learning_rate": 0.01})
    run.write_text("history.csv", "epoch\n1\n")
    run.close()
    resumed = RunDirectory(tmp_path / "run", resume=True)
    assert resumed.resumed
    with pytest.raises(UserError, match=r"its data differ: split.test: \[2, 3\] -> \[1, 3\]\. Resume with the same"):
        resumed.check_or_record_fingerprints(data={"ids": ids, "labels": labels, "split": {"test": [1, 3]}},
                                             settings={"test_size": 0.3, "learning_rate": 0.01})
    with pytest.raises(UserError, match=r"its settings differ: test_size: 0.2 -> 0.3"):
        resumed.check_or_record_fingerprint("settings", {"test_size": 0.3, "learning_rate": 0.01})
    with pytest.raises(UserError, match=r"its data differ: labels: \(4,\) int64 #\w+ -> \(4,\) int64 #\w+"):
        resumed.check_or_record_fingerprint("data", {"ids": ids, "labels": 1 - labels, "split": {"test": [2, 3]}})
    resumed.check_or_record_fingerprint("data", {"ids": ids, "labels": labels, "split": {"test": [2, 3]}})


def test_files_and_folders_follow_the_umask(tmp_path):
    old = os.umask(0o002)  # a group-shared server
    try:
        run = RunDirectory(tmp_path / "run")
        run.write_text("metrics.json", "{}")
        folder = run.folder("checkpoints/head")
    finally:
        os.umask(old)
    assert os.stat(run.file("metrics.json")).st_mode & 0o777 == 0o664
    assert os.stat(run.file(rundir.MARKER)).st_mode & 0o777 == 0o664
    assert os.stat(folder).st_mode & 0o777 == 0o775


def test_out_below_a_regular_file_is_one_line(tmp_path):
    (tmp_path / "results").write_text("a file")
    with pytest.raises(UserError, match=r"Cannot create the folder .*results/run': .*results' is a file, not a folder"):
        RunDirectory(tmp_path / "results" / "run")


def test_a_run_of_a_newer_schema_is_not_touched(tmp_path):
    (tmp_path / rundir.MARKER).write_text('{"biocnn_run": 99, "files": ["x"]}')
    (tmp_path / "x").write_text("x")
    with pytest.raises(UserError, match="run of a newer biocnn"):
        RunDirectory(tmp_path, overwrite=True)
    assert (tmp_path / "x").exists()


def test_resume_with_another_split_is_refused_before_config_json_is_rewritten(tmp_path):
    # --resume with another --test-size was accepted, trained on former test samples, and
    # rewrote config.json so that the record hid it.
    import keras

    from biocnn import experiment
    from biocnn.splits import train_val_test_split
    from biocnn.training import TrainingConfig, set_seed

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")

    def splits(test_size):
        parts = train_val_test_split(y, test_size=test_size, val_size=0.2, seed=0)
        return {k: (x[v], y[v]) for k, v in parts.items()}

    def model():
        set_seed(1)
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])

    config = TrainingConfig(epochs=1, batch_size=16)
    run = RunDirectory(tmp_path / "run")
    experiment.train_and_evaluate(run, model(), splits(0.2), config, arguments={"test_size": 0.2}, verbose=0)
    run.close()
    before = (tmp_path / "run" / "config.json").read_text()
    resumed = RunDirectory(tmp_path / "run", resume=True)
    with pytest.raises(UserError, match=r"Cannot resume the run in .*: its data differ: splits.test\[0\]: \(12, 4\) "
                                        r"float32 #\w+ -> \(18, 4\) float32 #\w+; splits.test\[1\]"):
        experiment.train_and_evaluate(resumed, model(), splits(0.3), dataclasses.replace(config, epochs=2),
                                      arguments={"test_size": 0.3}, verbose=0)
    assert (tmp_path / "run" / "config.json").read_text() == before
    resumed.check_or_record_fingerprint("data", {"splits": splits(0.2), "ids": None, "encoding": None})  # same: fine


# -- reading a run: one schema-owning reader ------------------------------------------------------

import ast  # noqa: E402
import pathlib  # noqa: E402

PACKAGE = pathlib.Path(rundir.__file__).parent
RUN_FILES = {rundir.CONFIG, rundir.METRICS}


def test_read_config_reads_the_current_and_the_first_schema(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.write_json("config.json", {"inputs": {"size": [8, 8]}, "class_names": ["a", "b"]})
    run.write_json("metrics.json", {"best_epoch": 2})
    config = rundir.read_config(run.path)
    assert config["inputs"] == {"size": [8, 8]} and config["class_names"] == ["a", "b"]
    assert rundir.read_config(os.path.join(run.path, "config.json")) == config  # the file itself
    assert rundir.read_metrics(run.path) == {"best_epoch": 2}
    assert rundir.schema_version(run.path) == rundir.SCHEMA_VERSION
    old = tmp_path / "old"  # schema 1: no marker, the section spelt "input"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"input": {"channels": [0]}}))
    assert rundir.schema_version(old) == 1
    assert rundir.read_config(old)["inputs"] == {"channels": [0]} and "input" not in rundir.read_config(old)
    assert rundir.read_metrics(old, required=False) is None and not rundir.is_finished(old)


def test_reading_a_newer_or_a_missing_or_an_unfinished_run_is_one_line(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.write_json("config.json", {})
    with pytest.raises(UserError, match=r"has no metrics.json: its run has not finished.*--resume"):
        rundir.read_metrics(run.path)
    marker = json.loads((tmp_path / "run" / rundir.MARKER).read_text())
    (tmp_path / "run" / rundir.MARKER).write_text(json.dumps({**marker, "biocnn_run": rundir.SCHEMA_VERSION + 1}))
    with pytest.raises(UserError, match=rf"run of a newer biocnn \(schema {rundir.SCHEMA_VERSION + 1}; this biocnn "
                                        rf"reads up to {rundir.SCHEMA_VERSION}\)\. Update biocnn"):
        rundir.read_config(run.path)
    with pytest.raises(UserError, match=r"is not a biocnn run directory \(no config.json\)"):
        rundir.read_config(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(UserError, match=r"config.json' is not valid JSON"):
        rundir.read_config(tmp_path / "bad")


def _run_file_reads(path):
    """Lines of ``path`` that name config.json or metrics.json in code, other than as what a writer writes."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    written = {id(part) for node in ast.walk(tree) if isinstance(node, ast.Call) and node.args
               and getattr(node.func, "attr", getattr(node.func, "id", None)) == "write_json"
               for part in ast.walk(node.args[0])}
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and id(node) not in written and node.value.strip("/\\") in RUN_FILES]


def test_only_rundir_reads_a_runs_config_and_metrics():
    """Every reader of a run goes through rundir (read_config, read_metrics, is_run, is_finished), which
    knows the schema version: a new ``open(... "config.json")`` anywhere else fails here."""
    offenders = {str(path.relative_to(PACKAGE)): lines for path in sorted(PACKAGE.rglob("*.py"))
                 if path.name != "rundir.py" and (lines := _run_file_reads(path))}
    assert offenders == {}, f"read a run through biocnn.rundir, not by file name: {offenders}"


def test_the_run_file_check_finds_a_read(tmp_path):
    reader = tmp_path / "reader.py"
    reader.write_text('import json, os\n\ndef f(run):\n    """Reads config.json."""\n'
                      '    write_json(os.path.join(run, "config.json"), {})\n'
                      '    run.write_json("metrics.json", {})\n'
                      '    return json.load(open(os.path.join(run, "config.json")))\n')
    assert _run_file_reads(reader) == [7]
