"""Policies from names and specs, and augmentation inside biocnn.training.fit (exact resume)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from biocnn import augment, training
from biocnn.training import TrainingConfig

RNG = np.random.default_rng(4)


def _classes(pipeline):
    return [type(layer).__name__ for layer in pipeline.layers]


def test_named_policies_build_the_documented_layers():
    assert _classes(augment.policy("microscopy", rank=2, channels=1)) == [
        "RandomFlip", "RandomRotation", "RandomScaleCrop", "RandomCrop", "RandomContrast", "RandomErasing"]
    assert "RandomColor" in _classes(augment.policy("microscopy", rank=2, channels=3))
    assert _classes(augment.policy("volume", rank=3)) == [
        "RandomFlip", "RandomRot90", "RandomRotation", "RandomScaleCrop", "RandomContrast", "RandomGamma",
        "GaussianNoise"]
    assert _classes(augment.policy("sequence", rank=1, channels=4)) == ["ReverseComplement", "RandomShift"]
    assert _classes(augment.policy("none", rank=2)) == ["Identity"]
    assert set(augment.POLICIES) >= {"none", "microscopy", "volume", "sequence"}


@pytest.mark.parametrize("name,shape", [
    ("microscopy", (4, 12, 16, 3)), ("microscopy", (4, 6, 8, 8, 1)), ("volume", (4, 8, 8, 8, 1)),
    ("sequence", (4, 30, 4)), ("none", (4, 8, 8, 1)),
])
def test_policies_augment_in_training_only(name, shape):
    x = RNG.random(shape).astype("float32")
    pipeline = augment.policy(name, rank=len(shape) - 2, seed=0, channels=shape[-1])
    np.testing.assert_array_equal(pipeline(x, training=False), x)
    out = pipeline(x, training=True)
    assert out.shape == x.shape
    assert np.array_equal(out, x) == (name == "none")
    # The policy's rank lets it take unbatched samples, e.g. in tf.data before batching. (A
    # keras.Sequential fixes its input rank at its first call: one pipeline per layout.)
    per_sample = augment.policy(name, rank=len(shape) - 2, seed=0, channels=shape[-1])
    if name == "sequence":
        samples = tf.data.Dataset.from_tensor_slices(x).map(lambda s: per_sample(s, training=True))
        assert [s.shape for s in samples.as_numpy_iterator()] == [x.shape[1:]] * len(x)
    else:
        assert per_sample(x[0], training=True).shape == x.shape[1:]


def test_spec_strings_set_arguments_and_seeds_are_distinct_and_repeatable():
    pipeline = augment.policy("flip, rot90, contrast=0.3, color(hue=0.02, saturation=0.4), rotation=(-5, 30)",
                              rank=2, seed=10, channels=3)
    flip, rot90, contrast, color, rotation = pipeline.layers
    assert (contrast.factor, color.hue, color.saturation) == ((-0.3, 0.3), (-0.02, 0.02), (-0.4, 0.4))
    assert rotation.degrees == (-5.0, 30.0)
    assert [layer.seed for layer in pipeline.layers] == [10, 11, 12, 13, 14]
    assert all(layer.rank == 2 for layer in pipeline.layers)
    x = RNG.random((3, 8, 8, 3)).astype("float32")
    again = augment.policy("flip,rot90,contrast=0.3,color(hue=0.02,saturation=0.4),rotation=(-5,30)",
                           rank=2, seed=10, channels=3)
    np.testing.assert_array_equal(pipeline(x, training=True), again(x, training=True))
    assert augment.parse_spec("shift=0.1,erasing(fill=0.5)") == [("shift", {"max_shift": 0.1}), ("erasing", {"fill": 0.5})]


def test_image_and_mask_go_through_a_policy_together():
    mask = RNG.integers(0, 3, size=(4, 8, 8, 1)).astype("int32")
    pipeline = augment.policy("flip,rot90,crop=2", rank=2, seed=0)
    out = pipeline({"image": mask.astype("float32"), "mask": mask}, training=True)
    np.testing.assert_array_equal(out["image"], out["mask"])
    assert not np.array_equal(out["mask"], mask)


def test_policy_errors_suggest_the_fix():
    with pytest.raises(ValueError, match="Unknown augmentation policy 'microscopie'. Did you mean 'microscopy'?"):
        augment.policy("microscopie", rank=2)
    with pytest.raises(ValueError, match="Unknown augmentation 'fipl' in spec entry 'fipl'. Did you mean 'flip'?"):
        augment.policy("rot90,fipl", rank=2)
    with pytest.raises(ValueError, match="'mixup' changes the labels"):
        augment.policy("flip,mixup", rank=2)
    with pytest.raises(ValueError, match="RandomContrast takes no argument 'factr'. Did you mean 'factor'?"):
        augment.policy("contrast(factr=0.2)", rank=2)
    with pytest.raises(ValueError, match="cannot read the value 'big'"):
        augment.policy("contrast=big", rank=2)
    with pytest.raises(ValueError, match="policy 'volume' is meant for rank 3, got rank=2"):
        augment.policy("volume", rank=2)
    with pytest.raises(ValueError, match="'color' needs 3 channels, but channels=1"):
        augment.policy("flip,color", rank=2, channels=1)
    with pytest.raises(ValueError, match="augmentation 'rot90' in policy 'rot90': RandomRot90 needs 2 or 3 spatial axes, got 1"):
        augment.policy("rot90", rank=1)
    with pytest.raises(ValueError, match="rank must be 1 .sequences., 2 .images. or 3 .volumes."):
        augment.policy("flip", rank=None)


def test_a_policy_saves_inside_a_model(tmp_path):
    model = keras.Sequential([keras.Input((8, 8, 8, 1)), augment.policy("volume", rank=3, seed=1),
                              keras.layers.GlobalAveragePooling3D()])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert _classes(loaded.layers[0]) == _classes(model.layers[0])
    assert [layer.get_config() for layer in loaded.layers[0].layers] == [layer.get_config() for layer in model.layers[0].layers]


def _images(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8, 1)).astype("float32")
    return x, (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype("int64")


def _cnn(seed=1):
    training.set_seed(seed)
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt("simulated kill")


def test_fit_with_a_policy_resumes_exactly_and_takes_mixup_batches(tmp_path):
    x, y = _images(24)
    config = TrainingConfig(epochs=2, batch_size=8, seed=2, early_stopping_patience=None)

    def run(folder, callbacks=()):
        return training.fit(_cnn(), x, y, (x, y), config, checkpoint_dir=str(tmp_path / folder),
                            augmentation=augment.policy("flip,rot90,noise=0.05", rank=2, seed=3),
                            callbacks=callbacks, verbose=0)

    reference = run("a")
    with pytest.raises(KeyboardInterrupt):
        run("b", callbacks=[_Interrupt()])
    resumed = run("b")
    assert resumed.resumed_from == 1
    np.testing.assert_allclose(resumed.history["loss"], reference.history["loss"], rtol=1e-6)

    mixup = augment.MixUp(alpha=0.4, num_classes=2, seed=0)
    result = training.fit(_cnn(), x, y, (x, y), TrainingConfig(epochs=1, batch_size=8), verbose=0,
                          batch_transform=mixup.batch_transform)
    assert np.isfinite(result.history["loss"]).all()
