"""The contract of every augmentation layer: identity outside training and at zero strength,
seeded per-sample draws, unbatched samples, masks, get_config, .keras files and tf.data."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from biocnn import augment

RNG = np.random.default_rng(2)

# name -> (constructor, arguments giving zero strength, spatial ranks, channels)
LAYERS = {
    "RandomFlip": (augment.RandomFlip, {"probability": 0.0}, (1, 2, 3), 2),
    "RandomRot90": (augment.RandomRot90, {"probability": 0.0}, (2, 3), 2),
    "RandomRotation": (augment.RandomRotation, {"degrees": 0}, (2, 3), 2),
    "RandomScaleCrop": (augment.RandomScaleCrop, {"factor": 0}, (1, 2, 3), 2),
    "RandomCrop": (augment.RandomCrop, {"padding": 0}, (1, 2, 3), 2),
    "RandomErasing": (augment.RandomErasing, {"probability": 0.0}, (1, 2, 3), 2),
    "RandomContrast": (augment.RandomContrast, {"factor": 0}, (1, 2, 3), 2),
    "RandomBrightness": (augment.RandomBrightness, {"factor": 0}, (1, 2, 3), 2),
    "RandomColor": (augment.RandomColor, {"hue": 0, "saturation": 0}, (1, 2, 3), 3),
    "GaussianNoise": (augment.GaussianNoise, {"stddev": 0}, (1, 2, 3), 2),
    "RandomGamma": (augment.RandomGamma, {"factor": 0}, (1, 2, 3), 2),
    "ReverseComplement": (augment.ReverseComplement, {"probability": 0.0}, (1,), 4),
    "RandomShift": (augment.RandomShift, {"max_shift": 0}, (1, 2, 3), 2),
}
SPATIAL = {1: (12,), 2: (6, 6), 3: (4, 4, 4)}
CASES = [(name, rank) for name, (_, _, ranks, _) in LAYERS.items() for rank in ranks]
IDS = [f"{name}-{rank}d" for name, rank in CASES]


def _input(name, rank, batch=6):
    channels = LAYERS[name][3]
    if name == "ReverseComplement":
        return np.eye(4, dtype="float32")[RNG.integers(0, 4, size=(batch, 12))]
    return RNG.random((batch,) + SPATIAL[rank] + (channels,)).astype("float32")


def _layer(layer_name, **kwargs):
    return LAYERS[layer_name][0](**kwargs)


@pytest.mark.parametrize("name,rank", CASES, ids=IDS)
def test_identity_outside_training_and_at_zero_strength(name, rank):
    x = _input(name, rank)
    layer = _layer(name, seed=0)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    assert layer.get_random_transformation(x, training=False) is None
    zero = _layer(name, seed=0, **LAYERS[name][1])
    np.testing.assert_array_equal(zero(x, training=True), x)
    assert not np.array_equal(layer(x, training=True), x)  # ... and it does augment in training


@pytest.mark.parametrize("name,rank", CASES, ids=IDS)
def test_same_seed_same_draw_and_successive_draws_differ(name, rank):
    x = _input(name, rank)
    first, second = _layer(name, seed=11), _layer(name, seed=11)
    a = np.asarray(first(x, training=True))
    np.testing.assert_array_equal(a, second(x, training=True))
    assert not np.array_equal(a, first(x, training=True))
    assert not np.array_equal(a, _layer(name, seed=12)(x, training=True))


@pytest.mark.parametrize("name,rank", CASES, ids=IDS)
def test_an_unbatched_sample_is_a_batch_of_one(name, rank):
    x = _input(name, rank, batch=1)
    single = _layer(name, seed=3, rank=rank)(x[0], training=True)
    batch = _layer(name, seed=3, rank=rank)(x, training=True)
    assert single.shape == x[0].shape
    np.testing.assert_allclose(single, np.asarray(batch)[0], atol=1e-6)


# ReverseComplement reverses a per-base mask without the channel flip: see test_augment_intensity.
@pytest.mark.parametrize("name,rank", [c for c in CASES if c[0] != "ReverseComplement"])
def test_the_mask_gets_the_geometric_part_of_the_same_draw(name, rank):
    layer_class, channels = LAYERS[name][0], LAYERS[name][3]
    mask = RNG.integers(0, 3, size=(6,) + SPATIAL[rank] + (1,)).astype("int32")
    image = np.repeat(mask, channels, axis=-1).astype("float32") / 2.0
    kwargs = {"seed": 5}
    if layer_class.geometric and name not in ("RandomFlip", "RandomRot90"):
        kwargs.update(interpolation="nearest", fill_mode="constant", fill_value=0.0)
        if name in ("RandomCrop", "RandomShift"):
            del kwargs["interpolation"]
        kwargs.update({"RandomRotation": {"degrees": 45}, "RandomScaleCrop": {"factor": 0.5}}.get(name, {}))
    labels = np.arange(6)
    out = _layer(name, **kwargs)({"image": image, "mask": mask, "label": labels}, training=True)
    np.testing.assert_array_equal(out["label"], labels)  # other keys pass through
    assert out["mask"].dtype == "int32"
    if layer_class.geometric:
        np.testing.assert_array_equal(np.asarray(out["image"])[..., :1] * 2.0, out["mask"])
        assert not np.array_equal(out["mask"], mask)
    else:
        np.testing.assert_array_equal(out["mask"], mask)
    # A mask without a channel axis comes back without one.
    bare = _layer(name, **kwargs)({"image": image, "mask": mask[..., 0]}, training=True)
    np.testing.assert_array_equal(bare["mask"], np.asarray(out["mask"])[..., 0])


@pytest.mark.parametrize("name", LAYERS)
def test_get_config_round_trips(name):
    layer = _layer(name, seed=4, name=f"my_{name.lower()}")
    config = layer.get_config()
    assert config["seed"] == 4
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


@pytest.mark.parametrize("name,rank", [(name, LAYERS[name][2][-1]) for name in LAYERS])
def test_keras_file_round_trip_inside_a_model(name, rank, tmp_path):
    x = _input(name, rank)
    layer = _layer(name, seed=8, rank=rank)
    model = keras.Sequential([keras.Input(x.shape[1:]), layer])
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    restored = loaded.layers[0]
    assert type(restored) is type(layer) and restored.get_config() == layer.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), x)
    np.testing.assert_allclose(loaded(x, training=True), model(x, training=True), atol=1e-6)


# Rank 2 (or the layer's only rank): graph tracing of the 3D resampler is slow, and the ranks
# share one implementation.
@pytest.mark.parametrize("name,rank", [(name, min(2, LAYERS[name][2][-1])) for name in LAYERS])
def test_works_in_tf_data_map_on_samples_and_on_batches(name, rank):
    x = _input(name, rank)
    layer = _layer(name, seed=1, rank=rank)
    samples = tf.data.Dataset.from_tensor_slices(x).map(lambda s: layer(s, training=True)).batch(6)
    batches = tf.data.Dataset.from_tensor_slices(x).batch(3).map(lambda b: layer(b, training=True))
    out_samples = np.concatenate(list(samples.as_numpy_iterator()))
    out_batches = np.concatenate(list(batches.as_numpy_iterator()))
    assert out_samples.shape == out_batches.shape == x.shape
    assert not np.array_equal(out_samples, x) and not np.array_equal(out_batches, x)


def test_layout_errors_say_what_to_do():
    with pytest.raises(ValueError, match=r"For one unbatched sample, give the layer its rank, e.g. RandomFlip\(rank=1\)"):
        augment.RandomFlip()(np.zeros((12, 4), "float32"), training=True)
    with pytest.raises(ValueError, match=r"RandomFlip\(rank=3\) expects .* got an input with 3 axes"):
        augment.RandomFlip(rank=3)(np.zeros((2, 8, 1), "float32"), training=True)
    with pytest.raises(ValueError, match="A dict input needs an 'image' key"):
        augment.RandomFlip()({"images": np.zeros((2, 8, 1), "float32")}, training=True)
    with pytest.raises(ValueError, match="axes must be spatial axes between -2 and 1"):
        augment.RandomFlip(axes=(2,), rank=2)
    with pytest.raises(ValueError, match="probability must be a probability between 0 and 1, got 2"):
        augment.RandomFlip(probability=2)
    with pytest.raises(ValueError, match="factor must be a non-negative number"):
        augment.RandomContrast(factor=-0.1)
    with pytest.raises(ValueError, match="the low end of factor must be greater than -1"):
        augment.RandomScaleCrop(factor=(-1.0, 0.2))
    with pytest.raises(ValueError, match="fill_mode must be one of 'constant', 'nearest', 'reflect'; got 'wrap'"):
        augment.RandomRotation(fill_mode="wrap")
    with pytest.raises(ValueError, match="seed must be an int or None"):
        augment.RandomGamma(seed="7")


def test_integer_images_come_out_in_the_compute_dtype():
    x = RNG.integers(0, 255, size=(2, 8, 8, 1)).astype("uint8")
    layer = augment.RandomFlip(seed=0)
    assert layer(x).dtype == layer(x, training=True).dtype == "float32"
