"""Phase 1 of fine-tuning on the frozen backbone's features computed once: the same training, run once."""

import keras
import numpy as np
import pytest

from biocnn import training, transfer
from biocnn.transfer import finetune


def backbone(pooled):
    inputs = keras.Input((10, 10, 2))
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    if pooled:
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, x, name="net")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 10, 10, 2)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > x[..., 1].mean(axis=(1, 2))).astype("int64")
    return x[:30], y[:30], (x[30:], y[30:])


def twin_classifiers(pooled, dropout=0.0):
    keras.utils.set_random_seed(3)
    first = transfer.classifier(backbone(pooled), 2, dropout=dropout)
    second = keras.models.clone_model(first)
    second.set_weights(first.get_weights())
    from biocnn.distribute.replicas import seed_generators

    for a, b in zip(seed_generators(first), seed_generators(second), strict=True):
        b.state.assign(a.state)  # the same dropout masks
    return first, second


CONFIG = training.TrainingConfig(epochs=3, batch_size=8, learning_rate=0.2, early_stopping_patience=None)


@pytest.fixture
def fitted(monkeypatch):
    """The names of the models training.fit was given."""
    names = []
    fit = training.fit

    def recording(model, *args, **kwargs):
        names.append(model.name)
        return fit(model, *args, **kwargs)

    monkeypatch.setattr(training, "fit", recording)
    return names


@pytest.mark.parametrize("pooled,dropout", [(True, 0.0), (False, 0.0), (True, 0.4)],
                         ids=["pooled backbone", "head pools a feature map", "dropout in the head"])
def test_head_on_features_computed_once_equals_training_the_whole_model(data, pooled, dropout, fitted):
    x, y, validation = data
    once, whole = twin_classifiers(pooled, dropout)
    initial = once.get_layer("net_classifier_head_logits").kernel.numpy().copy()
    a = transfer.fine_tune(once, x, y, validation=validation, config=CONFIG, head_epochs=3, unfreeze=0, verbose=0)
    b = transfer.fine_tune(whole, x, y, validation=validation, config=CONFIG, head_epochs=3, unfreeze=0, verbose=0,
                           embed_once=False)
    assert fitted == ["net_classifier_head", "net_classifier"]
    for w_once, w_whole in zip(once.weights, whole.weights):
        np.testing.assert_allclose(w_once.numpy(), w_whole.numpy(), rtol=1e-5, atol=1e-6, err_msg=w_once.path)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(a.history["val_loss"], b.history["val_loss"], rtol=1e-5)
    assert a.best_epoch == b.best_epoch
    assert not np.allclose(once.get_layer("net_classifier_head_logits").kernel.numpy(), initial)  # it trained


def test_a_backbone_with_dropout_inside_trains_the_whole_model(data, fitted):
    # Keras's Dropout drops in training even when frozen (keras.applications' EfficientNets have
    # such layers), so the backbone's features change every epoch: not computed once.
    x, y, validation = data
    inputs = keras.Input((10, 10, 2))
    features = keras.layers.Dropout(0.3, name="inner_drop")(keras.layers.Conv2D(4, 3, name="conv")(inputs))
    model = transfer.classifier(keras.Model(inputs, features, name="net"), 2)
    transfer.fine_tune(model, x, y, validation=validation, config=CONFIG, head_epochs=1, unfreeze=0, verbose=0)
    assert fitted == ["net_classifier"]
    from biocnn.models.zoo_layers import StochasticDepth  # the identity when frozen: computed once

    branch = StochasticDepth(0.5, name="sd")(keras.layers.Conv2D(2, 3, padding="same", name="conv")(inputs))
    fitted.clear()
    model = transfer.classifier(keras.Model(inputs, keras.layers.Add()([inputs, branch]), name="net"), 2)
    transfer.fine_tune(model, x, y, validation=validation, config=CONFIG, head_epochs=1, unfreeze=0, verbose=0)
    assert fitted == ["net_classifier_head"]


def test_inputs_that_change_each_epoch_train_the_whole_model(data, fitted):
    x, y, validation = data
    model, _ = twin_classifiers(True)
    flip = keras.layers.RandomFlip("horizontal", seed=0)
    transfer.fine_tune(model, x, y, validation=validation, config=CONFIG, head_epochs=1, unfreeze=0, verbose=0,
                       augmentation=flip)
    assert fitted == ["net_classifier"]


def test_split_head_copies_the_head_after_the_pooling():
    model = transfer.classifier(backbone(False), 3, dropout=0.3)
    features, head = finetune.split_head(model)
    assert features.output_shape == (None, 6)
    assert [layer.name for layer in head.layers[1:]] == [f"net_classifier_head_{part}" for part in ("dropout", "logits", "probs")]
    assert head.get_layer("net_classifier_head_dropout").rate == 0.3
    probe = np.random.default_rng(0).normal(size=(4, 10, 10, 2)).astype("float32")
    np.testing.assert_allclose(head(features(probe)), model(probe), rtol=1e-6)
    assert finetune.split_head(backbone(True)) is None  # no head
    scaled = keras.Model(model.inputs, keras.layers.Activation("softmax", name="after")(model.outputs[0]))
    assert finetune.split_head(scaled) is None  # a layer after the head: not the whole path


def test_a_resume_on_other_inputs_is_refused(data, tmp_path):
    x, y, validation = data
    model, _ = twin_classifiers(True)
    transfer.fine_tune(model, x, y, validation=validation, config=CONFIG, head_epochs=1, unfreeze=0, verbose=0,
                       checkpoint_dir=str(tmp_path))
    again = transfer.fine_tune(model, x, y, validation=validation, config=CONFIG, head_epochs=1, unfreeze=0,
                               verbose=0, checkpoint_dir=str(tmp_path))
    assert again.head.resumed_from == 1
    with pytest.raises(ValueError, match=r"trained on other data \(train\[0\]: \(30, 10, 10, 2\)"):
        transfer.fine_tune(model, x[::-1].copy(), y, validation=validation, config=CONFIG, head_epochs=2, unfreeze=0,
                           verbose=0, checkpoint_dir=str(tmp_path))


def test_the_module_examples_run():
    import doctest

    assert doctest.testmod(finetune, optionflags=doctest.ELLIPSIS).failed == 0


def test_a_checkpoint_of_the_whole_model_path_is_not_resumed_on_features(data, tmp_path):
    x, y, validation = data
    model, _ = twin_classifiers(True)
    transfer.fine_tune(model, x, y, validation=validation, config=CONFIG, head_epochs=1, unfreeze=0, verbose=0,
                       checkpoint_dir=str(tmp_path), embed_once=False)
    with pytest.raises(ValueError, match="phase 1"):
        transfer.fine_tune(model, x, y, validation=validation, config=CONFIG, head_epochs=2, unfreeze=0, verbose=0,
                           checkpoint_dir=str(tmp_path))
