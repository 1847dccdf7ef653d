"""Volume readers, label tables, preprocessing and lazy streaming, on small generated files.

Every reader is checked against the array that was written (values, channels-last shape, spacing)
and every bad input against the message a user needs to fix it.
"""

import os
import sys

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
import tifffile

from biocnn.data import load_npz_splits, preprocess, split_table
from biocnn.data.intensity import CT_WINDOWS, replace_nonfinite, window, window_bounds
from biocnn.data.volume_datasets import (
    VolumePreprocessing,
    check_volume_shapes,
    load_volumes,
    source_for_table,
    volume_dataset,
    volume_table,
    volume_table_from_csv,
)
from biocnn.data.volumes import (
    ArrayVolumes,
    HDF5Volumes,
    probe_volume,
    read_hdf5_array,
    read_nifti,
    read_npy,
    read_tiff_stack,
    read_volume,
)
from biocnn.training import TrainingConfig, fit

try:
    import nibabel
except ImportError:  # an optional extra: pip install "biocnn[nifti]" (CI installs it with [test])
    nibabel = None
needs_nibabel = pytest.mark.skipif(nibabel is None, reason="nibabel (biocnn[nifti]) is not installed")


def numbered_volumes(n, shape=(8, 8, 8)):
    """Volume i is filled with the value i, so a batch tells which volumes it holds."""
    return np.stack([np.full(shape, i, dtype=np.float32) for i in range(n)])


def truncate(path):
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    return path


# --- readers --------------------------------------------------------------------------------


@needs_nibabel
def test_nifti_applies_the_header_scaling_and_keeps_the_spacing(tmp_path):
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 2000, size=(6, 7, 8)).astype(np.int16)
    image = nibabel.Nifti1Image(stored, np.diag([0.7, 0.8, 2.5, 1.0]))
    image.header.set_slope_inter(2.0, -1024.0)  # CT stored as (HU + 1024) / 2
    nibabel.save(image, tmp_path / "ct.nii.gz")
    volume = read_nifti(tmp_path / "ct.nii.gz")
    assert volume.array.shape == (6, 7, 8, 1)
    np.testing.assert_allclose(volume.array[..., 0], stored * 2.0 - 1024.0)
    assert volume.spacing == pytest.approx((0.7, 0.8, 2.5))


@needs_nibabel
def test_nifti_4d_is_channels_last(tmp_path):
    data = np.random.default_rng(1).random((5, 6, 7, 2)).astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), tmp_path / "t1_t2.nii")
    volume = read_volume(tmp_path / "t1_t2.nii")
    np.testing.assert_array_equal(volume.array, data)
    assert probe_volume(tmp_path / "t1_t2.nii") == (5, 6, 7, 2)


def test_tiff_stack_spacing_from_imagej_and_ome(tmp_path):
    data = np.arange(9 * 5 * 6, dtype=np.uint16).reshape(9, 5, 6)
    tifffile.imwrite(tmp_path / "ij.tif", data, imagej=True, resolution=(1 / 0.5, 1 / 0.25),
                     metadata={"axes": "ZYX", "spacing": 2.0, "unit": "um"})
    volume = read_tiff_stack(tmp_path / "ij.tif")
    np.testing.assert_array_equal(volume.array[..., 0], data)
    assert volume.array.dtype == np.uint16
    assert volume.spacing == pytest.approx((2.0, 0.25, 0.5))  # (z, y, x): 1 / pixels per unit

    tifffile.imwrite(tmp_path / "s.ome.tif", data,
                     metadata={"axes": "ZYX", "PhysicalSizeZ": 1.5, "PhysicalSizeY": 0.4, "PhysicalSizeX": 0.3})
    assert read_volume(tmp_path / "s.ome.tif").spacing == pytest.approx((1.5, 0.4, 0.3))

    tifffile.imwrite(tmp_path / "plain.tif", data)  # a plain multi-page TIFF: pages are slices
    plain = read_volume(tmp_path / "plain.tif")
    np.testing.assert_array_equal(plain.array[..., 0], data)
    assert plain.spacing is None


def test_tiff_hyperstack_channels_move_last(tmp_path):
    data = np.random.default_rng(2).integers(0, 255, size=(9, 2, 5, 6)).astype(np.uint8)  # Z C Y X
    tifffile.imwrite(tmp_path / "zcyx.tif", data, imagej=True, metadata={"axes": "ZCYX"})
    np.testing.assert_array_equal(read_tiff_stack(tmp_path / "zcyx.tif").array, np.moveaxis(data, 1, -1))


def test_npy_volume_and_memory_mapped_stack(tmp_path):
    volume = np.random.default_rng(3).random((4, 5, 6)).astype(np.float32)
    np.save(tmp_path / "one.npy", volume)
    np.testing.assert_array_equal(read_npy(tmp_path / "one.npy").array, volume[..., None])
    stack = numbered_volumes(7)
    np.save(tmp_path / "stack.npy", stack)
    source = ArrayVolumes(tmp_path / "stack.npy")
    assert len(source) == 7 and isinstance(source._array, np.memmap)
    assert [float(v.mean()) for v in source.read([5, 0, 5])] == [5.0, 0.0, 5.0]


def test_medmnist3d_npz_splits(tmp_path):
    rng = np.random.default_rng(4)
    arrays = {}
    for split, n in (("train", 6), ("val", 2), ("test", 3)):
        arrays[f"{split}_images"] = rng.integers(0, 256, size=(n, 8, 8, 8)).astype(np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 2, size=(n, 1)).astype(np.uint8)
    np.savez(tmp_path / "m3d.npz", **arrays)
    splits = load_npz_splits(tmp_path / "m3d.npz")
    for split, (x, y) in splits.items():
        assert x.shape == (len(arrays[f"{split}_labels"]), 8, 8, 8, 1) and x.dtype == np.float32
        np.testing.assert_allclose(x[..., 0], arrays[f"{split}_images"] / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(y, arrays[f"{split}_labels"][:, 0])


def test_hdf5_stack_reads_any_order_and_keeps_spacing(tmp_path):
    with h5py.File(tmp_path / "v.h5", "w") as f:
        f["images"] = numbered_volumes(6)
        f["images"].attrs["element_size_um"] = [3.0, 1.0, 1.0]
    with HDF5Volumes(tmp_path / "v.h5", "images") as source:
        assert source.ids == ["0", "1", "2", "3", "4", "5"]
        assert [float(v.mean()) for v in source.read([4, 1, 4, 2])] == [4.0, 1.0, 4.0, 2.0]
        assert source[3].shape == (8, 8, 8, 1)
        assert source.volume(2).spacing == (3.0, 1.0, 1.0)
        np.testing.assert_array_equal(source.indices_of(["5", "0"]), [5, 0])


def test_hdf5_group_of_volumes_of_different_shapes(tmp_path):
    with h5py.File(tmp_path / "g.h5", "w") as f:
        f["cases/b"] = np.ones((8, 8, 8), np.float32)
        f["cases/a"] = np.zeros((10, 8, 8), np.float32)
        f["cases/a"].attrs["spacing"] = [1.0, 0.5, 0.5]
    with HDF5Volumes(tmp_path / "g.h5", "cases") as source:
        assert source.ids == ["a", "b"]  # sorted names
        assert source.shapes() == [(10, 8, 8, 1), (8, 8, 8, 1)]
        assert source.spacing(0) == (1.0, 0.5, 0.5) and source.spacing(1) is None
        with pytest.raises(ValueError, match=r"different shapes: 10x8x8 \(1 channel\(s\)\) in 1 volume\(s\) "
                                             r"\(e\.g\. a\); 8x8x8 .*--shape D H W"):
            load_volumes(source)
        resampled = load_volumes(source, preprocessing=VolumePreprocessing(target_shape=(4, 4, 4)))
    assert resampled.shape == (2, 4, 4, 4, 1)
    np.testing.assert_allclose(resampled[:, ..., 0].reshape(2, -1).mean(1), [0.0, 1.0])


# --- lazy HDF5 streaming ----------------------------------------------------------------------


class CountingVolumes(HDF5Volumes):
    """Records every read, to show that only the volumes of each batch are read."""

    def __init__(self, *args):
        super().__init__(*args)
        self.reads = []

    def _read(self, indices):
        self.reads.append(sorted(int(i) for i in indices))
        return super()._read(indices)


@pytest.fixture
def h5_file(tmp_path):
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=numbered_volumes(22), chunks=(1, 8, 8, 8))
        f["labels"] = np.arange(22) % 3
    return path


def test_streaming_reads_only_the_batches(h5_file):
    source = CountingVolumes(h5_file, "images")
    labels = read_hdf5_array(h5_file, "labels")
    ds = volume_dataset(source, labels, batch_size=4)
    assert source.reads == []  # building the dataset reads no voxels, only the shapes
    assert int(ds.cardinality()) == 6
    batches = [(x.numpy(), y.numpy()) for x, y in ds]
    assert [x.shape for x, _ in batches] == [(4, 8, 8, 8, 1)] * 5 + [(2, 8, 8, 8, 1)]
    assert all(x.dtype == np.float32 for x, _ in batches)
    assert max(len(r) for r in source.reads) == 4  # the file (22 volumes) is never read whole
    assert sorted(sum(source.reads, [])) == list(range(22))  # each volume read once per epoch
    volume_ids = np.concatenate([x.reshape(len(x), -1)[:, 0] for x, _ in batches])
    np.testing.assert_array_equal(volume_ids, np.arange(22))
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), np.arange(22) % 3)
    source.close()


def test_streaming_shuffles_a_subset_each_epoch_with_matching_labels(h5_file):
    with HDF5Volumes(h5_file, "images") as source:
        labels = read_hdf5_array(h5_file, "labels")
        subset = np.arange(2, 20)
        ds = volume_dataset(source, labels, indices=subset, batch_size=5, shuffle=True, seed=3)
        epochs = []
        for _ in range(2):
            x, y = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
            ids = np.concatenate([b.reshape(len(b), -1)[:, 0] for b in x]).astype(int)
            np.testing.assert_array_equal(np.concatenate(y), ids % 3)  # each label with its volume
            epochs.append(ids)
        assert sorted(epochs[0]) == list(subset) and sorted(epochs[1]) == list(subset)
        assert list(epochs[0]) != list(epochs[1])  # reshuffled every epoch


def test_a_streamed_hdf5_file_trains_and_predicts(h5_file):
    with HDF5Volumes(h5_file, "images") as source:
        labels = read_hdf5_array(h5_file, "labels")
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8, 8, 1)), keras.layers.Conv3D(2, 3, strides=2),
                                  keras.layers.GlobalAveragePooling3D(), keras.layers.Dense(3, activation="softmax")])
        train = volume_dataset(source, labels, indices=np.arange(16), batch_size=4, shuffle=True)
        val = volume_dataset(source, labels, indices=np.arange(16, 22), batch_size=4)
        result = fit(model, train, validation=val, config=TrainingConfig(epochs=2, batch_size=4), verbose=0)
        assert list(result.history["epoch"]) == [1, 2]
        predicted = model.predict(volume_dataset(source, indices=np.arange(16, 22), batch_size=4), verbose=0)
        expected = model.predict(numbered_volumes(22)[16:, ..., None], verbose=0)
        np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)


def test_streamed_nan_names_the_volume(tmp_path):
    volumes = numbered_volumes(6)
    volumes[4, 1, 2, 3] = np.nan
    with h5py.File(tmp_path / "nan.h5", "w") as f:
        f["images"] = volumes
    with HDF5Volumes(tmp_path / "nan.h5", "images") as source:
        ds = volume_dataset(source, np.zeros(6), batch_size=2)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"nan\.h5:images\[4\]: 1 of 512 voxels are NaN"):
            list(ds)


# --- tables of volume files ---------------------------------------------------------------


@needs_nibabel
def test_csv_of_mixed_formats_with_groups(tmp_path):
    nibabel.save(nibabel.Nifti1Image(np.full((8, 8, 8), 1.0, np.float32), np.diag([2, 2, 2, 1])), tmp_path / "a.nii.gz")
    tifffile.imwrite(tmp_path / "b.tif", np.full((8, 8, 8), 2, np.uint16), imagej=True, metadata={"axes": "ZYX"})
    os.makedirs(tmp_path / "more")
    np.save(tmp_path / "more" / "c.npy", np.full((8, 8, 8), 3.0))
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["volume"] = np.full((8, 8, 8), 4.0)
    (tmp_path / "table.csv").write_text(
        "path,label,group\na.nii.gz,tumour,p1\nb.tif,normal,p1\nmore/c.npy,normal,p2\nd.h5,tumour,p3\n")
    table = volume_table_from_csv(tmp_path / "table.csv")
    assert table.class_names == ("normal", "tumour")
    np.testing.assert_array_equal(table.labels, [1, 0, 0, 1])
    assert list(table.ids) == ["a.nii.gz", "b.tif", os.path.join("more", "c.npy"), "d.h5"]
    assert list(table.groups) == ["p1", "p1", "p2", "p3"]
    source = source_for_table(table)
    x = load_volumes(source, source.indices_of(["d.h5", "a.nii.gz"]))
    assert x.shape == (2, 8, 8, 8, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x.reshape(2, -1).mean(1), [4.0, 1.0])
    assert source.volume(0).spacing == (2.0, 2.0, 2.0)


def test_split_of_a_volume_table_keeps_groups_apart(tmp_path):
    with h5py.File(tmp_path / "v.h5", "w") as f:
        f["images"] = numbered_volumes(40)
    groups = np.repeat(np.arange(20), 2)
    with HDF5Volumes(tmp_path / "v.h5", "images") as source:
        table = volume_table(source, labels=np.arange(40) % 2, groups=groups)
        parts = split_table(table, test_size=0.2, val_size=0.2, seed=0)
        seen = {s: set(t.groups) for s, t in parts.items()}
        assert not (seen["train"] & seen["test"]) and not (seen["train"] & seen["val"]) and not (seen["val"] & seen["test"])
        indices = np.concatenate([source.indices_of(t.ids) for t in parts.values()])
        assert sorted(indices) == list(range(40))
        x = load_volumes(source, source.indices_of(parts["test"].ids))
        np.testing.assert_array_equal(x.reshape(len(x), -1)[:, 0], source.indices_of(parts["test"].ids))


def test_label_csv_for_an_hdf5_stack_matches_by_id(tmp_path):
    source = ArrayVolumes(numbered_volumes(4), name="v.h5:images")
    (tmp_path / "labels.csv").write_text("id,label,split\n3,b,test\n0,a,train\n2,b,val\n1,a,train\n")
    table = volume_table(source, csv_path=tmp_path / "labels.csv")
    np.testing.assert_array_equal(table.labels, [0, 0, 1, 1])
    assert list(table.splits) == ["train", "train", "val", "test"]


# --- intensity and preprocessing --------------------------------------------------------------


def test_ct_window_against_the_formula():
    hu = np.random.default_rng(5).uniform(-1500, 2500, size=(6, 6, 6))
    for preset, (center, width) in CT_WINDOWS.items():
        low, high = center - width / 2, center + width / 2
        np.testing.assert_allclose(window(hu, preset=preset), np.clip((hu - low) / (high - low), 0, 1), atol=1e-6)
    assert window_bounds(40, 80) == (0.0, 80.0)
    with pytest.raises(ValueError, match=r"Unknown CT window preset 'lungs'; choose one of bone, brain"):
        window(hu, preset="lungs")
    with pytest.raises(ValueError, match="width must be a positive number, got -5"):
        window(hu, center=40, width=-5)


def test_nan_policies():
    x = np.array([[2.0, np.nan], [np.inf, -np.inf], [5.0, 3.0]])
    np.testing.assert_array_equal(replace_nonfinite(x, "zero"), [[2, 0], [0, 0], [5, 3]])
    np.testing.assert_array_equal(replace_nonfinite(x, "min"), [[2, 2], [5, 2], [5, 3]])
    with pytest.raises(ValueError, match=r"ct\.nii: 3 of 6 voxels are NaN or infinite \(the first at index \(0, 1\), value nan\)"
                                         r".*'zero'.*'min'"):
        replace_nonfinite(x, "raise", name="ct.nii")
    with pytest.raises(ValueError, match="Unknown NaN policy 'drop'; choose one of raise, zero, min"):
        replace_nonfinite(x, "drop")
    assert replace_nonfinite(np.arange(3), "raise").dtype.kind == "i"


def test_preprocessing_order_window_then_resample():
    hu = np.random.default_rng(6).uniform(-200, 300, size=(10, 12, 14, 1)).astype(np.float32)
    hu[0, 0, 0, 0] = np.nan
    step = VolumePreprocessing(nan_policy="min", window=(40, 400), target_shape=(5, 6, 7))
    expected = preprocess.resize(window(replace_nonfinite(hu, "min"), 40, 400), (5, 6, 7))
    np.testing.assert_allclose(step(hu), expected, rtol=1e-6)
    assert step.to_dict() == {"nan_policy": "min", "window": (40, 400), "target_shape": (5, 6, 7)}
    with pytest.raises(ValueError, match=r"target_shape must be 3 positive integers \(D, H, W\), got \(8, 8\)"):
        VolumePreprocessing(target_shape=(8, 8))


def test_normalisation_fitted_on_the_training_volumes_only():
    train = np.random.default_rng(7).normal(5.0, 2.0, size=(12, 4, 4, 4, 1)).astype(np.float32)
    layer = preprocess.fit_preprocessing(train)
    out = np.asarray(layer(train))
    assert abs(out.mean()) < 1e-4 and out.std() == pytest.approx(1.0, rel=1e-3)


def test_check_volume_shapes_reads_no_voxels(tmp_path):
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f["images"] = numbered_volumes(3, (6, 7, 8))
    source = CountingVolumes(tmp_path / "s.h5", "images")
    assert check_volume_shapes(source) == (6, 7, 8, 1) and source.reads == []
    source.close()


# --- bad input ------------------------------------------------------------------------------


def test_missing_hdf5_key_lists_the_keys(tmp_path):
    with h5py.File(tmp_path / "ct.h5", "w") as f:
        f["images"] = numbered_volumes(3)
        f["meta/labels"] = np.array([0, 1, 0])
    with pytest.raises(ValueError, match=r"ct\.h5: no dataset or group 'volumes'\. The file holds: "
                                         r"'images' \(3, 8, 8, 8\) float32, 'meta/labels' \(3,\) int64\. "
                                         r"Pass one of these as the key \(--key\)\."):
        HDF5Volumes(tmp_path / "ct.h5", "volumes")
    with pytest.raises(ValueError, match=r"no dataset or group 'label'.*'meta/labels'"):
        read_hdf5_array(tmp_path / "ct.h5", "label")
    with pytest.raises(ValueError, match=r"ct\.h5:meta/labels has shape \(3,\); expected a stack of volumes \(N, D, H, W\)"):
        HDF5Volumes(tmp_path / "ct.h5", "meta/labels")


def test_nan_in_a_volume_is_refused_unless_a_policy_says(tmp_path):
    volumes = numbered_volumes(3)
    volumes[1, 0, 0, 0] = np.inf
    source = ArrayVolumes(volumes, name="ct.h5:images")
    with pytest.raises(ValueError, match=r"ct\.h5:images\[1\]: 1 of 512 voxels are NaN or infinite"):
        load_volumes(source)
    fixed = load_volumes(source, preprocessing=VolumePreprocessing(nan_policy="zero"))
    assert fixed[1, 0, 0, 0, 0] == 0.0 and np.isfinite(fixed).all()


@pytest.mark.parametrize("name", ["v.h5", pytest.param("v.nii", marks=needs_nibabel),
                                  pytest.param("v.nii.gz", marks=needs_nibabel), "v.tif", "v.npy"])
def test_a_truncated_file_is_named(tmp_path, name):
    data = np.random.default_rng(8).random((16, 32, 32)).astype(np.float32)
    path = tmp_path / name
    if name.endswith(".h5"):
        with h5py.File(path, "w") as f:
            f["images"] = data[None]
    elif ".nii" in name:
        nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), path)
    elif name.endswith(".tif"):
        tifffile.imwrite(path, data, imagej=True, metadata={"axes": "ZYX"})
    else:
        np.save(path, data)
    truncate(path)
    with pytest.raises(ValueError, match=rf"{name}'?: (not a readable .* file|cannot read the image).*truncated"):
        HDF5Volumes(path, "images") if name.endswith(".h5") else read_volume(path)


def test_label_table_that_does_not_match(tmp_path):
    source = ArrayVolumes(numbered_volumes(6), name="ct.h5:images")
    (tmp_path / "short.csv").write_text("label\n" + "0\n1\n" * 2 + "0\n")
    with pytest.raises(ValueError, match=r"short\.csv has 5 rows but ct\.h5:images holds 6 volumes\. Give one row per "
                                         r"volume in the volumes' order, or add an 'id' column"):
        volume_table(source, csv_path=tmp_path / "short.csv")
    (tmp_path / "ids.csv").write_text("id,label\n0,a\n1,b\n2,a\n3,b\n4,a\n9,b\n")
    with pytest.raises(ValueError, match=r"ids\.csv does not match the 6 volumes of ct\.h5:images: 1 volume\(s\) have "
                                         r"no row \(e\.g\. 5\) and 1 row id\(s\) name no volume \(e\.g\. 9\)"):
        volume_table(source, csv_path=tmp_path / "ids.csv")
    with pytest.raises(ValueError, match=r"labels \(shape \(5,\)\) do not match ct\.h5:images, which holds 6 volumes"):
        volume_table(source, labels=[0, 1, 0, 1, 0])
    (tmp_path / "empty.csv").write_text("id,label\n0,a\n1,\n2,a\n3,b\n4,a\n5,b\n")
    with pytest.raises(ValueError, match=r"empty\.csv: 1 row\(s\) have an empty label: line 3"):
        volume_table(source, csv_path=tmp_path / "empty.csv")


def test_volume_csv_problems_name_the_lines(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((4, 4, 4)))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "t.csv").write_text("path,label\na.npy,x\nmissing.nii.gz,y\nnotes.txt,y\n../../etc/passwd,y\n")
    with pytest.raises(ValueError, match=r"t\.csv: 1 row\(s\) name files that do not exist: line 3: 'missing\.nii\.gz'\. "
                                         r"1 row\(s\) are not volume files .*line 4: 'notes\.txt'\. "
                                         r"1 row\(s\) lead outside the data root .*line 5"):
        volume_table_from_csv(tmp_path / "t.csv")
    (tmp_path / "cols.csv").write_text("file,class\na.npy,x\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['path', 'label'\]; found \['file', 'class'\]"):
        volume_table_from_csv(tmp_path / "cols.csv")


def test_nifti_without_nibabel_says_how_to_install_it(tmp_path, monkeypatch):
    (tmp_path / "ct.nii").write_bytes(b"\0" * 400)
    monkeypatch.setitem(sys.modules, "nibabel", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r'needs nibabel, an optional dependency: pip install "biocnn\[nifti\]"'):
        read_volume(tmp_path / "ct.nii")


def test_not_a_volume(tmp_path):
    tifffile.imwrite(tmp_path / "t.tif", np.zeros((3, 9, 5, 6), np.uint8), imagej=True, metadata={"axes": "TZYX"})
    with pytest.raises(ValueError, match=r"t\.tif' is a time series of 3 frames"):
        read_volume(tmp_path / "t.tif")
    np.save(tmp_path / "flat.npy", np.zeros((5, 6)))
    with pytest.raises(ValueError, match=r"flat\.npy: expected a volume of shape \(D, H, W\) or \(D, H, W, C\), got shape \(5, 6\)"):
        read_volume(tmp_path / "flat.npy")
    with pytest.raises(ValueError, match=r"unknown volume format '\.mha'; expected one of \.nii, \.nii\.gz"):
        read_volume(tmp_path / "x.mha")
    with pytest.raises(FileNotFoundError, match="No such NIfTI file"):
        read_volume(tmp_path / "none.nii")


def test_a_wrong_labels_key_is_not_told_to_use_key(tmp_path):
    with h5py.File(tmp_path / "ct.h5", "w") as f:
        f["volumes"] = numbered_volumes(2)
        f["labels"] = np.array([0, 1])
    with pytest.raises(ValueError, match=r"no dataset or group 'label'\. The file holds: .*'labels' \(2,\) int64.*\. "
                                         r"Pass one of these as the key \(--labels-key\)\.") as error:
        read_hdf5_array(tmp_path / "ct.h5", "label", flag="--labels-key")
    assert "(--key)" not in str(error.value)
    with pytest.raises(ValueError, match=r"no dataset or group 'label'\..* Name one of these instead\.") as error:
        read_hdf5_array(tmp_path / "ct.h5", "label")
    assert "--key" not in str(error.value)
    (tmp_path / "t.csv").write_text("path;label\nv.npy;a\n")
    with pytest.raises(ValueError, match=r"The header is one column, 'path;label': the table seems separated by semicolons"):
        volume_table_from_csv(tmp_path / "t.csv")
