import numpy as np
import pytest

from biocnn.data import load_npz_splits


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def _splits(n=4, shape=(8, 8), dtype="uint8"):
    out = {}
    for s in ("train", "val", "test"):
        out[f"{s}_images"] = np.full((n, *shape), 255, dtype=dtype)
        out[f"{s}_labels"] = np.arange(n).reshape(n, 1) % 2
    return out


def test_grey_images_get_a_channel_axis_and_unit_range(tmp_path):
    data = load_npz_splits(_write(tmp_path / "d.npz", **_splits()))
    x, y = data["train"]
    assert x.shape == (4, 8, 8, 1) and x.dtype == np.float32 and x.max() == 1.0
    assert y.tolist() == [0, 1, 0, 1] and y.dtype == np.int64


def test_volumes_get_a_channel_axis(tmp_path):
    data = load_npz_splits(_write(tmp_path / "v.npz", **_splits(shape=(6, 6, 6))))
    assert data["val"][0].shape == (4, 6, 6, 6, 1)


def test_bundled_breastmnist_loads():
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "datasets", "medmnist", "breastmnist.npz")
    data = load_npz_splits(path)
    assert {s: len(y) for s, (_, y) in data.items()} == {"train": 546, "val": 78, "test": 156}
    assert set(np.unique(data["test"][1])) == {0, 1}


def test_missing_key_names_the_file_and_the_keys(tmp_path):
    arrays = _splits()
    del arrays["val_labels"]
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"bad.npz: missing val_labels; the file has test_images"):
        load_npz_splits(path)


def test_length_mismatch(tmp_path):
    arrays = _splits()
    arrays["test_labels"] = arrays["test_labels"][:3]
    with pytest.raises(ValueError, match=r"test_images has 4 samples but test_labels has 3"):
        load_npz_splits(_write(tmp_path / "d.npz", **arrays))


def test_nan_is_refused_with_the_sample_index(tmp_path):
    arrays = _splits(dtype="float32")
    arrays["train_images"][2, 3, 3] = np.nan
    with pytest.raises(ValueError, match=r"train_images\[2\] contains NaN or infinite values"):
        load_npz_splits(_write(tmp_path / "d.npz", **arrays))


def test_not_an_npz(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match=r"corrupt.npz: not a readable .npz archive"):
        load_npz_splits(path)
    with pytest.raises(FileNotFoundError, match=r"No such .npz file: '.*nothing.npz'"):
        load_npz_splits(tmp_path / "nothing.npz")


def test_object_arrays_are_refused_without_running_pickle(tmp_path):
    arrays = _splits()
    arrays["train_labels"] = np.array([{"a": 1}] * 4, dtype=object)
    with pytest.raises(ValueError, match=r"cannot read .*without pickle"):
        load_npz_splits(_write(tmp_path / "d.npz", **arrays))
