"""image_dataset(cache=...): every file decoded once, later epochs served from the cache."""

import os

import numpy as np
import pytest
from PIL import Image

import biocnn  # noqa: F401  (first: it sets TensorFlow's defaults)
from biocnn.data import image_dataset, load_images, table_from_folder


def _folder(root, counts):
    rng = np.random.default_rng(0)
    for label, count in counts.items():
        os.makedirs(root / label)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (5, 5), dtype=np.uint8)).save(root / label / f"{i}.png")
    return table_from_folder(root)


@pytest.mark.parametrize("cache", ["memory", "file"])
def test_cached_epochs_match_the_files_without_reading_them_again(tmp_path, cache):
    table = _folder(tmp_path / "images", {"a": 3, "b": 4})
    expected = load_images(table).reshape(len(table), -1)
    target = "memory" if cache == "memory" else str(tmp_path / "decoded")
    data = image_dataset(table, batch_size=3, shuffle=True, seed=2, cache=target)
    assert int(data.cardinality()) == 3
    orders = []
    for epoch in range(3):
        batches = list(data)
        assert [int(x.shape[0]) for x, _ in batches] == [3, 3, 1]
        images = np.concatenate([x.numpy() for x, _ in batches]).reshape(len(table), -1)
        labels = np.concatenate([y.numpy() for _, y in batches])
        order = [int(np.argmin(np.abs(expected - row).sum(axis=1))) for row in images]
        assert sorted(order) == list(range(len(table)))  # each image once per epoch
        np.testing.assert_allclose(images, expected[order])
        assert labels.tolist() == table.labels[order].tolist()
        orders.append(tuple(order))
        if epoch == 0:  # decoded once: the files are no longer needed
            for path in table.paths:
                os.remove(path)
    assert len(set(orders)) > 1  # reshuffled each epoch


def test_cache_must_be_memory_or_a_path(tmp_path):
    table = _folder(tmp_path, {"a": 1, "b": 1})
    with pytest.raises(ValueError, match=r"cache must be None, 'memory' or a file path, got True"):
        image_dataset(table, batch_size=2, cache=True)
