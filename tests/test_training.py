import dataclasses
import json
import warnings
import os

import keras
import numpy as np
import pytest

from biocnn import training
from biocnn.training import TrainingConfig


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")
    return x, y


def _model(seed=1, dropout=0.25):
    training.set_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )


class _Interrupt(keras.callbacks.Callback):
    """Simulates a killed job: raises in the middle of epoch ``epoch`` (1-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._current_epoch + 1 == self.epoch and batch == 1:
            raise KeyboardInterrupt("simulated kill")

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch


CONFIG = TrainingConfig(epochs=5, batch_size=8, learning_rate=0.05, lr_drop_patience=1, seed=3)


def test_resume_after_interruption_gives_the_same_final_weights(tmp_path):
    x, y = _data()
    val = _data(16, seed=9)

    reference = _model()
    ref_result = training.fit(reference, x, y, val, CONFIG, checkpoint_dir=str(tmp_path / "a"), verbose=0)

    interrupted = _model()
    with pytest.raises(KeyboardInterrupt):
        training.fit(
            interrupted, x, y, val, CONFIG, checkpoint_dir=str(tmp_path / "b"),
            callbacks=[_Interrupt(epoch=4)], verbose=0,
        )
    with open(tmp_path / "b" / "state.json") as f:
        assert json.load(f)["epoch"] == 3  # epochs 1-3 were checkpointed, epoch 4 was cut short

    # A fresh process would build the model again from scratch: different initial weights
    # must not matter, since the checkpoint replaces them.
    resumed = _model(seed=99)
    result = training.fit(resumed, x, y, val, CONFIG, checkpoint_dir=str(tmp_path / "b"), verbose=0)

    assert result.resumed_from == 3
    assert list(result.history["epoch"]) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(result.history["loss"], ref_result.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(
        result.history["learning_rate"], ref_result.history["learning_rate"], rtol=1e-6
    )
    assert result.best_epoch == ref_result.best_epoch
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # The last checkpoint also holds the optimizer's velocities: compare them too.
    last_ref = _model()
    last_res = _model()
    for m in (last_ref, last_res):
        training.compile_model(m, CONFIG)
        m.optimizer.build(m.trainable_variables)
    last_ref.load_weights(training.weights_file(str(tmp_path / "a"), training.load_checkpoint(tmp_path / "a")))
    last_res.load_weights(training.weights_file(str(tmp_path / "b"), training.load_checkpoint(tmp_path / "b")))
    for a, b in zip(last_ref.optimizer.variables, last_res.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_same_seed_same_run_and_other_seed_other_run():
    x, y = _data()
    config = TrainingConfig(epochs=2, batch_size=8, seed=5)
    runs = []
    for model_seed, data_seed in ((1, 5), (1, 5), (1, 6)):
        model = _model(seed=model_seed)
        training.fit(model, x, y, config=TrainingConfig(epochs=2, batch_size=8, seed=data_seed), verbose=0)
        runs.append(model.get_weights()[0])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])
    assert config.seed == 5


def test_epoch_order_depends_on_seed_and_epoch_only():
    a = training.epoch_order(10, seed=1, epoch=3)
    assert sorted(a) == list(range(10))
    np.testing.assert_array_equal(a, training.epoch_order(10, seed=1, epoch=3))
    assert not np.array_equal(a, training.epoch_order(10, seed=1, epoch=4))


def test_array_batches_cover_each_sample_once_per_epoch():
    x = np.arange(10, dtype="float32")[:, None]
    batches = list(training.array_batches(x, np.arange(10), 4, seed=0, first_epoch=0, last_epoch=2))
    assert [len(b[1]) for b in batches] == [4, 4, 2, 4, 4, 2]
    for epoch in (batches[:3], batches[3:]):
        labels = np.concatenate([b[1].numpy() for b in epoch])
        assert sorted(labels) == list(range(10))
        np.testing.assert_array_equal(np.concatenate([b[0].numpy()[:, 0] for b in epoch]), labels)


def test_learning_rate_is_divided_by_ten_on_a_plateau():
    x, y = _data()
    # At lr 1e-5 the loss moves by far less than min_improvement (1e-4) per epoch, so every
    # epoch after the first is a plateau: with patience 1 the rate drops after epochs 2 and 3.
    config = TrainingConfig(epochs=4, batch_size=8, learning_rate=1e-5, lr_drop_patience=1,
                            min_learning_rate=1e-9, early_stopping_patience=None)
    result = training.fit(_model(), x, y, config=config, verbose=0)
    np.testing.assert_allclose(result.history["learning_rate"], [1e-5, 1e-5, 1e-6, 1e-7], rtol=1e-5)


def test_best_validation_epoch_is_kept(tmp_path):
    x, y = _data()
    val = _data(16, seed=9)
    model = _model()
    result = training.fit(
        model, x, y, val, TrainingConfig(epochs=4, batch_size=8, learning_rate=0.05),
        checkpoint_dir=str(tmp_path), verbose=0,
    )
    best = result.history.loc[result.history["val_loss"].idxmin()]
    assert result.best_epoch == int(best["epoch"])
    model.compile(loss="sparse_categorical_crossentropy")
    # The kept weights reproduce the best epoch's validation loss (no weight decay in it).
    val_loss = model.evaluate(*val, verbose=0, return_dict=True)["loss"]
    assert val_loss == pytest.approx(best["val_loss"], rel=1e-4)


def test_early_stopping_stops_and_says_so():
    x, y = _data()
    # Nothing improves by min_improvement at this rate: epoch 1 sets the best, epochs 2 and 3
    # exhaust a patience of 2, and training stops after epoch 3.
    config = TrainingConfig(epochs=30, batch_size=8, learning_rate=1e-7, early_stopping_patience=2,
                            lr_drop_patience=10, min_learning_rate=1e-9)
    result = training.fit(_model(), x, y, (x, y), config, verbose=0)
    assert result.stopped_early
    assert list(result.history["epoch"]) == [1, 2, 3]


def test_resume_with_other_settings_is_refused(tmp_path):
    x, y = _data()
    config = TrainingConfig(epochs=1, batch_size=8)
    training.fit(_model(), x, y, config=config, checkpoint_dir=str(tmp_path), verbose=0)
    other = TrainingConfig(epochs=2, batch_size=16)
    with pytest.raises(ValueError, match=r"other settings \(batch_size: 8 -> 16\)"):
        training.fit(_model(), x, y, config=other, checkpoint_dir=str(tmp_path), verbose=0)
    # Only the number of epochs may change: training continues to the new total.
    result = training.fit(_model(), x, y, config=TrainingConfig(epochs=2, batch_size=8),
                          checkpoint_dir=str(tmp_path), verbose=0)
    assert result.resumed_from == 1 and list(result.history["epoch"]) == [1, 2]


def test_checkpoint_files_are_complete(tmp_path):
    x, y = _data()
    training.fit(_model(), x, y, config=TrainingConfig(epochs=1, batch_size=8),
                 checkpoint_dir=str(tmp_path), verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["epoch-0001.weights.h5", "state.json"]
    state = training.load_checkpoint(tmp_path)
    assert state["weights"]["last"] == state["weights"]["best"]  # epoch 1 is the best so far


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, r"TrainingConfig.epochs must be a positive integer, got 0"),
        ({"batch_size": 2.5}, r"TrainingConfig.batch_size must be a positive integer, got 2.5"),
        ({"lr_drop_factor": 1.5}, r"lr_drop_factor must be between 0 and 1, got 1.5"),
        ({"loss": "cross_entropi"}, r"Unknown loss 'cross_entropi'. Did you mean 'cross_entropy'"),
    ],
)
def test_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**kwargs)


def test_mismatched_data_is_refused():
    with pytest.raises(ValueError, match="different numbers of samples: 10 and 9"):
        training.array_batches(np.zeros((10, 2)), np.zeros(9), 4, 0, 0, 1)


def test_resume_keeps_the_plateau_counter(tmp_path):
    # At lr 1e-5 every epoch after the first is a plateau. With patience 2 the rate drops after
    # epochs 3 and 5. The run is cut during epoch 3, when the plateau counter stands at 1: a
    # resume that forgot the counter would not drop after epoch 3.
    x, y = _data()
    config = TrainingConfig(epochs=5, batch_size=8, learning_rate=1e-5, lr_drop_patience=2,
                            min_learning_rate=1e-9, early_stopping_patience=None)
    with pytest.raises(KeyboardInterrupt):
        training.fit(_model(), x, y, config=config, checkpoint_dir=str(tmp_path),
                     callbacks=[_Interrupt(epoch=3)], verbose=0)
    result = training.fit(_model(), x, y, config=config, checkpoint_dir=str(tmp_path), verbose=0)
    assert result.resumed_from == 2
    np.testing.assert_allclose(result.history["learning_rate"], [1e-5, 1e-5, 1e-5, 1e-6, 1e-6], rtol=1e-5)


class _AddOne(keras.layers.Layer):
    """A stand-in augmentation: adds 1 in training, identity otherwise."""

    def call(self, inputs, training=None):
        return inputs + 1.0 if training else inputs


def test_augmentation_runs_in_training_only_and_the_model_stays_clean():
    x, y = _data()
    model = _model(dropout=0.0)
    seen = []

    class Spy(keras.layers.Layer):
        def call(self, inputs, training=None):
            seen.append(bool(training))
            return inputs

    result = training.fit(model, x, y, (x, y), TrainingConfig(epochs=1, batch_size=8),
                          augmentation=keras.Sequential([_AddOne(), Spy()]), verbose=0)
    assert len(result.history) == 1
    assert True in seen  # traced in training mode
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dropout", "Dense"]
    # The caller's model holds the trained weights and is compiled for evaluate().
    assert np.isfinite(model.evaluate(x, y, verbose=0, return_dict=True)["loss"])


def test_batch_transform_sees_training_batches_only():
    x, y = _data()
    model = _model(dropout=0.0)
    # Zeroing every training input leaves only the biases to learn: the first-layer kernel of
    # the model must stay exactly at its initial value (its gradient is x = 0; decay is not
    # applied to it here because weight_decay = 0).
    kernel0 = model.get_weights()[0].copy()
    config = TrainingConfig(epochs=1, batch_size=8, weight_decay=0.0)
    training.fit(model, x, y, (x, y), config, verbose=0,
                 batch_transform=lambda xb, yb: (xb * 0.0, yb))
    np.testing.assert_array_equal(model.get_weights()[0], kernel0)


def test_mixup_in_the_training_step_keeps_validation_metrics_right_and_resumes(tmp_path):
    from biocnn.augment import MixUp

    x, y = _data()
    val = _data(16, seed=9)
    config = TrainingConfig(epochs=3, batch_size=8, learning_rate=0.05, seed=2)
    model = _model(dropout=0.0)
    result = training.fit(model, x, y, val, config, checkpoint_dir=str(tmp_path / "a"),
                          mixup=MixUp(alpha=0.4, num_classes=2, seed=5), verbose=0)
    best = result.history.loc[result.history["epoch"] == result.best_epoch].iloc[0]
    # The kept model's accuracy on the integer validation labels is the history's val_accuracy.
    accuracy = np.mean(model.predict(val[0], verbose=0).argmax(1) == val[1])
    assert best["val_accuracy"] == pytest.approx(accuracy)

    interrupted = _model(dropout=0.0)
    with pytest.raises(KeyboardInterrupt):
        training.fit(interrupted, x, y, val, config, checkpoint_dir=str(tmp_path / "b"),
                     mixup=MixUp(alpha=0.4, num_classes=2, seed=5), callbacks=[_Interrupt(epoch=3)], verbose=0)
    resumed = _model(seed=42, dropout=0.0)
    again = training.fit(resumed, x, y, val, config, checkpoint_dir=str(tmp_path / "b"),
                         mixup=MixUp(alpha=0.4, num_classes=2, seed=5), verbose=0)
    assert again.resumed_from == 2
    np.testing.assert_allclose(again.history["loss"], result.history["loss"], rtol=1e-6)
    for a, b in zip(model.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_resume_on_other_data_is_refused_and_names_the_change(tmp_path):
    # fit(checkpoint_dir=...) called again on other data used to return the first run's weights.
    x, y = _data()
    config = TrainingConfig(epochs=1, batch_size=8)
    training.fit(_model(), x, y, (x[:8], y[:8]), config=config, checkpoint_dir=str(tmp_path), verbose=0)
    other_x, other_y = _data(40, seed=5)
    with pytest.raises(ValueError, match=r"trained on other data \(train\[0\]: \(48, 6\) float32 #\w+ -> "
                                         r"\(40, 6\) float32 #\w+; train\[1\]"):
        training.fit(_model(), other_x, other_y, (x[:8], y[:8]), config=config,
                     checkpoint_dir=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match=r"other data \(validation\[1\]"):
        training.fit(_model(), x, y, (x[:8], 1 - y[:8]), config=config, checkpoint_dir=str(tmp_path), verbose=0)
    # Same data, more epochs: allowed.
    more = training.fit(_model(), x, y, (x[:8], y[:8]), config=TrainingConfig(epochs=2, batch_size=8),
                        checkpoint_dir=str(tmp_path), verbose=0)
    assert more.resumed_from == 1 and len(more.history) == 2


def test_a_given_data_fingerprint_is_checked(tmp_path):
    x, y = _data()
    config = TrainingConfig(epochs=1, batch_size=8)
    training.fit(_model(), x, y, config=config, checkpoint_dir=str(tmp_path), verbose=0,
                 data_fingerprint={"ids": ["a", "b"], "test_size": 0.2})
    with pytest.raises(ValueError, match=r"other data \(test_size: 0.2 -> 0.3\)"):
        training.fit(_model(), x, y, config=config, checkpoint_dir=str(tmp_path), verbose=0,
                     data_fingerprint={"ids": ["a", "b"], "test_size": 0.3})


@pytest.fixture(scope="module")
def _runs(tmp_path_factory):
    """A 4-epoch reference run and a run stopped after epoch 3, trained once for the tests below."""
    root = tmp_path_factory.mktemp("torn")
    config = dataclasses.replace(CONFIG, epochs=4)
    reference = training.fit(_model(), *_data(), config=config, checkpoint_dir=str(root / "a"), verbose=0)
    training.fit(_model(), *_data(), config=dataclasses.replace(config, epochs=3), checkpoint_dir=str(root / "b"), verbose=0)
    return config, reference, root / "b"


@pytest.mark.parametrize("damage, resumed_from", [("crash_before_commit", 3), ("truncated_weights", 2),
                                                   ("both_damaged", None)])
def test_a_torn_checkpoint_falls_back_on_the_previous_one_and_resume_stays_exact(_runs, tmp_path, damage, resumed_from):
    import shutil

    config, ref, stopped = _runs
    x, y = _data()
    folder = tmp_path / "b"
    shutil.copytree(stopped, folder)
    state = training.load_checkpoint(folder)
    last = folder / state["weights"]["last"]["file"]
    previous = folder / json.loads((folder / "state.previous.json").read_text())["weights"]["last"]["file"]
    if damage == "crash_before_commit":  # epoch 4's weights on disk, the state not yet committed
        (folder / training.epoch_weights(4)).write_bytes(last.read_bytes()[:100])
    if damage in ("truncated_weights", "both_damaged"):  # a disk fault, a copy cut short
        last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    if damage == "both_damaged":
        previous.write_bytes(b"")
        with pytest.raises(ValueError, match=r"Cannot resume from .*: no complete checkpoint \(state.json \(epoch 3\): "
                                             r"its last weights epoch-0003.weights.h5 do not match their checksum"):
            training.fit(_model(seed=7), x, y, config=config, checkpoint_dir=str(folder), verbose=0)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = training.fit(_model(seed=7), x, y, config=config, checkpoint_dir=str(folder), verbose=0)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    if resumed_from == 2:
        assert any("is incomplete" in m and "do not match their checksum" in m and "epoch 2" in m for m in messages)
    assert result.resumed_from == resumed_from
    np.testing.assert_allclose(result.history["loss"], ref.history["loss"], rtol=1e-6)


def test_only_the_current_and_previous_checkpoints_are_kept(tmp_path):
    x, y = _data()
    training.fit(_model(), x, y, (x, y), config=dataclasses.replace(CONFIG, epochs=4, lr_drop_patience=5),
                 checkpoint_dir=str(tmp_path), verbose=0)
    state = training.load_checkpoint(tmp_path)
    kept = {f for f in os.listdir(tmp_path) if f.endswith(".weights.h5")}
    previous = json.loads((tmp_path / "state.previous.json").read_text())
    expected = {e["file"] for s in (state, previous) for e in s["weights"].values()}
    assert kept == expected and "epoch-0004.weights.h5" in kept and "epoch-0003.weights.h5" in kept
    # the kept best weights are those of the best validation epoch
    best = _model()
    training.compile_model(best, CONFIG)
    best.optimizer.build(best.trainable_variables)
    best.load_weights(training.weights_file(str(tmp_path), state, "best"))
    assert state["weights"]["best"]["file"] == training.epoch_weights(state["best"]["epoch"])


def test_a_checkpoint_of_the_former_layout_still_resumes(tmp_path):
    # last.weights.h5 + best.weights.h5 + state.json without checksums (before one-unit commits)
    x, y = _data()
    config = TrainingConfig(epochs=2, batch_size=8)
    model = _model()
    training.fit(model, x, y, (x, y), config=TrainingConfig(epochs=1, batch_size=8), checkpoint_dir=str(tmp_path), verbose=0)
    state = training.load_checkpoint(tmp_path)
    os.replace(tmp_path / state["weights"]["last"]["file"], tmp_path / "last.weights.h5")
    training.compile_model(model, config)
    model.save_weights(tmp_path / "best.weights.h5")
    del state["weights"], state["data"]
    (tmp_path / "state.json").write_text(json.dumps(state))
    result = training.fit(_model(seed=5), x, y, (x, y), config=config, checkpoint_dir=str(tmp_path), verbose=0)
    assert result.resumed_from == 1 and len(result.history) == 2
    assert training.load_checkpoint(tmp_path)["weights"]["best"] is not None
