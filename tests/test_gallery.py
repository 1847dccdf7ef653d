"""Example-image figures: which samples are chosen, what is drawn, and that PNGs are written."""

import doctest

import numpy as np
import pytest
from PIL import Image

from biocnn import gallery
from biocnn.gallery import display_image, image_grid, orthogonal_slices, save_misclassified, select_misclassified

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_docstring_examples_run():
    assert doctest.testmod(gallery, optionflags=doctest.ELLIPSIS).failed == 0


def test_orthogonal_slices_are_the_mid_planes():
    volume = np.arange(4 * 6 * 8).reshape(4, 6, 8, 1)
    axial, coronal, sagittal = orthogonal_slices(volume)
    np.testing.assert_array_equal(axial[..., 0], volume[2, :, :, 0])
    np.testing.assert_array_equal(coronal[..., 0], volume[:, 3, :, 0])
    np.testing.assert_array_equal(sagittal[..., 0], volume[:, :, 4, 0])
    with pytest.raises(ValueError, match=r"expected a volume \(D, H, W, C\), got shape \(6, 8, 1\)"):
        orthogonal_slices(volume[0])


def test_select_misclassified_orders_by_confidence_in_the_wrong_class():
    labels = [0, 1, 2, 2, 0]
    scores = [[0.9, 0.05, 0.05],  # right
              [0.6, 0.3, 0.1],  # wrong, 0.6
              [0.1, 0.85, 0.05],  # wrong, 0.85
              [0.2, 0.2, 0.6],  # right
              [0.3, 0.7, 0.0]]  # wrong, 0.7
    assert select_misclassified(labels, scores).tolist() == [2, 4, 1]
    assert select_misclassified(labels, scores, limit=2).tolist() == [2, 4]
    assert select_misclassified([0, 1], [[1, 0], [0, 1]]).tolist() == []


def test_display_image_stretches_and_maps_channels():
    grey = np.linspace(0, 1000, 100).reshape(10, 10, 1)
    shown = display_image(grey)
    assert shown.shape == (10, 10) and shown.min() == 0.0 and shown.max() == 1.0
    two = display_image(np.random.rand(10, 10, 2))
    assert two.shape == (10, 10, 3) and np.all(two[..., 2] == 0)
    # a colour image is stretched jointly: a pure-red image stays red
    red = np.zeros((10, 10, 3))
    red[..., 0] = np.linspace(0.2, 0.4, 100).reshape(10, 10)
    shown = display_image(red)
    assert shown[..., 0].max() == 1.0 and shown[..., 1:].max() == 0.0


def test_grid_of_images_and_of_volumes_is_a_png_of_the_right_layout(tmp_path):
    images = np.random.rand(5, 16, 16, 3)
    fig = image_grid(images, [0, 1, 0, 1, 0], [0, 0, 0, 1, 1], ["a", "b"], columns=3)
    assert len([ax for ax in fig.axes if ax.images]) == 5
    assert [ax.get_title() for ax in fig.axes[:2]] == ["true a\npred a", "true b\npred a"]
    assert fig.axes[1].title.get_color() == "firebrick" and fig.axes[0].title.get_color() == "black"
    volumes = np.random.rand(2, 6, 8, 10, 1)
    image_grid(volumes, [0, 1], class_names=["x", "y"], path=tmp_path / "v.png")
    with open(tmp_path / "v.png", "rb") as f:
        assert f.read(8) == PNG_MAGIC
    fig = image_grid(volumes, [0, 1], class_names=["x", "y"])
    assert len([ax for ax in fig.axes if ax.images]) == 6  # three mid-slices per volume
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        image_grid(images[:3], [0, 1])
    with pytest.raises(ValueError, match=r"Expected images \(H, W, C\) or volumes"):
        image_grid(np.zeros((2, 8, 8)), [0, 1])


def test_save_misclassified_writes_a_png_even_without_mistakes(tmp_path):
    images = np.random.rand(4, 8, 8, 1)
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    assert save_misclassified(tmp_path / "m.png", images, [0, 1, 0, 1], scores, ["a", "b"]) == 2
    assert save_misclassified(tmp_path / "none.png", images, [0, 0, 1, 1], scores, ["a", "b"]) == 0
    for name in ("m.png", "none.png"):
        with Image.open(tmp_path / name) as png:
            assert png.format == "PNG" and png.size[0] > 100
