"""The in-graph string encoder equals Encoding.encode (the NumPy reference) on tricky inputs."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from biocnn.data import Encoding
from biocnn.export import encode_sequences

# lowercase, N, every IUPAC code, and lengths around 7: shorter (odd/even deficit), equal, longer
DNA = ["ACGTACG", "acgtnnr", "RYSWKMB", "dhvNnac", "AC", "ACG", "ACGTACGTAC", "ACGTACGTACG",
       "tTtTtTtTtTtTtTtTtTtTtTtT", "N"]
RNA = ["ACGUACG", "acgun", "RYSWKMBDHVN", "U"]
PROTEIN = ["ACDEFGHIKLMNPQRSTVWY", "acdefx", "BZJXUO", "MK"]


@pytest.mark.parametrize("align,ambiguity,unknown", list(itertools.product(
    ("center", "start", "end"), ("fractions", "zeros"), ("uniform", "zeros"))))
def test_dna_matches_numpy_encoder(align, ambiguity, unknown):
    encoding = Encoding("dna", length=7, align=align, ambiguity=ambiguity, unknown=unknown)
    got = encode_sequences(DNA, encoding).numpy()
    np.testing.assert_array_equal(got, encoding.encode(DNA))


@pytest.mark.parametrize("alphabet,sequences,length", [("rna", RNA, 6), ("protein", PROTEIN, 9), ("dna", DNA, 1)])
def test_rna_protein_and_length_one_match(alphabet, sequences, length):
    for align in ("center", "end"):
        encoding = Encoding(alphabet, length=length, align=align)
        np.testing.assert_array_equal(encode_sequences(sequences, encoding).numpy(), encoding.encode(sequences))


def test_hand_computed_rows():
    # Center crop of 6 letters to 4 drops one letter at each end; R = A/G halves, N = 0.25.
    got = encode_sequences(["xACRNgx".replace("x", "T")], Encoding("dna", length=5)).numpy()[0]
    expected = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0.5, 0, 0.5, 0], [0.25] * 4, [0, 0, 1, 0]], np.float32)
    np.testing.assert_array_equal(got, expected)


def test_inside_a_traced_function_and_without_length():
    encoding = Encoding("dna")  # no crop/pad length: all must have the model's length
    function = tf.function(lambda s: encode_sequences(s, encoding, length=4),
                           input_signature=[tf.TensorSpec([None], tf.string)])
    np.testing.assert_array_equal(function(tf.constant(["ACGT", "nnry"])).numpy(),
                                  encoding.encode(["ACGT", "nnry"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="every sequence must have length 4"):
        function(tf.constant(["ACGT", "ACGTA"]))


@pytest.mark.parametrize("bad,match", [
    ("ACGZ", "outside the dna alphabet"),
    ("ACGU", "outside the dna alphabet"),
    ("AC\u00e9G", "outside the dna alphabet"),  # non-ASCII bytes
    ("AC\0G", "outside the dna alphabet"),  # NUL is padding, never a letter
    ("", "an empty sequence"),
])
def test_invalid_inputs_fail_loudly(bad, match):
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        encode_sequences(["ACGT", bad], Encoding("dna", length=4))


def test_argument_errors():
    with pytest.raises(ValueError, match="pass length="):
        encode_sequences(["ACGT"], Encoding("dna"))
    with pytest.raises(ValueError, match="length=5 differs from the encoding's length 4"):
        encode_sequences(["ACGT"], Encoding("dna", length=4), length=5)


def test_a_batch_of_the_models_length_takes_the_short_branch_with_the_same_rows():
    exact = ["ACGTACG", "acgtnnr", "RYSWKMB", "dhvNnac"]  # every one of length 7: nothing to crop or pad
    encoding = Encoding("dna", length=7)
    np.testing.assert_array_equal(encode_sequences(exact, encoding).numpy(), encoding.encode(exact))
    # one sequence of another length in the batch sends all of it through crop/pad, rows unchanged
    np.testing.assert_array_equal(encode_sequences(exact + ["AC"], encoding).numpy()[:4], encoding.encode(exact))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"at batch index'\n2\n"):
        encode_sequences(["ACGTACG", "ACGTACG", "ACGTAZG"], encoding)
