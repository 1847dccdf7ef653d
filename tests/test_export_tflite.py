"""TFLite conversion of an export: the interpreter's outputs equal model(x, training=False)."""

import os
import warnings

import keras
import numpy as np
import pytest

from biocnn import augment
from biocnn.data.preprocess import fit_preprocessing, with_preprocessing
from biocnn.export import save, to_tflite


@pytest.fixture(scope="module")
def image_export(tmp_path_factory):
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    train = (rng.random((12, 8, 8, 3)) * 200 + 20).astype("float32")
    network = keras.Sequential([
        keras.Input((8, 8, 3)),
        augment.RandomFlip(seed=0),
        keras.layers.Conv2D(4, 3, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(3, activation="softmax"),
    ])
    network.layers[2].moving_mean.assign(rng.normal(size=4).astype("float32"))
    model = with_preprocessing(fit_preprocessing(train), network)
    path = tmp_path_factory.mktemp("tflite") / "export"
    save(model, path, class_names=["rbc", "wbc", "platelet"], embeddings=False)
    return model, path


def test_tflite_outputs_equal_the_keras_model(image_export, tmp_path):
    import tensorflow as tf

    model, path = image_export
    target = tmp_path / "cells.tflite"
    info = to_tflite(path, target)
    assert info["signature"] == "prepared" and info["inputs"] == ["image"]
    assert info["max_abs_difference"] <= 1e-5
    # An independent check with TensorFlow's interpreter on other data than the built-in probe.
    x = (np.random.default_rng(9).random((4, 8, 8, 3)) * 200 + 20).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter announces its successor, ai_edge_litert
        interpreter = tf.lite.Interpreter(model_path=str(target))
    lite = interpreter.get_signature_runner("prepared")(image=x)
    np.testing.assert_allclose(lite["probabilities"], model(x, training=False).numpy(), rtol=1e-5, atol=1e-6)
    assert [c.decode() for c in lite["class_name"]] == [["rbc", "wbc", "platelet"][i] for i in lite["class_index"]]

    with pytest.raises(FileExistsError, match="already exists. Pass overwrite=True"):
        to_tflite(path, target)
    with pytest.raises(ValueError, match="no signature 'encoded'"):
        to_tflite(path, tmp_path / "other.tflite", signature="encoded")
    assert sorted(os.listdir(tmp_path)) == ["cells.tflite"]
