import os

import numpy as np
import pytest

from biocnn.splits import holdout_split, train_val_test_split


def test_holdout_is_a_stratified_partition():
    labels = np.array([0] * 30 + [1] * 10)
    train, test = holdout_split(labels, test_size=0.25, seed=3)
    assert sorted(np.concatenate([train, test])) == list(range(40))
    assert np.bincount(labels[test]).tolist() == [8, 2]  # 25 % of each class, as in sklearn


def test_groups_never_straddle_and_the_seed_repeats():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 5)
    labels = rng.integers(0, 2, size=100)
    parts = train_val_test_split(labels, test_size=0.2, val_size=0.2, groups=groups, seed=7)
    seen = [set(groups[idx]) for idx in parts.values()]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert sorted(np.concatenate(list(parts.values()))) == list(range(100))
    again = train_val_test_split(labels, test_size=0.2, val_size=0.2, groups=groups, seed=7)
    for k in parts:
        np.testing.assert_array_equal(parts[k], again[k])


def test_three_way_sizes():
    parts = train_val_test_split([0, 1] * 50, test_size=0.2, val_size=0.1, seed=0)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [70, 10, 20]


def test_class_too_small_to_stratify_is_named():
    with pytest.raises(ValueError, match=r"each class needs at least 2, but 'platelet' has 1"):
        holdout_split([0, 0, 0, 1, 1, 2], class_names=["rbc", "wbc", "platelet"])


def test_single_group_is_refused():
    with pytest.raises(ValueError, match=r"needs at least 2 groups, got 1"):
        holdout_split([0, 1, 0, 1], groups=["a"] * 4)


def test_split_too_small_for_the_classes_is_explained():
    with pytest.raises(ValueError, match=r"leaves 1 for one side and 5 for the other, but each side needs one sample of each of the 2 classes"):
        holdout_split([0, 0, 0, 1, 1, 1], test_size=0.1)


# --- Splits checked before training (issue 18, item 2) ----------------------------------------

import keras  # noqa: E402

from biocnn.errors import UserError  # noqa: E402
from biocnn.splits import check_splits, class_count_table  # noqa: E402

# Two classes; class 1 lives in two of eight groups (one donor holds all of a phenotype).
_Y = np.array([0] * 30 + [1] * 10)
_GROUPS = np.array([f"donor{i // 5}" for i in range(40)])


def test_a_group_holding_a_class_leaves_the_test_split_without_it_and_is_refused(capsys):
    parts = train_val_test_split(_Y, test_size=0.2, val_size=0.2, groups=_GROUPS, seed=0)
    labels = {k: _Y[v] for k, v in parts.items()}
    assert np.bincount(labels["test"], minlength=2).tolist() == [10, 0]  # the case from the issue
    with pytest.raises(UserError, match=r"a split lacks a class \(test has no 'tumour'\).*Class counts per split: "
                                        r"train: normal 15, tumour 5; val: normal 5, tumour 5; test: normal 10, "
                                        r"tumour 0\. To fix it, choose another --split-seed"):
        check_splits(labels, class_names=["normal", "tumour"])
    printed = capsys.readouterr().out
    assert "class   train    val   test" in printed and "tumour      5      5      0" in printed


def test_a_one_class_validation_split_is_refused_before_training():
    x = np.zeros((40, 3), "float32")
    splits = {"train": (x[:20], _Y[10:30] * 0 + np.arange(20) % 2), "val": (x[:5], np.zeros(5, int)),
              "test": (x[:6], np.arange(6) % 2)}
    with pytest.raises(ValueError, match=r"val has no '1'"):
        check_splits(arrays=splits, verbose=False)


def test_rgb_test_images_with_grey_training_images_are_refused_naming_the_sample():
    shapes = {"train": [(64, 64, 1)] * 3, "test": [(64, 64, 1), (64, 64, 3)]}
    ids = {"train": ["a.png", "b.png", "c.png"], "test": ["d.png", "e.png"]}
    labels = {"train": [0, 1, 0], "test": [0, 1]}
    with pytest.raises(UserError, match=r"the splits disagree: test sample 'e.png' has shape \(64, 64, 3\) but train "
                                        r"sample 'a.png' has \(64, 64, 1\): 3 channels where the model is built for 1"):
        check_splits(labels, shapes=shapes, ids=ids, verbose=False)
    shapes["test"] = [(64, 64, 1), (32, 32, 1)]  # test images of another size
    with pytest.raises(UserError, match=r"test sample 'e.png' has shape \(32, 32, 1\) .*resize every split"):
        check_splits(labels, shapes=shapes, ids=ids, verbose=False)
    with pytest.raises(UserError, match=r"the test samples have dtype uint16 but the train samples have float32"):
        check_splits(labels, shapes={"train": (4, 4), "test": (4, 4)}, dtypes={"train": "float32", "test": "uint16"},
                     verbose=False)
    x = np.zeros((4, 8, 8, 1), "float32")
    with pytest.raises(UserError, match=r"the test samples have shape \(8, 8, 3\) but the train samples have \(8, 8, 1\)"):
        check_splits(arrays={"train": (x, [0, 1, 0, 1]), "test": (np.zeros((2, 8, 8, 3), "float32"), [0, 1])},
                     verbose=False)


def test_class_count_table_counts_like_numpy():
    labels = {"train": np.array([0, 2, 2, 1]), "val": np.array([2])}
    text = class_count_table(labels)
    rows = [line.split() for line in text.splitlines()[1:]]
    assert [[int(v) for v in r[1:]] for r in rows] == [
        [np.sum(labels[s] == c) for s in labels] for c in range(3)]


def test_train_and_evaluate_refuses_before_writing_anything(tmp_path):
    from biocnn import experiment
    from biocnn.rundir import RunDirectory
    from biocnn.training import TrainingConfig

    x = np.zeros((12, 3), "float32")
    splits = {"train": (x, np.arange(12) % 2), "val": (x[:4], np.zeros(4, int)), "test": (x[:4], np.arange(4) % 2)}
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    run = RunDirectory(tmp_path / "run")
    with pytest.raises(UserError, match="val has no '1'"):
        experiment.train_and_evaluate(run, model, splits, TrainingConfig(epochs=1), verbose=0)
    assert os.listdir(run.path) == []


def test_each_cv_fold_is_checked(tmp_path):
    from biocnn.cv import cross_validate
    from biocnn.training import TrainingConfig

    def build():
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])

    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    with pytest.raises(UserError, match=r"fold 1: a split lacks a class \(val has no '1'\)"):
        cross_validate(build, x, _Y, cv=3, groups=_GROUPS, val_size=0.2, out_dir=str(tmp_path),
                       config=TrainingConfig(epochs=1), verbose=0)
    assert not os.path.exists(tmp_path / "fold_1" / "checkpoints")


def test_a_streamed_split_is_checked_by_its_element_spec():
    import tensorflow as tf

    from biocnn.rundir import fingerprint

    stream = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 1), "float32"), [0, 1, 0, 1])).batch(2)
    splits = {"train": (stream, np.array([0, 1, 0, 1])), "test": (np.zeros((2, 8, 8, 1), "float32"), np.array([0, 1]))}
    assert check_splits(arrays=splits, verbose=False) == {"train": [2, 2], "test": [1, 1]}
    splits["test"] = (np.zeros((2, 8, 8, 3), "float32"), np.array([0, 1]))
    with pytest.raises(UserError, match=r"the test samples have shape \(8, 8, 3\) but the train samples have \(8, 8, 1\)"):
        check_splits(arrays=splits, verbose=False)
    assert fingerprint(stream) == fingerprint(stream.map(lambda x, y: (x, y)))  # its form, not its address
