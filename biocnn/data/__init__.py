"""Data readers and encoders. Readers know file formats, not networks."""

from biocnn.data.npz import SPLITS, load_npz_splits, scale_intensities

__all__ = ["SPLITS", "load_npz_splits", "scale_intensities"]
