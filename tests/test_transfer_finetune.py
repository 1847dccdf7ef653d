"""biocnn.transfer fine-tuning: what each phase trains, and what it must leave alone."""

import keras
import numpy as np
import pytest

from biocnn import training, transfer


def tiny_backbone():
    inputs = keras.Input((12, 12, 3))
    x = inputs
    for i in range(3):
        shortcut = x
        x = keras.layers.Conv2D(4, 3, padding="same", name=f"b{i}_conv")(x)
        x = keras.layers.BatchNormalization(name=f"b{i}_bn")(x)
        x = keras.layers.ReLU(name=f"b{i}_relu")(x)
        if i:
            x = keras.layers.Add(name=f"b{i}_add")([shortcut, x])
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, x, name="tiny")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 12, 12, 3)).astype("float32")
    return x, (x.mean(axis=(1, 2, 3)) > 0).astype("int64")


def snapshot(model):
    return {w.path: np.array(w.numpy()) for w in model.weights}


CONFIG = training.TrainingConfig(epochs=1, batch_size=4, learning_rate=0.5, early_stopping_patience=None)


def test_blocks_are_found_from_the_graph():
    model = transfer.classifier(tiny_backbone(), 2)
    blocks = [[layer.name for layer in block] for block in transfer.backbone_blocks(model)]
    assert blocks == [["b0_conv", "b0_bn", "b0_relu"], ["b1_conv", "b1_bn", "b1_relu", "b1_add"],
                      ["b2_conv", "b2_bn", "b2_relu", "b2_add", "pool"]]
    resnet = transfer.backbone_blocks(keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3)))
    assert [block[-1].name for block in resnet[-3:]] == ["conv5_block1_out", "conv5_block2_out", "conv5_block3_out"]


def test_phase_one_trains_the_head_only(data):
    model = transfer.classifier(tiny_backbone(), 2, dropout=0.0)
    before = snapshot(model)
    assert transfer.freeze_backbone(model) == ["tiny_classifier_head_logits"]
    training.fit(model, *data, config=CONFIG, verbose=0)
    after = snapshot(model)
    for path, value in before.items():
        if "head" in path:
            assert not np.allclose(after[path], value), path
        else:
            np.testing.assert_array_equal(after[path], value, err_msg=path)


def test_phase_two_moves_unfrozen_convs_but_never_batch_norm_statistics(data):
    model = transfer.classifier(tiny_backbone(), 2)
    before = snapshot(model)
    assert transfer.unfreeze_top(model, 1) == ["b2_conv"]
    assert not model.get_layer("b2_bn").trainable
    training.fit(model, *data, config=CONFIG, verbose=0)
    after = snapshot(model)
    assert not np.allclose(after[model.get_layer("b2_conv").kernel.path], before[model.get_layer("b2_conv").kernel.path])
    for i in range(3):
        bn = model.get_layer(f"b{i}_bn")
        for w in (bn.moving_mean, bn.moving_variance, bn.gamma, bn.beta):
            np.testing.assert_array_equal(after[w.path], before[w.path], err_msg=w.path)
    np.testing.assert_array_equal(after[model.get_layer("b0_conv").kernel.path], before[model.get_layer("b0_conv").kernel.path])


def test_fine_tune_runs_both_phases_with_their_own_checkpoints(data, tmp_path):
    model = transfer.classifier(tiny_backbone(), 2)
    config = training.TrainingConfig(epochs=2, batch_size=4, learning_rate=0.1)
    result = transfer.fine_tune(model, *data, validation=data, config=config, head_epochs=1, unfreeze="all",
                                fine_tune_lr_factor=0.1, checkpoint_dir=str(tmp_path), verbose=0)
    assert list(result.history["phase"]) == ["head", "fine_tune", "fine_tune"]
    assert list(result.history["epoch"]) == [1, 2, 3]
    np.testing.assert_allclose(result.history["learning_rate"].iloc[1], 0.01, rtol=1e-6)
    assert (tmp_path / "head" / "state.json").exists() and (tmp_path / "fine_tune" / "state.json").exists()
    assert sorted(result.unfrozen) == ["b0_conv", "b1_conv", "b2_conv"]
    # resuming a finished run trains nothing and ends with the same weights
    again = transfer.fine_tune(model, *data, validation=data, config=config, head_epochs=1, unfreeze="all",
                               checkpoint_dir=str(tmp_path), verbose=0)
    assert again.fine_tune.resumed_from == 2 and again.best_epoch == result.best_epoch
    with pytest.raises(ValueError, match="fine_tune_lr_factor must be in"):
        transfer.fine_tune(model, *data, config=config, fine_tune_lr_factor=2.0)
    with pytest.raises(ValueError, match="n must be a non-negative int or 'all'"):
        transfer.unfreeze_top(model, -1)


def test_random_weights_can_train_batch_norm_in_phase_two(data):
    # Random weights: moving mean 0 / variance 1 normalise nothing, so train_batch_norm lets them move.
    model = transfer.classifier(tiny_backbone(), 2)
    assert transfer.unfreeze_top(model, 1, train_batch_norm=True) == ["b2_conv", "b2_bn"]
    bn, frozen_bn = model.get_layer("b2_bn"), model.get_layer("b1_bn")
    before_mean, before_frozen = np.array(bn.moving_mean.numpy()), np.array(frozen_bn.moving_mean.numpy())
    training.fit(model, *data, config=CONFIG, verbose=0)
    assert not np.allclose(bn.moving_mean.numpy(), before_mean)
    np.testing.assert_array_equal(frozen_bn.moving_mean.numpy(), before_frozen)


def test_batch_norm_momentum_is_set_in_nested_models():
    inner = tiny_backbone()
    model = transfer.classifier(keras.Sequential([keras.Input((12, 12, 3)), inner]), 2)
    assert transfer.set_batch_norm_momentum(model, 0.9) == 3
    assert [inner.get_layer(f"b{i}_bn").momentum for i in range(3)] == [0.9, 0.9, 0.9]
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1.0"):
        transfer.set_batch_norm_momentum(model, 1.0)
