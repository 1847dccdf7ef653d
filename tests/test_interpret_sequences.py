"""Sequence interpretation: filters as PWMs in MEME format, and in-silico mutagenesis."""

import keras
import numpy as np
import pytest
from Bio import motifs as bio_motifs

from biocnn.data import one_hot
from biocnn.interpret import filter_pwms, first_conv_layer, in_silico_mutagenesis, plot_mutagenesis, write_meme


def _acg_detector(padding="valid"):
    """One Conv1D filter scoring +1 per letter matching 'ACG' and -1 per mismatch (no bias)."""
    model = keras.Sequential([
        keras.Input((5, 4)),
        keras.layers.Conv1D(1, 3, padding=padding, use_bias=False, name="motif"),
        keras.layers.GlobalMaxPooling1D(),
    ])
    kernel = -np.ones((3, 4, 1), np.float32)
    kernel[0, 0], kernel[1, 1], kernel[2, 2] = 1, 1, 1
    model.get_layer("motif").set_weights([kernel])
    return model


def test_pwm_counts_the_windows_above_the_threshold():
    # Window scores = 2 * matches - 3. ACG scores 3 (in the first two sequences), ACT scores 1.
    x = one_hot(["ACGTT", "TTACG", "ACTTT"])
    strict = filter_pwms(_acg_detector(), x, threshold=0.5)  # sites score > 1.5
    np.testing.assert_allclose(strict.pwms[0], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    assert strict.nsites.tolist() == [2] and strict.names == ["motif_filter0"] and strict.layer == "motif"
    loose = filter_pwms(_acg_detector(), x, threshold=0.2)  # > 0.6: ACT joins
    np.testing.assert_allclose(loose.pwms[0], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2 / 3, 1 / 3]])
    assert loose.nsites.tolist() == [3]


def test_windows_in_the_same_padding_count_only_real_letters():
    # 'same' pads one zero each side. Output 0 sees [pad, C, G] = 0 + 1 + 1 = 2, the maximum;
    # its first position is padding only, so that row of the PWM is uniform.
    motifs = filter_pwms(_acg_detector("same"), one_hot(["CGTTT"]), threshold=0.5)
    np.testing.assert_allclose(motifs.pwms[0], [[0.25] * 4, [0, 1, 0, 0], [0, 0, 1, 0]])
    assert motifs.nsites.tolist() == [1]


def test_meme_file_reads_back_with_biopython(tmp_path):
    x = one_hot(["ACGTT", "TTACG", "ACTTT"])
    motifs = filter_pwms(_acg_detector(), x, threshold=0.2)
    path = tmp_path / "motifs.meme"
    assert write_meme(path, motifs) == 1
    with open(path) as handle:
        record = bio_motifs.parse(handle, "minimal")
    assert record.alphabet == "ACGT" and len(record) == 1
    motif = record[0]
    assert motif.name == "motif_filter0" and motif.num_occurrences == 3
    np.testing.assert_allclose([motif.pwm[letter] for letter in "ACGT"], motifs.pwms[0].T, atol=1e-6)
    text = path.read_text()
    assert text.startswith("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n")


def test_meme_protein_alphabet_and_skipped_filters(tmp_path):
    pwms = np.full((2, 3, 20), 1 / 20)
    from biocnn.interpret import FilterMotifs

    motifs = FilterMotifs(pwms=pwms, nsites=np.array([5, 0]), names=["f0", "f1"], layer="c")
    with pytest.warns(UserWarning, match=r"1 filters have no sites .* f1"):
        assert write_meme(tmp_path / "p.meme", motifs, alphabet="protein") == 1
    text = (tmp_path / "p.meme").read_text()
    assert "ALPHABET= ACDEFGHIKLMNPQRSTVWY" in text and "strands" not in text and "MOTIF f1" not in text
    with pytest.raises(ValueError, match=r"expected PWMs of shape \(motifs, width, 4\) for the dna alphabet, got \(2, 3, 20\)"):
        write_meme(tmp_path / "x.meme", pwms)
    with pytest.raises(ValueError, match=r"sum to 1"):
        write_meme(tmp_path / "x.meme", np.ones((1, 2, 4)))


def test_a_model_without_convolutions_is_refused():
    model = keras.Sequential([keras.Input((5, 4)), keras.layers.Flatten(), keras.layers.Dense(2)], name="flat")
    with pytest.raises(ValueError, match=r"model 'flat' has no Conv1D layer"):
        first_conv_layer(model)
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\)"):
        filter_pwms(_acg_detector(), one_hot(["ACGTT"]), threshold=1.0)


def _linear_model(length=2):
    """Output 1 = sum of weights 0, 1, ..., 4 * length - 1 over the flattened one-hot input."""
    model = keras.Sequential([keras.Input((length, 4)), keras.layers.Flatten(), keras.layers.Dense(2)])
    weights = np.zeros((4 * length, 2), np.float32)
    weights[:, 1] = np.arange(4 * length)
    model.layers[-1].set_weights([weights, np.array([0.0, 100.0], np.float32)])
    return model


def test_mutagenesis_of_a_linear_model_by_hand():
    # Putting letter a at position l changes output 1 by w[4l + a] - w[4l + ref_l] = a - ref_l.
    effects = in_silico_mutagenesis(_linear_model(), one_hot("AC")[0], target=1)
    np.testing.assert_allclose(effects, [[0, 1, 2, 3], [-1, 0, 1, 2]])
    # An N is 0.25 of each letter: substituting a changes the output by a - 1.5.
    effects = in_silico_mutagenesis(_linear_model(), one_hot(["NC", "AC"]))  # predicted: class 1
    np.testing.assert_allclose(effects[0], [[-1.5, -0.5, 0.5, 1.5], [-1, 0, 1, 2]])
    assert effects.shape == (2, 2, 4)
    with pytest.raises(ValueError, match=r"target must be a class index in \[0, 1\], got \[2\]"):
        in_silico_mutagenesis(_linear_model(), one_hot("AC"), target=2)


def test_mutagenesis_of_log_probabilities_by_hand():
    # Softmax over logits (0, z) with z = (sum of the weights i / 4 at the letters' flat indices):
    # log p1 = -log(1 + exp(-z)). 'AC' has z = (0 + 5) / 4; the variant with letter a at
    # position 0 has z = (a + 5) / 4, at position 1 z = (0 + 4 + a) / 4.
    model = keras.Sequential([keras.Input((2, 4)), keras.layers.Flatten(), keras.layers.Dense(2),
                              keras.layers.Softmax()])
    weights = np.zeros((8, 2), np.float32)
    weights[:, 1] = np.arange(8) / 4.0
    model.layers[1].set_weights([weights, np.zeros(2, np.float32)])
    effects = in_silico_mutagenesis(model, one_hot("AC")[0], target=1, log=True)
    z = np.array([[5, 6, 7, 8], [4, 5, 6, 7]]) / 4.0
    expected = -np.log1p(np.exp(-z)) + np.log1p(np.exp(-5 / 4.0))
    np.testing.assert_allclose(effects, expected, atol=1e-5)
    assert effects[0, 0] == 0.0 and effects[1, 1] == 0.0


def test_mutagenesis_equals_a_loop_over_variants():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((7, 4)), keras.layers.Conv1D(3, 3, activation="relu"), keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    x = one_hot(["ACGTNAC", "TTGCAAR"])
    effects = in_silico_mutagenesis(model, x, target=[0, 2], batch_size=5)
    reference = model.predict(x, verbose=0)
    for i, target in enumerate([0, 2]):
        for position in range(7):
            for letter in range(4):
                variant = x[i].copy()
                variant[position] = np.eye(4)[letter]
                expected = float(model(variant[None])[0, target]) - reference[i, target]
                assert effects[i, position, letter] == pytest.approx(expected, abs=1e-5)


def test_mutagenesis_plot_is_a_png(tmp_path):
    path = tmp_path / "ism.png"
    plot_mutagenesis(np.random.default_rng(0).normal(size=(2, 6, 4)), ["ACGTAC", "GGGTTT"], path, titles=["a", "b"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match=r"2 maps but 1 sequences"):
        plot_mutagenesis(np.zeros((2, 6, 4)), ["ACGTAC"], path)
