import numpy as np
import pytest

from biocnn.evaluation import class_scores, classification_metrics, integer_labels


def _auc_by_pairs(positive, negative):
    """AUROC as the Mann-Whitney probability that a positive outscores a negative."""
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def test_binary_metrics_worked_by_hand():
    labels = [0, 0, 1, 1]
    scores = [[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]]
    m = classification_metrics(labels, scores)
    assert m["accuracy"] == pytest.approx(3 / 4)  # the third sample is wrong
    # Positive scores 0.35, 0.8 vs negatives 0.1, 0.4: pairs won 1 + 2 = 3 of 4.
    assert m["auroc"] == pytest.approx(0.75)
    # Ranked by score: 0.8 (pos), 0.4 (neg), 0.35 (pos), 0.1 -> precision at the positives
    # 1/1 and 2/3: average precision (1 + 2/3) / 2.
    assert m["auprc"] == pytest.approx((1 + 2 / 3) / 2)


def test_multiclass_auroc_is_macro_one_vs_rest():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    scores = rng.random((60, 3)) + np.eye(3)[labels] * 0.3
    m = classification_metrics(labels, scores)
    expected = np.mean([_auc_by_pairs(scores[labels == c, c], scores[labels != c, c]) for c in range(3)])
    assert m["auroc"] == pytest.approx(expected)
    assert m["accuracy"] == pytest.approx(np.mean(scores.argmax(1) == labels))


def test_one_hot_labels_and_sigmoid_column_are_accepted():
    one_hot = np.eye(2)[[0, 1, 1]]
    assert list(integer_labels(one_hot, 2)) == [0, 1, 1]
    np.testing.assert_allclose(class_scores([[0.2], [0.7]]), [[0.8, 0.2], [0.3, 0.7]])
    m = classification_metrics([0, 1], [[0.2], [0.7]])
    assert m["accuracy"] == 1.0 and m["auroc"] == 1.0


def test_missing_class_gives_nan_with_a_warning():
    with pytest.warns(RuntimeWarning, match=r"classes \[1\] have no samples"):
        m = classification_metrics([0, 0], [[0.9, 0.1], [0.3, 0.7]])
    assert np.isnan(m["auroc"]) and m["accuracy"] == 0.5


def test_labels_out_of_range_are_refused():
    with pytest.raises(ValueError, match=r"Labels must be integers in \[0, 1\] for a 2-class model; got values from 0 to 2"):
        classification_metrics([0, 2], [[0.5, 0.5], [0.5, 0.5]])


def test_per_class_metrics_and_confusion_matrix_by_hand():
    from biocnn.evaluation import confusion_matrix, per_class_metrics

    labels = [0, 0, 1, 2, 2, 2]
    scores = np.eye(3)[[0, 1, 1, 2, 2, 0]] * 0.8 + 0.1  # predictions 0, 1, 1, 2, 2, 0
    table = per_class_metrics(labels, scores, ["a", "b", "c"]).set_index("class")
    # class a: predicted for samples 0 and 5, right once -> precision 1/2; recall 1/2.
    assert table.loc["a", "precision"] == pytest.approx(0.5) and table.loc["a", "recall"] == pytest.approx(0.5)
    # class b: predicted for samples 1 and 2, right once -> precision 1/2; its one sample found.
    assert table.loc["b", "precision"] == pytest.approx(0.5) and table.loc["b", "recall"] == 1.0
    assert table["support"].tolist() == [2, 1, 3]
    # class c scores: 0.9 for samples 3, 4 (both c) and 0.1 elsewhere, incl. sample 5 (a c):
    # positives {0.9, 0.9, 0.1} vs negatives {0.1, 0.1, 0.1}: pairs won 6 + ties 3 * 0.5 of 9.
    assert table.loc["c", "auroc"] == pytest.approx(7.5 / 9)
    assert confusion_matrix(labels, scores).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_class_names_must_match_the_outputs():
    from biocnn.evaluation import per_class_metrics

    with pytest.raises(ValueError, match=r"1 class names \(EI\) for a model with 3 outputs"):
        per_class_metrics([0, 0], [[0.5, 0.3, 0.2], [0.6, 0.2, 0.2]], ["EI"])


def test_roc_auc_and_average_precision_equal_scikit_learn_with_ties():
    from sklearn import metrics as skm

    from biocnn import evaluation

    rng = np.random.default_rng(0)
    for _ in range(60):
        n, c = int(rng.integers(4, 40)), int(rng.integers(2, 5))
        y = np.r_[np.arange(c), rng.integers(0, c, n)]
        s = rng.random((len(y), c)).round(1)  # many ties
        one_hot = np.eye(c)[y]
        auc = skm.roc_auc_score(y, s[:, 1]) if c == 2 else skm.roc_auc_score(one_hot, s, average="macro")
        ap = skm.average_precision_score(y, s[:, 1]) if c == 2 else skm.average_precision_score(one_hot, s, average="macro")
        assert evaluation.roc_auc(y, s) == pytest.approx(auc, abs=1e-12)
        assert evaluation.average_precision(y, s) == pytest.approx(ap, abs=1e-12)
