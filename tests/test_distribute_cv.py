"""Cross-validation fan-out with search trials, and fold jobs under another strategy.

A nested search runs inside its fold, so ``--fold K`` (``only_folds=[K]``) fans the search trials
out with their fold; the collected report equals the single run's, including the parameters
each fold's search chose. The fold jobs here train with the mirrored strategy (biocnn's
distributed loop, on this process's one CPU device) and the single run with Keras's fit: the
strategy is no setting of the cross-validation, and the results agree to float tolerance.
"""

import dataclasses

import keras
import numpy as np
import pandas as pd

from biocnn import cv
from biocnn.training import TrainingConfig

SPACE = {"units": [2, 6], "learning_rate": [0.05]}
CONFIG = TrainingConfig(epochs=2, batch_size=16, learning_rate=0.05)


def _build(units=8):
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(units, activation="relu"),
                             keras.layers.Dense(2, activation="softmax")])


def test_fold_jobs_with_search_under_mirrored_equal_one_run(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(48, 5)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")
    whole = cv.cross_validate(_build, x, y, cv=2, config=CONFIG, out_dir=str(tmp_path / "whole"),
                              search_space=SPACE, verbose=0)
    jobs = dataclasses.replace(CONFIG, strategy="mirrored")
    def job(k):  # one array job of a cluster scheduler: one fold, its search trials included
        return cv.cross_validate(_build, x, y, cv=2, config=jobs, out_dir=str(tmp_path / "split"),
                                 search_space=SPACE, only_folds=[k], verbose=0)

    assert job(2) is None  # fold 1 still to run: no report yet
    job(1)
    collected = cv.collect(str(tmp_path / "split"))
    assert list(collected.folds["params"]) == list(whole.folds["params"])
    pd.testing.assert_frame_equal(collected.folds, whole.folds, check_exact=False, rtol=1e-4, atol=1e-5)
    pd.testing.assert_frame_equal(collected.predictions, whole.predictions, check_exact=False, rtol=1e-4, atol=1e-5)
    for k in (1, 2):
        a = pd.read_csv(tmp_path / "whole" / f"fold_{k}" / "search.csv")
        b = pd.read_csv(tmp_path / "split" / f"fold_{k}" / "search.csv")
        assert len(a) == 2
        pd.testing.assert_frame_equal(b, a, check_exact=False, rtol=1e-4, atol=1e-5)
