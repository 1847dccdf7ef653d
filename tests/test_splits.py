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
