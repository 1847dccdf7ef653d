"""Geometric augmentations against NumPy and SciPy references, for every rank."""

import numpy as np
import pytest
import scipy.ndimage as ndi

from biocnn import augment
from biocnn.augment.sampling import affine_coordinates, resample

RNG = np.random.default_rng(0)
SHAPES = {1: (5, 9, 4), 2: (5, 6, 6, 2), 3: (4, 5, 5, 5, 1)}  # batched, channels last


def _batch(rank, dtype="float32"):
    return RNG.normal(size=SHAPES[rank]).astype(dtype)


def _draw_and_apply(layer, x):
    t = layer.get_random_transformation(x)
    return {k: np.asarray(v) for k, v in t.items()}, np.asarray(layer.transform(x, t))


# --------------------------------------------------------------------------------------------
# The resampler: scipy.ndimage.map_coordinates with the same boundary modes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("fill_mode,scipy_mode", [("constant", "grid-constant"), ("nearest", "nearest"), ("reflect", "reflect")])
@pytest.mark.parametrize("interpolation,order", [("linear", 1), ("nearest", 0)])
def test_resample_equals_scipy_map_coordinates(rank, fill_mode, scipy_mode, interpolation, order):
    x = _batch(rank)[:2]
    matrix = RNG.normal(size=(2, rank, rank)).astype("float32") * 0.7
    offset = RNG.normal(size=(2, rank)).astype("float32") * 2
    u = np.asarray(affine_coordinates(x.shape[1:-1], matrix, offset))
    out = np.asarray(resample(x, u, interpolation, fill_mode, fill_value=0.5))
    ref = np.stack([
        np.stack([
            ndi.map_coordinates(x[b, ..., c], u[b].T, order=order, mode=scipy_mode, cval=0.5).reshape(x.shape[1:-1])
            for c in range(x.shape[-1])
        ], axis=-1)
        for b in range(2)
    ])
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_resample_rejects_unknown_modes():
    x, u = np.zeros((1, 3, 1), "float32"), np.zeros((1, 3, 1), "float32")
    with pytest.raises(ValueError, match="fill_mode must be one of"):
        resample(x, u, fill_mode="wrap")
    with pytest.raises(ValueError, match="interpolation must be one of"):
        resample(x, u, interpolation="cubic")


# --------------------------------------------------------------------------------------------
# Flips and 90-degree rotations: exact permutations
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rank,axes", [(1, None), (2, None), (2, (1,)), (3, None), (3, (0, -1))])
def test_flip_equals_np_flip_on_the_drawn_axes(rank, axes):
    x = _batch(rank)
    layer = augment.RandomFlip(axes=axes, seed=3)
    t, out = _draw_and_apply(layer, x)
    chosen = list(range(rank)) if axes is None else [a % rank for a in axes]
    assert t["flips"].shape == (len(x), len(chosen))
    assert 0 < t["flips"].sum() < t["flips"].size  # per-sample draws, not one for the batch
    for b in range(len(x)):
        flipped = [a for a, f in zip(chosen, t["flips"][b]) if f]
        np.testing.assert_array_equal(out[b], np.flip(x[b], axis=tuple(flipped)) if flipped else x[b])


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_flip_with_probability_one_flips_every_spatial_axis(rank):
    x = _batch(rank)
    out = augment.RandomFlip(probability=1.0, seed=0)(x, training=True)
    np.testing.assert_array_equal(out, np.flip(x, axis=tuple(range(1, rank + 1))))


@pytest.mark.parametrize("rank,planes", [(2, None), (3, None), (3, ((0, 1), (1, 2))), (3, (2, 0))])
def test_rot90_equals_np_rot90_in_the_drawn_planes(rank, planes):
    x = _batch(rank)
    layer = augment.RandomRot90(planes=planes, seed=5)
    t, out = _draw_and_apply(layer, x)
    if planes is None:
        planes = ((rank - 2, rank - 1),)
    elif isinstance(planes[0], int):
        planes = (planes,)
    assert len(set(t["k"].ravel().tolist())) > 1
    for b in range(len(x)):
        expected = x[b]
        for p, (a, c) in enumerate(planes):
            expected = np.rot90(expected, k=int(t["k"][b, p]), axes=(a, c))
        np.testing.assert_array_equal(out[b], expected)


def test_rot90_explains_rank_1_and_non_square_planes():
    with pytest.raises(ValueError, match="RandomRot90 needs 2 or 3 spatial axes, got 1. A sequence has no plane"):
        augment.RandomRot90(rank=1)
    with pytest.raises(ValueError, match="needs a square plane"):
        augment.RandomRot90(probability=1.0, seed=0)(np.zeros((2, 4, 6, 1), "float32"), training=True)


# --------------------------------------------------------------------------------------------
# Rotation by an angle, scale + crop
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rank,planes", [(2, None), (3, None), (3, (0, 2))])
def test_rotation_by_90_degrees_equals_np_rot90(rank, planes):
    x = _batch(rank)
    out = augment.RandomRotation(degrees=(90, 90), planes=planes, seed=0)(x, training=True)
    a, c = (rank - 2, rank - 1) if planes is None else planes
    np.testing.assert_allclose(out, np.rot90(x, k=1, axes=(a + 1, c + 1)), atol=1e-5)


def _scipy_affine(x, matrix, offset, order, mode):
    """Per sample and channel: scipy's input = M @ output + offset, with ours u = A(p - c) + c + t."""
    out = np.empty_like(x)
    center = (np.array(x.shape[1:-1]) - 1) / 2.0
    for b in range(len(x)):
        shift = center - matrix[b] @ center + offset[b]
        for ch in range(x.shape[-1]):
            out[b, ..., ch] = ndi.affine_transform(x[b, ..., ch], matrix[b], shift, order=order, mode=mode)
    return out


def test_small_rotation_equals_scipy_affine_transform_in_a_plane_of_a_volume():
    x = _batch(3)
    layer = augment.RandomRotation(degrees=20, planes=(0, 2), fill_mode="reflect", seed=2)
    t, out = _draw_and_apply(layer, x)
    assert np.all(np.abs(t["angles"]) <= 20) and np.unique(t["angles"]).size == len(x)
    matrix = np.zeros((len(x), 3, 3))
    for b, angle in enumerate(np.radians(t["angles"][:, 0])):
        c, s = np.cos(angle), np.sin(angle)
        matrix[b] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    np.testing.assert_allclose(out, _scipy_affine(x, matrix, np.zeros((len(x), 3)), 1, "reflect"), atol=1e-5)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_scale_crop_equals_scipy_zoom_about_the_drawn_window(rank):
    x = _batch(rank)
    layer = augment.RandomScaleCrop(factor=0.4, fill_mode="nearest", seed=4)
    t, out = _draw_and_apply(layer, x)
    n = np.array(x.shape[1:-1], dtype=float)
    matrix = np.stack([np.eye(rank) / s for s in t["scale"]])
    offset = t["position"] * np.abs(1 - 1 / t["scale"])[:, None] * (n - 1) / 2
    np.testing.assert_allclose(out, _scipy_affine(x, matrix, offset, 1, "nearest"), atol=1e-5)


def test_zoom_in_crops_inside_the_scaled_sample_and_zoom_2_repeats_pixels():
    x = RNG.random((6, 12, 12, 1)).astype("float32")
    # Zooming in only: the window never leaves the input, so the fill value never shows.
    out = augment.RandomScaleCrop(factor=(0.2, 1.0), fill_mode="constant", fill_value=-7, seed=1)(x, training=True)
    assert np.asarray(out).min() >= 0
    # A known draw: scale 2 about the centre with nearest sampling is the centre crop of a 2x
    # pixel repetition.
    layer = augment.RandomScaleCrop(factor=0.5, interpolation="nearest")
    t = {"scale": np.array([2.0], "float32"), "position": np.zeros((1, 2), "float32")}
    zoomed = layer.transform(x[:1], t)
    expected = np.repeat(np.repeat(x[:1, 3:9, 3:9], 2, axis=1), 2, axis=2)
    np.testing.assert_array_equal(zoomed, expected)


# --------------------------------------------------------------------------------------------
# Integer shifts: pad + crop, and the sequence shift
# --------------------------------------------------------------------------------------------


def _shift_reference(sample, shifts, fill):
    out = np.full_like(sample, fill)
    src = tuple(slice(max(0, -s), n - max(0, s)) for s, n in zip(shifts, sample.shape[:-1]))
    dst = tuple(slice(max(0, s), n - max(0, -s)) for s, n in zip(shifts, sample.shape[:-1]))
    out[dst] = sample[src]
    return out


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_crop_is_a_shift_padded_with_the_fill_value(rank):
    x = _batch(rank)
    layer = augment.RandomCrop(padding=2, fill_value=9.0, seed=7)
    t, out = _draw_and_apply(layer, x)
    assert np.abs(t["shifts"]).max() <= 2 and np.unique(t["shifts"]).size > 1
    for b in range(len(x)):
        np.testing.assert_array_equal(out[b], _shift_reference(x[b], t["shifts"][b], 9.0))


def test_shift_moves_sequences_along_the_length_only_and_fractions_scale_with_length():
    x = _batch(2)
    layer = augment.RandomShift(max_shift=3, axes=0, seed=1)
    t, out = _draw_and_apply(layer, x)
    assert np.all(t["shifts"][:, 1] == 0)
    for b in range(len(x)):
        np.testing.assert_array_equal(out[b], _shift_reference(x[b], t["shifts"][b], 0.0))
    t = augment.RandomShift(max_shift=0.5, seed=0).get_random_transformation(np.zeros((200, 4, 1)))
    assert np.abs(np.asarray(t["shifts"])).max() == 2  # floor(0.5 * 4)


def test_crop_and_shift_reject_bad_extents():
    with pytest.raises(ValueError, match="padding must be pixels"):
        augment.RandomCrop(padding=-1)
    with pytest.raises(ValueError, match="max_shift must be pixels"):
        augment.RandomShift(max_shift=1.5)
