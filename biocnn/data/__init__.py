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
from biocnn.data.labels import class_indices, sorted_classes  # noqa: E402
from biocnn.data.sequences import (  # noqa: E402
    attach_labels,
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
    "attach_labels", "class_indices", "sorted_classes", "identical_sequence_groups", "read_bed", "read_fasta",
    "read_fasta_per_class", "read_fasta_with_labels", "read_fastq", "read_label_table",
    "read_sequence_csv",
]

from biocnn.data import preprocess  # noqa: E402
from biocnn.data.images import IMAGE_EXTENSIONS, load_image, probe_image, read_image  # noqa: E402
from biocnn.data.image_datasets import (  # noqa: E402
    ImageTable,
    check_images,
    check_training_labels,
    image_dataset,
    load_images,
    make_table,
    split_table,
    table_from_csv,
    table_from_folder,
)

__all__ += [
    "preprocess", "IMAGE_EXTENSIONS", "load_image", "probe_image", "read_image", "ImageTable",
    "check_images", "check_training_labels", "image_dataset", "load_images", "make_table", "split_table",
    "table_from_csv", "table_from_folder",
]

from biocnn.data.idx import IDX_TYPES, load_idx, load_idx_pair  # noqa: E402
__all__ += ["IDX_TYPES", "load_idx", "load_idx_pair"]

from biocnn.data import intensity  # noqa: E402
from biocnn.data.volumes import (  # noqa: E402
    VOLUME_SUFFIXES,
    ArrayVolumes,
    FileVolumes,
    HDF5Volumes,
    Volume,
    probe_volume,
    read_hdf5_array,
    read_nifti,
    read_npy,
    read_tiff_stack,
    read_volume,
)
from biocnn.data.volume_datasets import (  # noqa: E402
    VolumePreprocessing,
    check_volume_shapes,
    load_volumes,
    source_for_table,
    volume_dataset,
    volume_table,
    volume_table_from_csv,
)

__all__ += [
    "intensity", "VOLUME_SUFFIXES", "ArrayVolumes", "FileVolumes", "HDF5Volumes", "Volume", "probe_volume",
    "read_hdf5_array", "read_nifti", "read_npy", "read_tiff_stack", "read_volume", "VolumePreprocessing",
    "check_volume_shapes", "load_volumes", "source_for_table", "volume_dataset", "volume_table",
    "volume_table_from_csv",
]

from biocnn.data import sources  # noqa: E402
from biocnn.data.sources import DataSource, csv_kind, open_source  # noqa: E402

__all__ += ["sources", "DataSource", "csv_kind", "open_source"]
