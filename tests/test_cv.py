import os

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold

from biocnn import cv
from biocnn.training import TrainingConfig


def _labels(n_per_class=(30, 20, 10)):
    return np.concatenate([np.full(n, c) for c, n in enumerate(n_per_class)])


@pytest.mark.parametrize("seed", [0, 1])
def test_every_sample_in_exactly_one_test_fold_with_class_ratios(seed):
    y = _labels()
    folds = cv.assign_folds(y, cv=5, seed=seed)
    tests = np.concatenate([f["test"] for f in folds])
    assert sorted(tests) == list(range(len(y)))
    for fold in folds:
        assert sorted(np.concatenate([fold["train"], fold["val"], fold["test"]])) == list(range(len(y)))
        ratios = np.bincount(y[fold["test"]], minlength=3) / len(fold["test"])
        np.testing.assert_allclose(ratios, [0.5, 1 / 3, 1 / 6], atol=0.05)


def test_no_group_on_two_sides_and_same_seed_same_folds():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(30), 4)
    y = rng.integers(0, 2, size=120)
    folds = cv.assign_folds(y, cv=5, groups=groups, seed=3)
    test_groups = [set(groups[f["test"]]) for f in folds]
    assert set().union(*test_groups) == set(range(30))
    assert sum(len(g) for g in test_groups) == 30  # each group tested exactly once
    for fold in folds:
        parts = [set(groups[fold[s]]) for s in ("train", "val", "test")]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    again = cv.assign_folds(y, cv=5, groups=groups, seed=3)
    other = cv.assign_folds(y, cv=5, groups=groups, seed=4)
    assert all(np.array_equal(a["test"], b["test"]) for a, b in zip(folds, again))
    assert not all(np.array_equal(a["test"], b["test"]) for a, b in zip(folds, other))


def test_confidence_interval_worked_by_hand():
    # mean 0.9; sd = sqrt(((-0.1)^2 + 0 + 0.1^2) / 2) = 0.1; t(0.975, 2 dof) = 4.302653;
    # half width 4.302653 * 0.1 / sqrt(3) = 0.248414.
    r = cv.mean_sd_ci([0.8, 0.9, 1.0])
    assert r["mean"] == pytest.approx(0.9) and r["sd"] == pytest.approx(0.1)
    assert r["ci_low"] == pytest.approx(0.9 - 0.248414, abs=1e-6)
    assert r["ci_high"] == pytest.approx(0.9 + 0.248414, abs=1e-6)
    assert cv.mean_sd_ci([0.5, float("nan"), 0.7])["n"] == 2


def test_class_smaller_than_folds_is_named():
    y = _labels((10, 10, 3))
    with pytest.raises(ValueError, match=r"each class needs at least 5, but 'platelet' has 3"):
        cv.assign_folds(y, cv=5, class_names=["rbc", "wbc", "platelet"])


def test_too_few_groups():
    with pytest.raises(ValueError, match=r"needs at least 5 groups, but the data has 3"):
        cv.assign_folds(np.arange(30) % 2, cv=5, groups=np.arange(30) % 3)


def test_groups_that_do_not_match_the_samples():
    with pytest.raises(ValueError, match=r"groups has 4 entries but there are 30 samples"):
        cv.assign_folds(np.arange(30) % 2, cv=5, groups=[1, 2, 3, 4])


def test_leaky_splitter_is_refused():
    groups = np.repeat(np.arange(10), 4)
    y = np.arange(40) % 2
    with pytest.raises(cv.LeakageError, match=r"group\(s\) are in both the train and the test split"):
        cv.assign_folds(y, cv=KFold(4, shuffle=True, random_state=0), groups=groups)


def test_unknown_search_parameter():
    def build(units=8):
        return None

    with pytest.raises(ValueError, match=r"Unknown search parameter 'learning_rat'. Did you mean 'learning_rate'\?"):
        cv.check_space({"learning_rat": [0.1]}, build)
    with pytest.raises(ValueError, match=r"Unknown search parameter 'width'"):
        cv.check_space({"width": [1]}, build)
    cv.check_space({"units": [4, 8], "batch_size": [8]}, build)


def _build(units=8):
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(units, activation="relu"),
                             keras.layers.Dense(2, activation="softmax")])


def _data(n=60):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 5)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


CONFIG = TrainingConfig(epochs=2, batch_size=16, learning_rate=0.05)


def test_cross_validate_report_and_resume(tmp_path):
    x, y = _data()
    ids = np.array([f"s{i}" for i in range(len(y))])
    # First only fold 1 (as one array job would), then the rest: fold 1 must not be retrained.
    assert cv.cross_validate(_build, x, y, cv=3, ids=ids, config=CONFIG, out_dir=str(tmp_path),
                             only_folds=[1], verbose=0) is None
    stamp = os.path.getmtime(tmp_path / "fold_1" / "model.keras")
    result = cv.cross_validate(_build, x, y, cv=3, ids=ids, config=CONFIG, out_dir=str(tmp_path), verbose=0)
    assert os.path.getmtime(tmp_path / "fold_1" / "model.keras") == stamp
    assert list(result.folds["fold"]) == [1, 2, 3]
    assert sorted(result.predictions["id"]) == sorted(ids)  # each sample predicted once
    oof = result.predictions
    accuracy = np.mean(oof[["probability_0", "probability_1"]].to_numpy().argmax(1) == oof["label"].astype(int).to_numpy())
    assert result.pooled["accuracy"] == pytest.approx(accuracy)
    assert result.summary["accuracy"]["mean"] == pytest.approx(result.folds["accuracy"].mean())
    for name in ("cv_folds.csv", "oof_predictions.csv", "cv_metrics.json", "roc_folds.png", "folds.json"):
        assert (tmp_path / name).exists()
    # Collecting again from disk gives the same report.
    again = cv.collect(str(tmp_path))
    pd.testing.assert_frame_equal(again.folds, result.folds)


def test_resume_with_other_settings_is_refused(tmp_path):
    x, y = _data()
    cv.cross_validate(_build, x, y, cv=3, config=CONFIG, out_dir=str(tmp_path), only_folds=[1], verbose=0)
    with pytest.raises(ValueError, match=r"folds or settings differ"):
        cv.cross_validate(_build, x, y, cv=3, config=TrainingConfig(epochs=3), out_dir=str(tmp_path), verbose=0)


def test_collect_names_an_unfinished_fold(tmp_path):
    x, y = _data()
    cv.cross_validate(_build, x, y, cv=3, config=CONFIG, out_dir=str(tmp_path), only_folds=[2], verbose=0)
    with pytest.raises(ValueError, match=r"Fold 1 of 3 .* has not finished; run it \(--fold 1\) first"):
        cv.collect(str(tmp_path))


def test_nested_search_writes_trials_per_fold(tmp_path):
    x, y = _data()
    result = cv.cross_validate(_build, x, y, cv=2, config=TrainingConfig(epochs=1, batch_size=16),
                               out_dir=str(tmp_path), search_space={"units": [2, 4], "learning_rate": [0.05]},
                               verbose=0)
    for k in (1, 2):
        trials = pd.read_csv(tmp_path / f"fold_{k}" / "search.csv")
        assert len(trials) == 2 and list(trials["val_loss"]) == sorted(trials["val_loss"])
    assert all('"units"' in p for p in result.folds["params"])


def test_ensemble_is_the_mean_of_the_fold_models():
    models = [_build(), _build()]
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    expected = (models[0].predict(x, verbose=0) + models[1].predict(x, verbose=0)) / 2
    np.testing.assert_allclose(cv.ensemble(models).predict(x, verbose=0), expected, rtol=1e-5)


# --- Numbers in figures and intervals (issue 18, item 8) --------------------------------------

def _oof(fold_aurocs_wanted=(0.35, 1.0, 0.6), n=40, seed=0):
    """Out-of-fold predictions of 3 folds whose AUROCs differ widely (few, unequal folds)."""
    rng = np.random.default_rng(seed)
    labels, scores, folds = [], [], []
    for k, separation in enumerate(fold_aurocs_wanted, start=1):
        y = np.tile([0, 1], n // 2)
        s = rng.random(n) + (separation - 0.5) * 3 * y
        p = 1 / (1 + np.exp(-(s - s.mean())))
        labels.append(y), scores.append(np.stack([1 - p, p], 1)), folds.append(np.full(n, k))
    return np.concatenate(labels), np.concatenate(scores), np.concatenate(folds)


def test_the_auroc_interval_stays_in_0_1_where_the_t_interval_leaves_it():
    from sklearn.metrics import roc_auc_score

    labels, scores, folds = _oof()
    per_fold = [roc_auc_score(labels[folds == k], scores[folds == k, 1]) for k in (1, 2, 3)]
    t = cv.mean_sd_ci(per_fold)
    assert t["ci_low"] < 0.0 or t["ci_high"] > 1.0  # the reported failure: e.g. -0.174 to 1.092
    import pandas as pd

    table = pd.DataFrame({"fold": folds, "label": labels, "probability_0": scores[:, 0], "probability_1": scores[:, 1]})
    summary = cv.summarize_folds(per_fold, "auroc", table)
    assert 0.0 <= summary["ci_low"] <= summary["mean"] <= summary["ci_high"] <= 1.0
    assert summary["mean"] == pytest.approx(np.mean(per_fold)) and summary["sd"] == pytest.approx(t["sd"])
    # within [min, max] of what a resample can reach, and repeatable
    assert summary["ci_low"] >= min(per_fold) - 0.1 and summary["ci_high"] <= max(per_fold)
    assert cv.bootstrap_ci(labels, scores, folds, "auroc") == cv.bootstrap_ci(labels, scores, folds, "auroc")
    assert cv.summarize_folds([1.0, 2.0, 3.0], "loss", table) == cv.mean_sd_ci([1.0, 2.0, 3.0])


def test_the_fold_roc_legend_says_what_the_table_says(monkeypatch, tmp_path):
    import pandas as pd

    from biocnn import evaluation, plots

    rng = np.random.default_rng(3)
    n = 60  # three classes: the legend used the area of the grid-averaged curve, not the AUROC
    labels = np.repeat([0, 1, 2], n // 3)
    scores = rng.dirichlet([1, 1, 1], size=n) + np.eye(3)[labels] * 0.3
    scores /= scores.sum(1, keepdims=True)
    table = pd.DataFrame({"fold": np.tile([1, 2], n // 2), "label": labels,
                          **{f"probability_{c}": scores[:, i] for i, c in enumerate("abc")}})
    captured = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: captured.setdefault("fig", fig))
    plots.plot_roc_folds(table, ["a", "b", "c"], str(tmp_path / "roc.png"))
    legend = [t.get_text() for t in captured["fig"].axes[0].get_legend().get_texts()]
    for k in (1, 2):
        part = table[table["fold"] == k]
        metric = evaluation.classification_metrics(part["label"], part[["probability_a", "probability_b", "probability_c"]])["auroc"]
        assert f"fold {k} (AUROC {metric:.3f})" in legend
