"""Data readers and encoders. Readers know file formats, not networks."""

from biocnn.data.npz import SPLITS, load_npz_splits, scale_intensities

__all__ = ["SPLITS", "load_npz_splits", "scale_intensities"]

from biocnn.data.encoding import (  # noqa: E402
    ALPHABETS,
    Encoding,
    one_hot,
    reverse_complement,
    valid_letters,
    validate_sequence,
)
from biocnn.data.sequences import (  # noqa: E402
    attach_labels,
    class_indices,
    identical_sequence_groups,
    read_bed,
    read_fasta,
    read_fasta_per_class,
    read_fasta_with_labels,
    read_fastq,
    read_label_table,
    read_sequence_csv,
)

__all__ += [
    "ALPHABETS", "Encoding", "one_hot", "reverse_complement", "valid_letters", "validate_sequence",
    "attach_labels", "class_indices", "identical_sequence_groups", "read_bed", "read_fasta",
    "read_fasta_per_class", "read_fasta_with_labels", "read_fastq", "read_label_table",
    "read_sequence_csv",
]
