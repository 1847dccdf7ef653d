"""biocnn.data.sources: every input kind -> one labelled table; one class order for every modality."""

import os

import h5py
import numpy as np
import pytest
from PIL import Image

from biocnn.data import class_indices, csv_kind, open_source, sorted_classes

LABELS = ["10", "2", "1", "2", "10", "1"]
NUMERIC_ORDER = ["1", "2", "10"]


def test_class_order_rule():
    assert sorted_classes(LABELS) == NUMERIC_ORDER
    assert sorted_classes(["wbc", "rbc", "10"]) == ["10", "rbc", "wbc"]  # not all numbers: as strings
    y, names = class_indices(LABELS, ["10", "2", "1"])
    assert names == ["10", "2", "1"] and y.tolist() == [0, 1, 2, 1, 0, 2]
    with pytest.raises(ValueError, match=r"cells\.csv: Labels '3' are not among the classes '1', '2'"):
        class_indices(["1", "3"], ["1", "2"], where="cells.csv")


@pytest.fixture
def numeric_sources(tmp_path):
    """One source of each table kind whose labels are 10, 2, 1, ..."""
    rng = np.random.default_rng(0)
    for i in range(len(LABELS)):
        Image.fromarray(rng.integers(0, 255, (6, 6), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        np.save(tmp_path / f"{i}.npy", rng.random((4, 4, 4)).astype(np.float32))
    (tmp_path / "images.csv").write_text("path,label\n" + "".join(f"{i}.png,{y}\n" for i, y in enumerate(LABELS)))
    (tmp_path / "volumes.csv").write_text("path,label\n" + "".join(f"{i}.npy,{y}\n" for i, y in enumerate(LABELS)))
    (tmp_path / "seqs.csv").write_text("sequence,label\n" + "".join(
        f"{''.join(rng.choice(list('ACGT'), 8))},{y}\n" for y in LABELS))
    with h5py.File(tmp_path / "v.h5", "w") as f:
        f["volumes"] = rng.random((len(LABELS), 4, 4, 4)).astype(np.float32)
        f["labels"] = np.array([int(y) for y in LABELS])
    return tmp_path


def test_every_modality_orders_numeric_labels_numerically(numeric_sources):
    d = numeric_sources
    sources = [open_source("csv", str(d / "images.csv")), open_source("csv", str(d / "volumes.csv")),
               open_source("csv", str(d / "seqs.csv")), open_source("hdf5", str(d / "v.h5"), key="volumes",
                                                                    labels_key="labels")]
    assert [s.kind for s in sources] == ["image_csv", "volume_csv", "sequence_csv", "hdf5"]
    assert [s.modality for s in sources] == ["images", "volumes", "sequences", "volumes"]
    for source in sources:
        assert source.class_names == NUMERIC_ORDER, source.kind
        assert [source.class_names[i] for i in source.labels] == LABELS, source.kind
    shapes = [s.load([0, 1]).shape for s in sources]
    assert shapes == [(2, 6, 6, 1), (2, 4, 4, 4, 1), (2, 8, 4), (2, 4, 4, 4, 1)]


def test_csv_kind_from_columns_or_refused(tmp_path):
    (tmp_path / "a.csv").write_text("path,label\nx.nii.gz,1\n")
    (tmp_path / "b.csv").write_text("id,seq,label\nr1,ACGT,1\n")
    (tmp_path / "c.csv").write_text("file,label\nx.png,1\n")
    assert csv_kind(str(tmp_path / "a.csv")) == "volume_csv"
    assert csv_kind(str(tmp_path / "b.csv"), sequence_column="seq") == "sequence_csv"
    with pytest.raises(ValueError, match=r"c\.csv: cannot tell what the table lists: it has no 'path' column"):
        csv_kind(str(tmp_path / "c.csv"))


def test_group_column_and_split(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for s in range(6):
        for c in ("rbc", "wbc"):
            name = f"{s}_{c}.png"
            Image.fromarray(rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)).save(tmp_path / name)
            rows.append(f"{name},{c},smear{s}")
    (tmp_path / "cells.csv").write_text("path,label,smear\n" + "\n".join(rows) + "\n")
    source = open_source("csv", str(tmp_path / "cells.csv"), group_column="smear")
    parts = source.split(test_size=0.34, val_size=0.2, seed=0)
    sides = [set(source.groups[index]) for index in parts.values()]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])  # no smear split
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(12))
    with pytest.raises(ValueError, match=r"--group-column 'patient' is not a column"):
        open_source("csv", str(tmp_path / "cells.csv"), group_column="patient")


def test_npz_keeps_its_split_and_names_its_classes(tmp_path):
    arrays = {}
    for split, n in (("train", 6), ("val", 2), ("test", 4)):
        arrays[f"{split}_images"] = np.full((n, 6, 6, 6), 7, np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2)[:, None]
    np.savez(tmp_path / "v.npz", **arrays)
    source = open_source("npz", str(tmp_path / "v.npz"), class_names=["normal", "tumour"])
    assert source.modality == "volumes" and source.class_names == ["normal", "tumour"]
    parts = source.split()
    assert {s: len(i) for s, i in parts.items()} == {"train": 6, "val": 2, "test": 4}
    assert source.ids[parts["test"]][0] == "test 0"
    np.testing.assert_allclose(source.load([0])[0], 7 / 255)
    with pytest.raises(ValueError, match=r"labels run up to 1 but 1 class names were given"):
        open_source("npz", str(tmp_path / "v.npz"), class_names=["normal"])
    with pytest.raises(ValueError, match=r"--group-column needs a table"):
        open_source("npz", str(tmp_path / "v.npz"), group_column="patient")
    assert os.path.exists(tmp_path / "v.npz")
