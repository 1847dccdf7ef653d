"""Filters, feature maps and top-activating inputs, against NumPy references."""

import keras
import numpy as np
import pytest

from biocnn.data.preprocess import with_preprocessing
from biocnn.interpret import feature_maps, filter_images, plot_filters, top_activating


def _conv(rank, filters=3, in_channels=2, kernel=3):
    conv = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}[rank]
    return keras.Sequential([keras.Input((6,) * rank + (in_channels,)),
                             conv(filters, kernel, use_bias=False, name="c")])


@pytest.mark.parametrize("rank, shape", [(1, (3, 2, 3)), (2, (3, 3, 3)), (3, (3, 3, 3))])
def test_filter_images_follow_the_kernel(rank, shape):
    model = _conv(rank)
    kernel = model.get_layer("c").get_weights()[0]
    images = filter_images(model)
    assert images.shape == shape
    if rank == 1:
        np.testing.assert_allclose(images[1], kernel[:, :, 1].T)
    elif rank == 2:
        np.testing.assert_allclose(images[1], kernel[:, :, :, 1].mean(axis=-1), rtol=1e-6)
    else:
        np.testing.assert_allclose(images[1], kernel[1, :, :, :, 1].mean(axis=-1), rtol=1e-6)


def test_plot_filters_writes_a_png(tmp_path):
    plot_filters(_conv(2, filters=5, in_channels=3), tmp_path / "filters.png")
    assert (tmp_path / "filters.png").read_bytes()[:4] == b"\x89PNG"


def test_feature_maps_and_top_activating_match_numpy():
    model = _conv(1, filters=2, in_channels=1, kernel=1)
    model.get_layer("c").set_weights([np.array([[[1.0, -1.0]]], "float32")])
    x = np.random.default_rng(0).normal(size=(7, 6, 1)).astype("float32")
    wrapped = with_preprocessing(keras.layers.Rescaling(3.0), model)
    maps = feature_maps(wrapped, x, "c")
    np.testing.assert_allclose(maps, np.concatenate([3 * x, -3 * x], axis=-1), rtol=1e-6)
    index, score = top_activating(wrapped, x, "c", channel=1, k=3)
    expected = np.argsort(-(-3 * x[..., 0]).max(axis=1))[:3]
    np.testing.assert_array_equal(index, expected)
    np.testing.assert_allclose(score, (-3 * x[expected, :, 0]).max(axis=1), rtol=1e-6)
    with pytest.raises(ValueError, match="2 channels"):
        top_activating(model, x, "c", channel=2)


def test_explain_pipeline_writes_overlays_and_filters(tmp_path):
    import importlib.util
    import json
    import pathlib

    spec = importlib.util.spec_from_file_location(
        "explain", pathlib.Path(__file__).parents[1] / "pipelines" / "explain.py")
    explain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(explain)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(3, 3, activation="relu", name="c"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"class_names": ["a", "b"]}))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", **{f"{s}_images": rng.integers(0, 255, (5, 8, 8), dtype=np.uint8) for s in ("train", "val", "test")},
             **{f"{s}_labels": np.array([[0], [1], [0], [1], [0]]) for s in ("train", "val", "test")})
    explain.main(["--run", str(run), "--npz", str(tmp_path / "d.npz"), "--count", "2", "--steps", "4",
                  "--out", str(tmp_path / "out")])
    for name in ("attributions.png", "filters.png"):
        assert (tmp_path / "out" / name).read_bytes()[:4] == b"\x89PNG"
    table = (tmp_path / "out" / "explained.csv").read_text().splitlines()
    assert table[0] == "id,label,explained_class,score" and table[1].startswith("test 0,a,") and len(table) == 3
    with pytest.raises(ValueError, match="--split 'nope'"):
        explain.main(["--run", str(run), "--npz", str(tmp_path / "d.npz"), "--split", "nope", "--out", str(tmp_path)])
