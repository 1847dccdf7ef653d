"""Intensity and sequence augmentations against NumPy / colorsys references."""

import colorsys

import numpy as np
import pytest

from biocnn import augment, data

RNG = np.random.default_rng(1)


def _draw_and_apply(layer, x):
    t = layer.get_random_transformation(x)
    return {k: np.asarray(v) for k, v in t.items()}, np.asarray(layer.transform(x, t))


def _view(values, ndim):
    return values.reshape((-1,) + (1,) * (ndim - 1))


@pytest.mark.parametrize("shape", [(6, 11, 2), (6, 7, 8, 3), (6, 4, 5, 6, 1)])
def test_contrast_scales_deviations_from_each_samples_channel_mean(shape):
    x = RNG.random(shape).astype("float32")
    t, out = _draw_and_apply(augment.RandomContrast(0.5, seed=0), x)
    assert np.all((t["contrast"] >= 0.5) & (t["contrast"] <= 1.5)) and np.unique(t["contrast"]).size == 6
    mean = x.mean(axis=tuple(range(1, x.ndim - 1)), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) * _view(t["contrast"], x.ndim) + mean, atol=1e-6)


def test_brightness_adds_the_drawn_offset():
    x = RNG.random((5, 6, 6, 1)).astype("float32")
    t, out = _draw_and_apply(augment.RandomBrightness((-0.2, 0.1), seed=0), x)
    assert np.all((t["brightness"] >= -0.2) & (t["brightness"] <= 0.1))
    np.testing.assert_allclose(out, x + _view(t["brightness"], 4), atol=1e-6)


def test_gamma_follows_the_power_law_within_the_value_range():
    x = RNG.uniform(-10, 300, size=(5, 3, 3, 3, 1)).astype("float32")
    t, out = _draw_and_apply(augment.RandomGamma(0.5, value_range=(0, 255), seed=0), x)
    unit = np.clip(x / 255.0, 0, 1)
    np.testing.assert_allclose(out, 255.0 * unit ** _view(t["gamma"], 5), rtol=1e-5, atol=1e-4)


def test_noise_adds_the_drawn_gaussian_noise():
    x = RNG.random((64, 30, 4)).astype("float32")
    t, out = _draw_and_apply(augment.GaussianNoise(0.1, seed=0), x)
    np.testing.assert_allclose(out, x + t["noise"], atol=1e-6)
    assert abs(t["noise"].std() - 0.1) < 0.005 and abs(t["noise"].mean()) < 0.005


def test_colour_turns_hue_and_scales_saturation_like_colorsys():
    x = RNG.random((3, 4, 5, 3)).astype("float32")
    t, out = _draw_and_apply(augment.RandomColor(hue=0.2, saturation=0.5, seed=0), x)
    for b in range(3):
        for pixel in np.ndindex(4, 5):
            h, s, v = colorsys.rgb_to_hsv(*x[(b,) + pixel])
            expected = colorsys.hsv_to_rgb((h + t["hue"][b]) % 1.0, min(1.0, s * t["saturation"][b]), v)
            np.testing.assert_allclose(out[(b,) + pixel], expected, atol=1e-5)


def test_colour_works_on_rgb_volumes_and_explains_grey_input():
    y = augment.RandomColor(seed=0)(RNG.random((2, 3, 4, 5, 3)).astype("float32"), training=True)
    assert y.shape == (2, 3, 4, 5, 3)
    with pytest.raises(ValueError, match="RandomColor needs 3-channel .RGB. input, got 1 channel"):
        augment.RandomColor()(np.zeros((2, 8, 8, 1), "float32"), training=True)


@pytest.mark.parametrize("shape", [(16, 40, 4), (16, 12, 10, 2), (16, 6, 8, 10, 1)])
@pytest.mark.parametrize("fill", ["noise", -5.0])
def test_erasing_touches_only_the_drawn_box(shape, fill):
    x = RNG.random(shape).astype("float32") + 10.0  # far from the noise range and the constant
    layer = augment.RandomErasing(probability=0.7, area=(0.05, 0.3), fill=fill, seed=3)
    t, out = _draw_and_apply(layer, x)
    rank = len(shape) - 2
    sizes = np.array(shape[1:-1])
    assert 0 < t["apply"].sum() < len(x)
    for b in range(len(x)):
        box = np.zeros(shape[1:-1], bool)
        if t["apply"][b]:
            start, side = t["starts"][b], t["sizes"][b]
            assert np.all(side >= 1) and np.all(start + side <= sizes)
            assert 0.01 <= np.prod(side) / np.prod(sizes) <= 0.45  # the drawn area, rounded
            box[tuple(slice(s, s + n) for s, n in zip(start, side))] = True
        np.testing.assert_array_equal(out[b][~box], x[b][~box])
        if fill == "noise":
            np.testing.assert_array_equal(out[b][box], t["values"][b][box])
            assert np.all((out[b][box] >= 0) & (out[b][box] < 1))
        else:
            assert np.all(out[b][box] == -5.0)
    assert rank == t["starts"].shape[1]


def test_erasing_rejects_bad_arguments():
    with pytest.raises(ValueError, match="area must be a pair"):
        augment.RandomErasing(area=(0.5, 1.5))
    with pytest.raises(ValueError, match="fill must be 'noise' or a number"):
        augment.RandomErasing(fill="mean")


# --------------------------------------------------------------------------------------------
# Reverse complement
# --------------------------------------------------------------------------------------------

_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


def _one_hot(seq):
    return np.array([[float(base == code) for code in "ACGT"] for base in seq], "float32")


def test_reverse_complement_equals_the_one_hot_of_the_reverse_complement_string():
    seqs = ["".join(RNG.choice(list("ACGTN"), size=30, p=[0.24, 0.24, 0.24, 0.24, 0.04])) for _ in range(12)]
    x = np.stack([_one_hot(s) for s in seqs])
    t, out = _draw_and_apply(augment.ReverseComplement(seed=0), x)
    assert 0 < t["flip"].sum() < len(seqs)
    for b, seq in enumerate(seqs):
        expected = "".join(_COMPLEMENT[c] for c in reversed(seq)) if t["flip"][b] else seq
        np.testing.assert_array_equal(out[b], _one_hot(expected))


def test_reverse_complement_agrees_with_biocnn_data_on_ambiguity_codes_and_padding():
    # biocnn.data encodes N as uniform, R/S/D as fractions and padding (centred, here the same
    # on both ends) as zeros, and complements text with Biopython: an independent reference.
    text = ["ACGTNRSDAC", "TTGCAN"]
    out = augment.ReverseComplement(probability=1.0)(data.one_hot(text, length=12), training=True)
    expected = data.one_hot([data.reverse_complement(t) for t in text], length=12)
    np.testing.assert_array_equal(out, expected)


def test_reverse_complement_of_one_unbatched_sequence_and_its_per_base_mask():
    x = _one_hot("AACGTTTG")
    out = augment.ReverseComplement(probability=1.0)(
        {"image": x, "mask": np.arange(8, dtype="int32")}, training=True
    )
    np.testing.assert_array_equal(out["image"], _one_hot("CAAACGTT"))
    np.testing.assert_array_equal(out["mask"], np.arange(8)[::-1])


def test_reverse_complement_explains_protein_and_images():
    with pytest.raises(ValueError, match="needs one-hot DNA or RNA with 4 channels .* got 20 channel"):
        augment.ReverseComplement()(np.zeros((2, 30, 20), "float32"), training=True)
    with pytest.raises(ValueError, match="ReverseComplement needs 1 spatial axis, got 2"):
        augment.ReverseComplement(rank=2)
    with pytest.raises(ValueError, match=r"ReverseComplement\(rank=1\) expects"):
        augment.ReverseComplement()(np.zeros((2, 8, 8, 4), "float32"), training=True)
