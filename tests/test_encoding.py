"""One-hot encoding and reverse complement against hand-written arrays."""

import json

import numpy as np
import pytest

from biocnn.data import ALPHABETS, Encoding, one_hot, reverse_complement, valid_letters

A, C, G, T = np.eye(4, dtype=np.float32)
Z = np.zeros(4, np.float32)
Q = np.full(4, 0.25, np.float32)


def test_dna_bases_are_rows_of_the_identity_in_acgt_order():
    np.testing.assert_array_equal(one_hot("ACGTTGCA")[0], [A, C, G, T, T, G, C, A])
    assert one_hot(["ACG", "TTT"]).shape == (2, 3, 4)
    assert one_hot("A").dtype == np.float32


def test_ambiguity_codes_are_split_evenly():
    expected = {
        "R": [0.5, 0, 0.5, 0], "Y": [0, 0.5, 0, 0.5], "S": [0, 0.5, 0.5, 0], "W": [0.5, 0, 0, 0.5],
        "K": [0, 0, 0.5, 0.5], "M": [0.5, 0.5, 0, 0],
        "B": [0, 1 / 3, 1 / 3, 1 / 3], "D": [1 / 3, 0, 1 / 3, 1 / 3],
        "H": [1 / 3, 1 / 3, 0, 1 / 3], "V": [1 / 3, 1 / 3, 1 / 3, 0],
        "N": [0.25, 0.25, 0.25, 0.25],
    }
    encoded = one_hot("".join(expected))[0]
    np.testing.assert_allclose(encoded, list(expected.values()), rtol=1e-6)
    np.testing.assert_allclose(encoded.sum(axis=1), 1.0, rtol=1e-6)


def test_n_and_ambiguity_policies_give_zeros():
    np.testing.assert_array_equal(one_hot("ANR", unknown="zeros")[0], [A, Z, [0.5, 0, 0.5, 0]])
    np.testing.assert_array_equal(one_hot("ANR", ambiguity="zeros")[0], [A, Q, Z])
    np.testing.assert_array_equal(one_hot("ANR", ambiguity="zeros", unknown="zeros")[0], [A, Z, Z])


def test_lowercase_soft_masked_letters_equal_uppercase():
    np.testing.assert_array_equal(one_hot("acgtnry"), one_hot("ACGTNRY"))


def test_rna_uses_u_and_refuses_t():
    np.testing.assert_array_equal(one_hot("ACGUu", alphabet="rna")[0], [A, C, G, T, T])
    np.testing.assert_allclose(one_hot("Y", alphabet="rna")[0], [[0, 0.5, 0, 0.5]])
    with pytest.raises(ValueError, match=r"invalid letter 'T' at position 2 for the rna alphabet.*use the 'dna' alphabet"):
        one_hot("ATG", alphabet="rna")
    with pytest.raises(ValueError, match=r"invalid letter 'U' .*use the 'rna' alphabet"):
        one_hot("AUG")


def test_protein_channels_and_codes():
    letters = ALPHABETS["protein"]
    assert len(letters) == 20
    encoded = one_hot("MkX", alphabet="protein")[0]
    assert encoded.shape == (3, 20)
    expected = np.zeros((3, 20), np.float32)
    expected[0, letters.index("M")] = 1
    expected[1, letters.index("K")] = 1
    expected[2] = 1 / 20
    np.testing.assert_allclose(encoded, expected, rtol=1e-6)
    b = one_hot("B", alphabet="protein")[0, 0]
    assert b[letters.index("D")] == b[letters.index("N")] == 0.5 and b.sum() == 1.0
    with pytest.raises(ValueError, match=r"'\*' is a stop codon"):
        one_hot("MK*", alphabet="protein")


def test_centre_crop_and_pad_and_the_other_alignments():
    # 6 letters cropped to 4: one dropped at each end; 2 letters padded to 5: 1 zero row
    # before (the extra one goes after).
    np.testing.assert_array_equal(one_hot("AACGTT", length=4)[0], [A, C, G, T])
    np.testing.assert_array_equal(one_hot("AC", length=5)[0], [Z, A, C, Z, Z])
    np.testing.assert_array_equal(one_hot("AACGTT", length=4, align="start")[0], [A, A, C, G])
    np.testing.assert_array_equal(one_hot("AACGTT", length=4, align="end")[0], [C, G, T, T])
    np.testing.assert_array_equal(one_hot("AC", length=3, align="end")[0], [Z, A, C])
    np.testing.assert_array_equal(one_hot("AC", length=3, align="start")[0], [A, C, Z])
    assert one_hot(["A", "ACGTACGT"], length=6).shape == (2, 6, 4)


def test_unequal_lengths_without_a_length_name_the_sequences():
    with pytest.raises(ValueError, match=r"2 different lengths.*r1 has 3, r2 has 2.*length="):
        one_hot(["ACG", "AC"], names=["r1", "r2"])


def test_invalid_letter_and_empty_sequence_name_the_record():
    with pytest.raises(ValueError, match=r"^r2: invalid letter 'Z' at position 3 for the dna alphabet"):
        one_hot(["ACGT", "ACZT"], names=["r1", "r2"])
    with pytest.raises(ValueError, match=r"^sequence 2: the sequence is empty"):
        one_hot(["ACGT", ""], length=4)
    with pytest.raises(ValueError, match=r"invalid letter 'é' at position 2"):
        one_hot(["AéGT"])


def test_encoding_config_round_trips_through_json():
    encoding = Encoding("rna", length=101, align="start", ambiguity="zeros", unknown="zeros")
    config = json.loads(json.dumps(encoding.to_dict()))
    assert config == {"alphabet": "rna", "length": 101, "align": "start", "ambiguity": "zeros",
                      "unknown": "zeros", "letters": "ACGU"}
    assert Encoding.from_dict(config) == encoding
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'lenght'.*valid keys: align, alphabet"):
        Encoding.from_dict({"alphabet": "dna", "lenght": 5})
    with pytest.raises(ValueError, match=r"channel letters 'TGCA' differ"):
        Encoding.from_dict({"alphabet": "dna", "letters": "TGCA"})


def test_bad_options_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown alphabet 'DNA'. Valid options: 'dna', 'rna', 'protein'"):
        Encoding("DNA")
    with pytest.raises(ValueError, match=r"unknown align 'centre'"):
        one_hot("ACGT", align="centre")
    with pytest.raises(ValueError, match=r"length must be a positive integer"):
        Encoding(length=0)


def test_valid_letters():
    assert valid_letters("dna") == "ACGTRYSWKMBDHVN" + "acgtryswkmbdhvn"


def test_reverse_complement_of_text_keeps_case_and_codes():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgRYn") == "nRYcgt"
    assert reverse_complement(["AAC", "GGT"]) == ["GTT", "ACC"]
    assert reverse_complement("AACGU", alphabet="rna") == "ACGUU"
    with pytest.raises(ValueError, match=r"unknown alphabet 'protein'"):
        reverse_complement("MKV", alphabet="protein")


def test_reverse_complement_of_one_hot_equals_one_hot_of_reverse_complement():
    text = ["ACGTRYSWKMBDHVN", "acgttgcaNNRRAAG"]
    np.testing.assert_array_equal(reverse_complement(one_hot(text)), one_hot(reverse_complement(text)))
    # By hand: AAC -> GTT
    np.testing.assert_array_equal(reverse_complement(one_hot("AAC"))[0], [G, T, T])
    with pytest.raises(ValueError, match=r"expected a one-hot array \(..., length, 4\), got shape \(3, 20\)"):
        reverse_complement(np.zeros((3, 20)))
