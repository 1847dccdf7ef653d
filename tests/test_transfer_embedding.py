"""Embeddings, few-shot prototypes and zero-shot ConSE: hand-worked answers on tiny synthetic data."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone
from sklearn.neighbors import NearestCentroid

from biocnn.transfer.embedding import ConSE, PrototypeClassifier, embed

# Two classes in 2-D whose prototypes are A = mean((9,0),(11,0)) = (10,0) and B = mean((1,0),(1,2)) = (1,1).
X_TRAIN = np.array([[9.0, 0.0], [11.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
Y_TRAIN = np.array(["A", "A", "B", "B"])


# ------------------------------------------------------------------------------------------
# PrototypeClassifier
# ------------------------------------------------------------------------------------------


def test_prototypes_are_class_means():
    clf = PrototypeClassifier("euclidean").fit(X_TRAIN, Y_TRAIN)
    assert list(clf.classes_) == ["A", "B"]
    np.testing.assert_allclose(clf.prototypes_, [[10.0, 0.0], [1.0, 1.0]])


def test_cosine_and_euclidean_disagree_on_a_hand_worked_query():
    # q = (2, 0.5), |q| = sqrt(4.25) = 2.06155.
    # Euclidean: |q - A|^2 = 8^2 + 0.5^2 = 64.25, |q - B|^2 = 1^2 + 0.5^2 = 1.25 -> B.
    # Cosine: cos(q, A) = 2 / 2.06155 = 0.97014; cos(q, B) = 2.5 / (2.06155 * sqrt 2) = 0.85749 -> A.
    q = np.array([[2.0, 0.5]])
    euclid = PrototypeClassifier("euclidean").fit(X_TRAIN, Y_TRAIN)
    cosine = PrototypeClassifier("cosine").fit(X_TRAIN, Y_TRAIN)
    assert euclid.predict(q).tolist() == ["B"]
    assert cosine.predict(q).tolist() == ["A"]
    np.testing.assert_allclose(euclid.decision_function(q), [[-64.25, -1.25]])
    np.testing.assert_allclose(cosine.decision_function(q), [[0.97014, 0.85749]], atol=1e-5)
    # softmax(0.97014, 0.85749): p(A) = 1 / (1 + exp(-(0.97014 - 0.85749))) = 1 / (1 + 0.89347) = 0.52813.
    np.testing.assert_allclose(cosine.predict_proba(q), [[0.52813, 0.47187]], atol=1e-5)


def test_euclidean_probabilities_are_a_softmax_of_negative_squared_distances():
    clf = PrototypeClassifier("euclidean").fit(X_TRAIN, Y_TRAIN)
    # (5.5, 0.5): |. - A|^2 = 4.5^2 + 0.5^2 = 20.5 = |. - B|^2 -> equidistant, 0.5 each.
    # (6, 0):     |. - A|^2 = 16, |. - B|^2 = 25 + 1 = 26 -> p(A) = 1 / (1 + e^-10) = 0.9999546.
    # With temperature 10 the gap 10 becomes 1: p(A) = 1 / (1 + e^-1) = 0.7310586.
    np.testing.assert_allclose(clf.predict_proba([[5.5, 0.5], [6.0, 0.0]])[:, 0], [0.5, 0.9999546], atol=1e-7)
    warm = PrototypeClassifier("euclidean", temperature=10.0).fit(X_TRAIN, Y_TRAIN)
    np.testing.assert_allclose(warm.predict_proba([[6.0, 0.0]]), [[0.7310586, 0.2689414]], atol=1e-7)
    # score is scikit-learn's accuracy: (6,0) -> A right, (1,1.5) -> B right, (9,9) -> |.-A|^2 = 82, |.-B|^2 = 128 -> A, wrong.
    assert clf.score([[6.0, 0.0], [1.0, 1.5], [9.0, 9.0]], ["A", "B", "B"]) == pytest.approx(2 / 3)


def test_euclidean_matches_sklearn_nearest_centroid():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, size=(4, 6))
    y = rng.integers(0, 4, size=120)
    x = centres[y] + rng.normal(0, 2.5, size=(120, 6))  # overlapping blobs: some queries are near a boundary
    queries = rng.normal(0, 4, size=(300, 6))
    ours = PrototypeClassifier("euclidean").fit(x, y)
    reference = NearestCentroid(metric="euclidean").fit(x, y)
    np.testing.assert_allclose(ours.prototypes_, reference.centroids_)
    np.testing.assert_array_equal(ours.predict(queries), reference.predict(queries))


def test_prototype_classifier_is_a_scikit_learn_estimator():
    clf = clone(PrototypeClassifier(metric="euclidean", temperature=2.0))
    assert clf.get_params() == {"metric": "euclidean", "temperature": 2.0}
    assert clf.fit(X_TRAIN, Y_TRAIN).predict_proba(X_TRAIN).sum(axis=1) == pytest.approx(np.ones(4))


def test_prototype_classifier_errors():
    with pytest.raises(ValueError, match="unknown metric 'cosin'. Did you mean 'cosine'?"):
        PrototypeClassifier("cosin")
    with pytest.raises(ValueError, match=r"embeddings of shape \(4, 2\) and labels of shape \(3,\)"):
        PrototypeClassifier().fit(X_TRAIN, Y_TRAIN[:3])
    with pytest.raises(ValueError, match=r"must be a 2D array .* got shape \(4,\)"):
        PrototypeClassifier().fit(X_TRAIN[:, 0], Y_TRAIN)
    clf = PrototypeClassifier().fit(X_TRAIN, Y_TRAIN)
    with pytest.raises(ValueError, match=r"embeddings of shape \(1, 3\) do not match the prototypes of shape \(2, 2\)"):
        clf.predict(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="call fit"):
        PrototypeClassifier().predict(X_TRAIN)
    with pytest.raises(ValueError, match="temperature must be positive"):
        PrototypeClassifier(temperature=0).fit(X_TRAIN, Y_TRAIN)


# ------------------------------------------------------------------------------------------
# ConSE
# ------------------------------------------------------------------------------------------

# Seen classes 0, 1, 2 with one-hot semantic vectors; unseen U0 = (1,1,0) ("like 0 and 1"), U1 = (1,0,1) ("like 0 and 2").
SEEN = np.eye(3)
UNSEEN = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])


def test_conse_hand_worked():
    zsl = ConSE(SEEN, UNSEEN, top_k=2, unseen_classes=["U0", "U1"])
    p = np.array([[0.6, 0.3, 0.1], [0.5, 0.1, 0.4]])
    # Row 1: top-2 = classes 0 (0.6) and 1 (0.3); f = (0.6 s0 + 0.3 s1) / 0.9 = (2/3, 1/3, 0).
    #   |f| = sqrt(5)/3 = 0.74536; cos(f, U0) = 1 / (0.74536 sqrt 2) = 0.94868; cos(f, U1) = (2/3) / 1.05409 = 0.63246 -> U0.
    # Row 2: top-2 = classes 0 (0.5) and 2 (0.4); f = (5/9, 0, 4/9), |f| = sqrt(41)/9 = 0.71146;
    #   cos(f, U0) = (5/9) / (0.71146 sqrt 2) = 0.55216; cos(f, U1) = 1 / 1.00616 = 0.99388 -> U1.
    np.testing.assert_allclose(zsl.embed(p), [[2 / 3, 1 / 3, 0.0], [5 / 9, 0.0, 4 / 9]])
    np.testing.assert_allclose(zsl.decision_function(p), [[0.94868, 0.63246], [0.55216, 0.99388]], atol=1e-5)
    assert zsl.predict(p).tolist() == ["U0", "U1"]


def test_conse_top_k_all_is_the_full_expectation():
    # top_k = 3 on row 1: f = (0.6, 0.3, 0.1) itself; |f| = sqrt(0.46) = 0.67823;
    # cos(f, U0) = 0.9 / (0.67823 sqrt 2) = 0.93831, cos(f, U1) = 0.7 / 0.95917 = 0.72980.
    zsl = ConSE(SEEN, UNSEEN, top_k=3)
    np.testing.assert_allclose(zsl.embed([[0.6, 0.3, 0.1]]), [[0.6, 0.3, 0.1]])
    np.testing.assert_allclose(zsl.decision_function([[0.6, 0.3, 0.1]]), [[0.93831, 0.72980]], atol=1e-5)
    assert zsl.predict([[0.6, 0.3, 0.1]]).tolist() == [0]  # default labels: row indices of semantic_unseen


def test_conse_is_unchanged_by_rescaling_the_probabilities():
    # Property: the top-k weights are renormalised, so scaled scores give the same embedding.
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(5), size=20)
    zsl = ConSE(rng.normal(size=(5, 4)), rng.normal(size=(3, 4)), top_k=3)
    np.testing.assert_allclose(zsl.embed(p), zsl.embed(7.0 * p))


def test_conse_errors():
    with pytest.raises(ValueError, match=r"semantic_seen of shape \(3, 3\) and semantic_unseen of shape \(2, 4\)"):
        ConSE(SEEN, np.ones((2, 4)))
    for k in (0, 4, 1.5):
        with pytest.raises(ValueError, match=f"top_k must be an integer from 1 to the 3 seen classes, got {k}"):
            ConSE(SEEN, UNSEEN, top_k=k)
    with pytest.raises(ValueError, match=r"unseen_classes has shape \(3,\); expected .* \(2,\)"):
        ConSE(SEEN, UNSEEN, top_k=2, unseen_classes=["a", "b", "c"])
    zsl = ConSE(SEEN, UNSEEN, top_k=2)
    with pytest.raises(ValueError, match=r"probabilities of shape \(1, 4\) must have one column per seen class \(3"):
        zsl.predict(np.full((1, 4), 0.25))
    with pytest.raises(ValueError, match="must not be negative"):
        zsl.predict([[2.0, -1.0, 0.5]])
    with pytest.raises(ValueError, match=r"rows \[1\] sum to zero"):
        zsl.predict([[0.6, 0.3, 0.1], [0.0, 0.0, 0.0]])


# ------------------------------------------------------------------------------------------
# embed
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_classifier():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(hidden)
    return keras.Model(inputs, outputs)


def test_embed_named_and_penultimate_layers_against_numpy(tiny_classifier):
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    kernel, bias = tiny_classifier.get_layer("hidden").get_weights()
    expected = np.maximum(x @ kernel + bias, 0.0)  # the hidden layer by hand
    np.testing.assert_allclose(embed(tiny_classifier, x, layer="hidden", batch_size=3), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(embed(tiny_classifier, x, layer="penultimate"), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(embed(tiny_classifier, x), tiny_classifier.predict(x, verbose=0), rtol=1e-6)


def test_embed_dataset_of_labelled_batches_equals_arrays(tiny_classifier):
    x = np.random.default_rng(1).normal(size=(9, 4)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, np.arange(9))).batch(4)
    np.testing.assert_allclose(embed(tiny_classifier, ds, layer="hidden"), embed(tiny_classifier, x, layer="hidden"), rtol=1e-6)
    unlabelled = tf.data.Dataset.from_tensor_slices(x).batch(4)
    np.testing.assert_allclose(embed(tiny_classifier, unlabelled), embed(tiny_classifier, x), rtol=1e-6)


def test_embed_flattens_a_feature_map():
    inputs = keras.Input((5, 5, 1))
    conv = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(conv)))
    x = np.random.default_rng(2).normal(size=(3, 5, 5, 1)).astype("float32")
    maps = keras.Model(inputs, conv).predict(x, verbose=0)  # (3, 3, 3, 2)
    np.testing.assert_allclose(embed(model, x, layer="conv"), maps.reshape(3, 18), rtol=1e-6)


def test_embed_errors(tiny_classifier):
    with pytest.raises(ValueError, match="has no layer 'hiden'. Did you mean 'hidden'?"):
        embed(tiny_classifier, np.zeros((1, 4)), layer="hiden")
    with pytest.raises(ValueError, match="data must be a NumPy array or a tf.data.Dataset, got str"):
        embed(tiny_classifier, "images/")
