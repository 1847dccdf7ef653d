"""IDX reader: tiny files written here with NumPy, by the format's definition."""

import gzip
import struct

import numpy as np
import pytest

from biocnn.data import load_idx, load_idx_pair

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def _idx_bytes(array):
    array = np.asarray(array)
    header = bytes([0, 0, CODES[array.dtype.type], array.ndim])
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write(path, data, compress=False):
    raw = _idx_bytes(data) if isinstance(data, np.ndarray) else data
    with open(path, "wb") as f:
        f.write(gzip.compress(raw) if compress else raw)
    return str(path)


@pytest.mark.parametrize("dtype", list(CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_every_type_round_trips(dtype, compress, tmp_path):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=(3, 4, 5)) * 100).astype(dtype)
    path = _write(tmp_path / "x-idx3", array, compress)
    loaded = load_idx(path)
    assert loaded.dtype == np.dtype(dtype) and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)


def test_header_bytes_by_hand(tmp_path):
    # 0x00000801: unsigned bytes, 1 dimension; size 3 (big-endian); values 7, 8, 9.
    path = _write(tmp_path / "labels-idx1-ubyte", bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    np.testing.assert_array_equal(load_idx(path), np.array([7, 8, 9], dtype=np.uint8))
    # 0x00000D02: float32, 2 x 1, stored big-endian.
    raw = bytes([0, 0, 0x0D, 2, 0, 0, 0, 2, 0, 0, 0, 1]) + struct.pack(">2f", 1.5, -2.0)
    np.testing.assert_array_equal(load_idx(_write(tmp_path / "f", raw)), [[1.5], [-2.0]])


@pytest.mark.parametrize(
    "raw, match",
    [
        (b"\x00\x00", r"not an IDX file: 2 bytes, shorter than the 4-byte magic number"),
        (bytes([0, 1, 8, 1, 0, 0, 0, 1, 5]), r"bad IDX magic number 0x00010801: expected two zero bytes"),
        (bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 5]), r"bad IDX magic number 0x00000A01.*type code \(0x08, 0x09"),
        (bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0]), r"truncated IDX header: 3 dimensions need 16 header bytes, the file has 10"),
        (bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3]), r"truncated IDX data: .*shape \(2, 3\) of uint8 \(6 bytes\), but only 3 bytes follow"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 1, 5, 6]), r"1 bytes after the IDX data of shape \(1,\)"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(raw, match, tmp_path):
    path = _write(tmp_path / "bad-idx", raw)
    with pytest.raises(ValueError, match=match) as info:
        load_idx(path)
    assert str(info.value).startswith(path)


def test_truncated_gzip_and_missing_file(tmp_path):
    packed = gzip.compress(_idx_bytes(np.zeros((50, 4), np.uint8)))
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz: gzip-compressed but cannot be decompressed"):
        load_idx(path)
    with pytest.raises(FileNotFoundError, match=r"No such IDX file: '.*nope'"):
        load_idx(tmp_path / "nope")


def test_pair_scales_adds_a_channel_and_checks_lengths(tmp_path):
    images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    images_path = _write(tmp_path / "img.gz", images, compress=True)
    labels_path = _write(tmp_path / "lab", np.array([1, 0], dtype=np.uint8))
    x, y = load_idx_pair(images_path, labels_path)
    assert x.shape == (2, 3, 3, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], images / 255.0, rtol=1e-6)
    assert y.dtype == np.int64 and y.tolist() == [1, 0]
    volumes = _write(tmp_path / "vol", np.zeros((2, 5, 6, 7), np.uint8))
    assert load_idx_pair(volumes, labels_path)[0].shape == (2, 5, 6, 7, 1)
    three = _write(tmp_path / "lab3", np.array([1, 0, 1], dtype=np.uint8))
    with pytest.raises(ValueError, match=r"img\.gz has 2 images but .*lab3 has 3 labels"):
        load_idx_pair(images_path, three)
    with pytest.raises(ValueError, match=r"labels must be a 1D integer IDX array, got shape \(2, 3, 3\)"):
        load_idx_pair(images_path, images_path)
