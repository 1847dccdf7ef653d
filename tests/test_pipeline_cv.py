"""pipelines/cross_validate.py as a user runs it, on a small slice of BreastMNIST."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "pipelines", "cross_validate.py")


def _run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    source = np.load(os.path.join(ROOT, "datasets", "medmnist", "breastmnist.npz"))
    arrays = {f"{s}_{k}": source[f"{s}_{k}"][:30] for s in ("train", "val", "test") for k in ("images", "labels")}
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, **arrays)
    return str(path)


def test_fold_jobs_then_collect_equal_one_run(small_npz, tmp_path):
    common = ["--npz", small_npz, "--folds", "3", "--epochs", "1", "--batch-size", "16", "--seed", "4", "--model", "lenet5"]
    whole = _run(*common, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    assert "accuracy:" in whole.stdout and "95% CI" in whole.stdout
    for k in ("1", "3", "2"):
        job = _run(*common, "--out", str(tmp_path / "split"), "--fold", k)
        assert job.returncode == 0, job.stderr
    collected = _run(*common, "--out", str(tmp_path / "split"), "--collect")
    assert collected.returncode == 0, collected.stderr
    a = pd.read_csv(tmp_path / "whole" / "cv_folds.csv")
    b = pd.read_csv(tmp_path / "split" / "cv_folds.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-5)
    metrics = json.load(open(tmp_path / "whole" / "cv_metrics.json"))
    assert set(metrics["summary"]["auroc"]) == {"mean", "sd", "ci_low", "ci_high", "n"}
    assert len(pd.read_csv(tmp_path / "whole" / "oof_predictions.csv")) == 90


def test_user_errors_are_one_line(small_npz, tmp_path):
    bad = _run("--npz", small_npz, "--group-column", "patient", "--out", str(tmp_path / "a"))
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("error: --group-column needs a table with sample ids (--csv); an .npz has "
                                  "no ids or groups.")
    space = tmp_path / "space.json"
    space.write_text('{"learning_rate": [0.1]}')
    biased = _run("--npz", small_npz, "--search", str(space), "--out", str(tmp_path / "b"))
    assert biased.returncode == 2 and "add --nested" in biased.stderr
    space.write_text('{"learnig_rate": [0.1]}')
    unknown = _run("--npz", small_npz, "--search", str(space), "--nested", "--out", str(tmp_path / "c"))
    assert unknown.returncode == 2 and "Did you mean 'learning_rate'" in unknown.stderr
