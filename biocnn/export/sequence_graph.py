"""Sequence text to one-hot inside a TensorFlow graph, the same as :meth:`Encoding.encode`.

An exported sequence model takes the raw strings (a ``tf.string`` batch), so a downstream
tool that knows nothing about biocnn cannot encode them differently from training. The graph
does what :class:`biocnn.data.Encoding` does in NumPy:

* each byte is looked up in a ``(256, channels)`` table built by :meth:`Encoding.table` (so
  lowercase, IUPAC fractions and the N/X policy are the encoding's own rows);
* sequences are cropped or padded (with all-zero rows) to ``length`` by the encoding's
  ``align`` rule; with ``length=None`` every sequence must have the model's length;
* a letter outside the alphabet, a non-ASCII byte or an empty sequence fails the call with an
  ``InvalidArgumentError`` naming the batch index; nothing is silently zeroed.
"""

import numpy as np
import tensorflow as tf

from biocnn.data.encoding import Encoding, valid_letters

__all__ = ["encode_sequences"]


def _offsets(lengths, length, align):
    """Per sequence, the source position of output position 0 (negative: padding first)."""
    excess = lengths - length
    size = tf.abs(excess)
    before = {"center": size // 2, "start": tf.zeros_like(size), "end": size}[align]
    return tf.where(excess > 0, before, -before)


def encode_sequences(sequences, encoding, length=None):
    """One-hot encode a batch of strings with TensorFlow ops (graph- and SavedModel-safe).

    Args:
        sequences: a rank-1 ``tf.string`` tensor (or a list of str) of DNA, RNA or protein text.
        encoding: an :class:`biocnn.data.Encoding` (or its :meth:`~Encoding.to_dict`).
        length: the model's sequence length. Required when ``encoding.length`` is None (then
            every sequence must have exactly this length); otherwise it must equal
            ``encoding.length``.

    Returns:
        float32 tensor ``(N, length, channels)``, equal to ``encoding.encode(sequences)``.

    Raises:
        ValueError: no length known, or ``length`` differs from ``encoding.length``.
        tf.errors.InvalidArgumentError: (when run) an empty sequence, a letter outside the
            alphabet, or, with ``encoding.length=None``, a sequence of another length.

    Example:
        >>> from biocnn.data import Encoding
        >>> x = encode_sequences(["ACGTAC", "rn"], Encoding("dna", length=4))
        >>> print(x.shape)
        (2, 4, 4)
    """
    if isinstance(encoding, dict):
        encoding = Encoding.from_dict(encoding)
    if length is None:
        length = encoding.length
    if length is None:
        raise ValueError(
            "encode_sequences: the encoding has length=None, so pass length=<the model's sequence length>."
        )
    if encoding.length is not None and int(length) != encoding.length:
        raise ValueError(
            f"encode_sequences: length={length} differs from the encoding's length {encoding.length}."
        )
    length = int(length)
    table = encoding.table()
    valid = ~np.isnan(table[:, 0])
    valid[0] = False  # a NUL byte in the input is not a letter (Encoding uses it only for padding)
    rows = tf.constant(np.nan_to_num(table, nan=0.0), tf.float32)
    is_invalid = tf.constant(~valid)

    sequences = tf.convert_to_tensor(sequences, tf.string)
    sequences = tf.ensure_shape(sequences, [None])
    # One dense (N, longest) byte matrix, zero-padded at the end (one op; splitting into one string per
    # letter first cost 30 ms per 256 windows of 200 bp, more than the DeepBind network itself).
    lengths = tf.strings.length(sequences)
    width = tf.maximum(tf.reduce_max(tf.concat([lengths, [1]], 0)), 1)
    codes = tf.cast(tf.io.decode_raw(sequences, tf.uint8, fixed_length=width), tf.int32)
    batch = tf.shape(lengths)[0]
    # Every sequence already of the model's length (windows of a scan, fixed-length tables): the
    # byte matrix is the code matrix, with no padding to skip in the letter check and nothing to
    # crop or pad (a third less work than the general branch for 256 x 200 bp).
    exact = tf.reduce_all(lengths == length) & (width == length)
    bad_rows = tf.cond(
        exact,
        lambda: tf.reduce_any(tf.gather(is_invalid, codes), axis=1),
        lambda: tf.reduce_any(tf.gather(is_invalid, codes) & (tf.range(width)[None, :] < lengths[:, None]), axis=1))

    letters = valid_letters(encoding.alphabet)
    checks = [
        tf.debugging.assert_greater(
            lengths, 0, message="biocnn sequence input: an empty sequence (remove it or give it letters); sequence lengths:"
        ),
    ]
    first_bad_row = tf.gather(tf.concat([tf.range(batch), [-1]], 0),
                              tf.argmax(tf.concat([tf.cast(bad_rows, tf.int32), [1]], 0)))
    checks.append(tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(bad_rows)),
        [f"biocnn sequence input: a letter outside the {encoding.alphabet} alphabet (valid: {letters}) "
         "in the sequence at batch index", first_bad_row, "of the batch:", sequences],
        summarize=3,
    ))
    if encoding.length is None:
        checks.append(tf.debugging.assert_equal(
            lengths, length,
            message=f"biocnn sequence input: every sequence must have length {length} (this model was "
                    "trained without a crop/pad length); sequence lengths:",
        ))
    with tf.control_dependencies(checks):
        return tf.cond(exact, lambda: tf.gather(rows, codes),
                       lambda: tf.gather(rows, _fit(codes, lengths, length, encoding.align, batch)))


def _fit(codes, lengths, length, align, batch):
    """The ``(N, length)`` codes: each row cropped or padded (with byte 0) by ``align``."""
    dense = tf.concat([codes, tf.zeros([batch, length], tf.int32)], 1)
    positions = tf.range(length)[None, :] + _offsets(lengths, length, align)[:, None]
    inside = (positions >= 0) & (positions < lengths[:, None])
    picked = tf.gather(dense, tf.clip_by_value(positions, 0, tf.shape(dense)[1] - 1), batch_dims=1)
    return tf.where(inside, picked, 0)  # byte 0: the all-zero padding row
