"""One-hot encoding of DNA, RNA and protein sequences, and the reverse complement.

An :class:`Encoding` is the whole recipe from text to a ``(N, length, channels)`` float32
array: the alphabet, how IUPAC ambiguity codes and unknown letters are spread over the
channels, and how sequences of other lengths are cropped or padded. It is a small frozen
dataclass that round-trips through a plain dict (:meth:`Encoding.to_dict` /
:meth:`Encoding.from_dict`), so a run's ``config.json`` holds enough to rebuild the same
encoding later (for export or for predicting on new sequences).

Conventions, the same in every reader and model of biocnn:

* channels in the alphabet's order: DNA ``ACGT``, RNA ``ACGU``, protein
  ``ACDEFGHIKLMNPQRSTVWY``;
* lowercase (soft-masked) letters are the same as uppercase;
* an ambiguity code is split evenly over the letters it stands for (``R`` = A or G is
  ``[0.5, 0, 0.5, 0]``), or is all zeros with ``ambiguity="zeros"``;
* the unknown letter (``N`` for DNA/RNA, ``X`` for protein) is uniform (0.25 each for DNA)
  or all zeros with ``unknown="zeros"``;
* padding is all zeros, so it differs from ``N``.
"""

import dataclasses

import numpy as np
from Bio.Seq import reverse_complement as _bio_reverse_complement
from Bio.Seq import reverse_complement_rna as _bio_reverse_complement_rna

__all__ = [
    "ALPHABETS",
    "Encoding",
    "one_hot",
    "reverse_complement",
    "validate_sequence",
    "valid_letters",
]

ALPHABETS = {
    "dna": "ACGT",
    "rna": "ACGU",
    "protein": "ACDEFGHIKLMNPQRSTVWY",
}

_NUCLEIC_CODES = {
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG",
}
# Letters a code stands for; the unknown letter is handled by Encoding.unknown.
_AMBIGUITY = {
    "dna": _NUCLEIC_CODES,
    "rna": {code: letters.replace("T", "U") for code, letters in _NUCLEIC_CODES.items()},
    # B = Asx (D or N), Z = Glx (E or Q), J = Xle (I or L).
    "protein": {"B": "DN", "Z": "EQ", "J": "IL"},
}
# U (selenocysteine) and O (pyrrolysine) have no channel of their own: they count as unknown.
_UNKNOWN = {"dna": "N", "rna": "N", "protein": "XUO"}

_ALIGNS = ("center", "start", "end")
_AMBIGUITY_POLICIES = ("fractions", "zeros")
_UNKNOWN_POLICIES = ("uniform", "zeros")


def _check_option(argument, value, valid):
    if value not in valid:
        raise ValueError(
            f"Encoding: unknown {argument} {value!r}. Valid options: {', '.join(map(repr, valid))}."
        )


def valid_letters(alphabet):
    """Every letter accepted for ``alphabet``, upper- and lowercase.

    Example:
        >>> valid_letters("dna")[:15]
        'ACGTRYSWKMBDHVN'
    """
    _check_option("alphabet", alphabet, tuple(ALPHABETS))
    upper = ALPHABETS[alphabet] + "".join(_AMBIGUITY[alphabet]) + _UNKNOWN[alphabet]
    return upper + upper.lower()


def _hint(alphabet, letter):
    upper = letter.upper()
    if alphabet == "dna" and upper == "U":
        return " U is RNA: use the 'rna' alphabet (--alphabet rna)."
    if alphabet == "rna" and upper == "T":
        return " T is DNA: use the 'dna' alphabet (--alphabet dna)."
    if alphabet != "protein" and upper in ALPHABETS["protein"]:
        return " If these are proteins, use the 'protein' alphabet (--alphabet protein)."
    if letter == "*":
        return " '*' is a stop codon: remove it from the end of translated sequences."
    return ""


def validate_sequence(sequence, alphabet="dna", where="sequence"):
    """Raise a ValueError naming ``where`` and the position of the first invalid letter.

    Args:
        sequence: str.
        alphabet: ``"dna"``, ``"rna"`` or ``"protein"``.
        where: how the message names the sequence, e.g. ``"reads.fa, record 3 ('r3')"``.

    Raises:
        ValueError: an empty sequence, or a letter outside :func:`valid_letters`.

    Example:
        >>> validate_sequence("ACGTNacgtn")
        >>> validate_sequence("ACGZ", where="x.fa, record 1 ('r1')")
        Traceback (most recent call last):
        ...
        ValueError: x.fa, record 1 ('r1'): invalid letter 'Z' at position 4 for the dna alphabet. Valid letters: ACGT, ambiguity codes RYSWKMBDHV, unknown N, in either case.
    """
    if len(sequence) == 0:
        raise ValueError(f"{where}: the sequence is empty. Remove the record or give it a sequence.")
    allowed = valid_letters(alphabet)
    leftover = set(sequence) - set(allowed)
    if not leftover:
        return
    position = next(i for i, letter in enumerate(sequence) if letter in leftover)
    letter = sequence[position]
    raise ValueError(
        f"{where}: invalid letter {letter!r} at position {position + 1} for the {alphabet} "
        f"alphabet. Valid letters: {ALPHABETS[alphabet]}, ambiguity codes "
        f"{''.join(_AMBIGUITY[alphabet])}, unknown {_UNKNOWN[alphabet]}, in either case."
        + _hint(alphabet, letter)
    )


@dataclasses.dataclass(frozen=True)
class Encoding:
    """How sequences become a ``(N, length, channels)`` one-hot array.

    Args:
        alphabet: ``"dna"`` (ACGT), ``"rna"`` (ACGU) or ``"protein"`` (20 amino acids).
        length: the fixed output length; None: every sequence must already have one length.
        align: which part of a sequence is kept when it is cropped, and where a short one sits
            when it is padded: ``"center"`` (crop or pad both ends equally, the extra letter
            at the end), ``"start"`` (keep the start; pad or crop at the end) or ``"end"``.
        ambiguity: ``"fractions"`` (an IUPAC code is split evenly over its letters, R = A/G at
            0.5 each) or ``"zeros"`` (an all-zero row).
        unknown: the unknown letter (N for DNA/RNA, X for protein) as ``"uniform"`` (0.25 each
            for DNA) or ``"zeros"``.

    Raises:
        ValueError: an unknown option or a length below 1.

    Example:
        >>> enc = Encoding("dna", length=4)
        >>> enc.encode(["ACGTAC", "RN"]).shape
        (2, 4, 4)
        >>> Encoding.from_dict(enc.to_dict()) == enc
        True
    """

    alphabet: str = "dna"
    length: int | None = None
    align: str = "center"
    ambiguity: str = "fractions"
    unknown: str = "uniform"

    def __post_init__(self):
        _check_option("alphabet", self.alphabet, tuple(ALPHABETS))
        _check_option("align", self.align, _ALIGNS)
        _check_option("ambiguity", self.ambiguity, _AMBIGUITY_POLICIES)
        _check_option("unknown", self.unknown, _UNKNOWN_POLICIES)
        if self.length is not None and (
            isinstance(self.length, bool) or not isinstance(self.length, (int, np.integer)) or self.length < 1
        ):
            raise ValueError(f"Encoding: length must be a positive integer or None, got {self.length!r}.")

    @property
    def letters(self):
        """The channel letters, in channel order (``"ACGT"`` for DNA)."""
        return ALPHABETS[self.alphabet]

    @property
    def channels(self):
        return len(self.letters)

    def to_dict(self):
        """A JSON-ready dict; :meth:`from_dict` rebuilds the same encoding."""
        return {**dataclasses.asdict(self), "letters": self.letters}

    @classmethod
    def from_dict(cls, config):
        """Rebuild an encoding from :meth:`to_dict`'s output (unknown keys are an error)."""
        config = dict(config)
        letters = config.pop("letters", None)
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - fields)
        if unknown:
            raise ValueError(
                f"Encoding.from_dict: unknown key(s) {', '.join(map(repr, unknown))}; "
                f"valid keys: {', '.join(sorted(fields))}."
            )
        encoding = cls(**config)
        if letters is not None and letters != encoding.letters:
            raise ValueError(
                f"Encoding.from_dict: channel letters {letters!r} differ from the {encoding.alphabet} "
                f"alphabet's {encoding.letters!r}; the model was trained with another channel order."
            )
        return encoding

    def table(self):
        """(256, channels) float32: the row of each byte value; invalid bytes are NaN rows."""
        letters = self.letters
        table = np.full((256, len(letters)), np.nan, dtype=np.float32)
        table[0] = 0.0  # byte 0 marks padding
        for c, letter in enumerate(letters):
            row = np.zeros(len(letters), np.float32)
            row[c] = 1.0
            table[ord(letter)] = table[ord(letter.lower())] = row
        for code, meaning in _AMBIGUITY[self.alphabet].items():
            row = np.zeros(len(letters), np.float32)
            if self.ambiguity == "fractions":
                row[[letters.index(m) for m in meaning]] = 1.0 / len(meaning)
            table[ord(code)] = table[ord(code.lower())] = row
        fill = 1.0 / len(letters) if self.unknown == "uniform" else 0.0
        for code in _UNKNOWN[self.alphabet]:
            table[ord(code)] = table[ord(code.lower())] = fill
        return table

    def fit_length(self, sequence):
        """Crop or pad one sequence to ``length`` (padding is ``"\\0"``), following ``align``."""
        if self.length is None:
            return sequence
        excess = len(sequence) - self.length
        if excess == 0:
            return sequence
        before = {"center": abs(excess) // 2, "start": 0, "end": abs(excess)}[self.align]
        if excess > 0:
            return sequence[before:before + self.length]
        return "\0" * before + sequence + "\0" * (-excess - before)

    def encode(self, sequences, names=None):
        """One-hot encode ``sequences`` (an iterable of str).

        Args:
            sequences: iterable of str.
            names: optional names for error messages (default: ``"sequence <i>"``).

        Returns:
            float32 array of shape ``(N, length, channels)``.

        Raises:
            ValueError: an empty sequence, an invalid letter (naming the sequence and the
                position), or sequences of different lengths when ``length`` is None.
        """
        sequences = [str(s) for s in sequences]
        names = list(names) if names is not None else [f"sequence {i + 1}" for i in range(len(sequences))]
        if len(names) != len(sequences):
            raise ValueError(f"one_hot: {len(sequences)} sequences but {len(names)} names.")
        if not sequences:
            return np.zeros((0, self.length or 0, self.channels), np.float32)
        for sequence, name in zip(sequences, names):
            if not sequence:
                validate_sequence(sequence, self.alphabet, name)  # raises: empty
        if self.length is None:
            lengths = {len(s) for s in sequences}
            if len(lengths) > 1:
                first = len(sequences[0])
                odd = next(i for i, s in enumerate(sequences) if len(s) != first)
                raise ValueError(
                    f"one_hot: sequences have {len(lengths)} different lengths (from {min(lengths)} "
                    f"to {max(lengths)}; {names[0]} has {first}, {names[odd]} has "
                    f"{len(sequences[odd])}). Pass length=... (--length) to crop or pad them to one "
                    "length."
                )
        table = self.table()
        fitted = [self.fit_length(s) for s in sequences]
        length = len(fitted[0])
        try:
            data = "".join(fitted).encode("ascii")
        except UnicodeEncodeError:
            data = None
        codes = None if data is None else np.frombuffer(data, np.uint8).reshape(len(fitted), length)
        bad_rows = (
            np.ones(len(fitted), bool) if codes is None else np.isnan(table[codes, 0]).any(axis=1)
        )
        for i in np.flatnonzero(bad_rows):
            validate_sequence(sequences[i], self.alphabet, names[i])  # raises with the position
        return table[codes]


def one_hot(sequences, alphabet="dna", length=None, align="center", ambiguity="fractions",
            unknown="uniform", names=None):
    """One-hot encode DNA, RNA or protein sequences; see :class:`Encoding` for the options.

    Args:
        sequences: a str or an iterable of str (lowercase accepted).
        alphabet: ``"dna"``, ``"rna"`` or ``"protein"``.
        length: crop or pad every sequence to this length; None: all must be one length.
        align: ``"center"``, ``"start"`` or ``"end"``: which part is kept when cropping.
        ambiguity: ``"fractions"`` or ``"zeros"`` for IUPAC codes (R, Y, ..., B, Z, J).
        unknown: ``"uniform"`` or ``"zeros"`` for N (X for protein).
        names: optional names of the sequences, for error messages.

    Returns:
        float32 array ``(N, length, channels)``; a single str gives ``(1, length, channels)``.

    Raises:
        ValueError: an invalid letter, an empty sequence, or unequal lengths without ``length``.

    Example:
        >>> one_hot(["ACGT", "rn"], length=4)[1]
        array([[0.  , 0.  , 0.  , 0.  ],
               [0.5 , 0.  , 0.5 , 0.  ],
               [0.25, 0.25, 0.25, 0.25],
               [0.  , 0.  , 0.  , 0.  ]], dtype=float32)
    """
    if isinstance(sequences, str):
        sequences = [sequences]
    encoding = Encoding(alphabet, length, align, ambiguity, unknown)
    return encoding.encode(sequences, names=names)


def reverse_complement(sequences, alphabet="dna"):
    """The reverse complement of DNA/RNA text or of a one-hot array.

    Text keeps its case and complements IUPAC codes (R <-> Y, N stays N), via Biopython.
    A one-hot array ``(..., length, 4)`` in ACGT (or ACGU) order is reversed along both the
    length and the channel axis: A <-> T and C <-> G swap channels, and an ambiguity row
    becomes its complement's row (R ``[.5, 0, .5, 0]`` -> Y ``[0, .5, 0, .5]``).

    Args:
        sequences: a str, an iterable of str, or an array ``(..., length, 4)``.
        alphabet: ``"dna"`` or ``"rna"`` (RNA text is complemented with U).

    Returns:
        The same kind of value: a str, a list of str, or an array of the same shape.

    Raises:
        ValueError: for the protein alphabet, or an array whose last axis is not 4.

    Example:
        >>> reverse_complement("AACGTn")
        'nACGTT'
        >>> reverse_complement(one_hot("AAC")).argmax(-1)
        array([[2, 3, 3]])
    """
    _check_option("alphabet", alphabet, ("dna", "rna"))
    if isinstance(sequences, str):
        return _bio_reverse_complement(sequences) if alphabet == "dna" else _bio_reverse_complement_rna(sequences)
    if isinstance(sequences, np.ndarray) or hasattr(sequences, "shape"):
        array = np.asarray(sequences)
        if array.ndim < 2 or array.shape[-1] != 4:
            raise ValueError(
                f"reverse_complement: expected a one-hot array (..., length, 4), got shape {array.shape}."
            )
        return array[..., ::-1, ::-1].copy()
    return [reverse_complement(s, alphabet) for s in sequences]
