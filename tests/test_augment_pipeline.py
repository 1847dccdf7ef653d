"""pipelines/show_augmentations.py writes its PNG grid, and the committed figure is there."""

import importlib.util
import os

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _script():
    path = os.path.join(ROOT, "pipelines", "show_augmentations.py")
    spec = importlib.util.spec_from_file_location("show_augmentations", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_grid_has_a_row_per_layer_and_a_column_per_modality_and_draw(tmp_path):
    script = _script()
    examples = script.load_examples()
    assert {m: x.shape for m, x in examples.items()} == {
        "sequence": (2, 60, 4), "grey": (2, 28, 28, 1), "rgb": (2, 64, 64, 3), "volume": (2, 28, 28, 28, 1)}
    rows = script.build_grid(examples, seed=0)
    labels = [label.split("\n")[0] for label, _ in rows]
    assert labels[1:-2] == [name for name, *_ in script.ROWS]
    assert len(labels) == len(script.ROWS) + 3  # original, MixUp, named policy
    for label, cells in rows[1:]:
        for modality, (images, _) in cells.items():
            if label.startswith("RandomGamma") and modality == "volume":
                continue  # AdrenalMNIST3D is binary (0/1), and 0 and 1 are fixed points of any gamma
            assert images.shape == (script.DRAWS,) + examples[modality].shape[1:], label
            assert any(not np.array_equal(image, examples[modality][0]) for image in images), label
    out = tmp_path / "grid.png"
    script.plot_grid(rows, str(out))
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 800 and image.height > 1000


def test_the_committed_figure_exists_and_is_small():
    path = os.path.join(ROOT, "pipelines", "results", "augmentations.png")
    assert os.path.getsize(path) < 500 * 1024
    with Image.open(path) as image:
        assert image.format == "PNG"
