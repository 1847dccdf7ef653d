"""Image readers and image datasets, on small generated files.

References are the arrays written into the files (lossless formats), an independent decode
(JPEG), and tables built by hand.
"""

import os
import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from biocnn.data import (
    check_images,
    check_training_labels,
    image_dataset,
    load_image,
    load_images,
    probe_image,
    read_image,
    split_table,
    table_from_csv,
    table_from_folder,
)

RNG = np.random.default_rng(0)


def _u16(*shape):
    return RNG.integers(0, 65536, size=shape, dtype=np.uint16)


def _u8(*shape):
    return RNG.integers(0, 256, size=shape, dtype=np.uint8)


def _png(path, array):
    Image.fromarray(array).save(path)
    return str(path)


# ------------------------------------------------------------------------------------ readers


def test_three_channel_16bit_tiff_in_every_layout(tmp_path):
    cyx = _u16(3, 12, 20)
    expected = np.moveaxis(cyx, 0, -1)  # (H, W, C)
    tifffile.imwrite(tmp_path / "cyx.tif", cyx, photometric="minisblack", metadata={"axes": "CYX"})
    tifffile.imwrite(tmp_path / "yxs.tif", expected, photometric="rgb")
    tifffile.imwrite(tmp_path / "ome.ome.tif", cyx, ome=True, metadata={"axes": "CYX"})
    tifffile.imwrite(tmp_path / "hyperstack.tif", cyx[None], imagej=True, metadata={"axes": "ZCYX"})
    for name in ("cyx.tif", "yxs.tif", "ome.ome.tif", "hyperstack.tif"):
        image = read_image(tmp_path / name)
        assert image.dtype == np.uint16, name
        np.testing.assert_array_equal(image, expected, err_msg=name)
        assert probe_image(tmp_path / name) == ((12, 20, 3), np.dtype(np.uint16))


def test_multipage_tiff_pages_are_channels_in_2d_and_depth_in_3d(tmp_path):
    pages = _u16(4, 6, 7)
    with tifffile.TiffWriter(tmp_path / "pages.tif") as writer:
        for page in pages:
            writer.write(page, metadata=None)  # a plain multi-page file: no axes recorded
    np.testing.assert_array_equal(read_image(tmp_path / "pages.tif"), np.moveaxis(pages, 0, -1))
    np.testing.assert_array_equal(read_image(tmp_path / "pages.tif", rank=3), pages[..., None])
    np.testing.assert_array_equal(
        read_image(tmp_path / "pages.tif", rank=3, pages="depth"), pages[..., None]
    )


def test_ome_volume_with_channels_reads_as_dhwc(tmp_path):
    zcyx = _u16(5, 2, 6, 7)
    tifffile.imwrite(tmp_path / "v.ome.tif", zcyx, ome=True, metadata={"axes": "ZCYX"})
    volume = read_image(tmp_path / "v.ome.tif", rank=3)
    np.testing.assert_array_equal(volume, np.transpose(zcyx, (0, 2, 3, 1)))
    assert probe_image(tmp_path / "v.ome.tif", rank=3)[0] == (5, 6, 7, 2)


def test_tiff_axes_that_do_not_fit_are_refused_with_advice(tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", _u16(5, 6, 7), imagej=True, metadata={"axes": "ZYX"})
    with pytest.raises(ValueError, match=r"stack\.tif' is a Z stack of 5 planes .*rank=3"):
        read_image(tmp_path / "stack.tif")
    tifffile.imwrite(tmp_path / "movie.ome.tif", _u16(3, 6, 7), ome=True, metadata={"axes": "TYX"})
    with pytest.raises(ValueError, match=r"time series of 3 frames.*one frame per file"):
        read_image(tmp_path / "movie.ome.tif")
    tifffile.imwrite(tmp_path / "flat.tif", _u16(6, 7))
    with pytest.raises(ValueError, match=r"has no depth axis.*rank=2"):
        read_image(tmp_path / "flat.tif", rank=3)


def test_png_8_and_16_bit_and_grey(tmp_path):
    rgb, grey16, grey8 = _u8(9, 11, 3), _u16(9, 11), _u8(9, 11)
    rgba = _u8(9, 11, 4)
    np.testing.assert_array_equal(read_image(_png(tmp_path / "rgb.png", rgb)), rgb)
    np.testing.assert_array_equal(read_image(_png(tmp_path / "rgba.png", rgba)), rgba)
    image = read_image(_png(tmp_path / "g16.png", grey16))
    assert image.dtype == np.uint16 and image.shape == (9, 11, 1)
    np.testing.assert_array_equal(image[..., 0], grey16)
    np.testing.assert_array_equal(read_image(_png(tmp_path / "g8.png", grey8))[..., 0], grey8)
    assert probe_image(tmp_path / "g16.png") == ((9, 11, 1), np.dtype(np.uint16))
    assert probe_image(tmp_path / "rgb.png") == ((9, 11, 3), np.dtype(np.uint8))


def test_palette_png_becomes_rgb(tmp_path):
    image = Image.new("P", (4, 3))
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((1, 2), 1)
    image.save(tmp_path / "p.png")
    pixels = read_image(tmp_path / "p.png")
    assert pixels.shape == (3, 4, 3)
    np.testing.assert_array_equal(pixels[2, 1], [255, 0, 0])
    assert pixels.sum() == 255


def test_16bit_colour_png_warns_about_precision(tmp_path):
    # Pillow cannot write 48-bit PNGs; write one by the PNG specification.
    pixels = (np.arange(4 * 5 * 3).reshape(4, 5, 3) * 1000).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 5, 4, 16, 2, 0, 0, 0)
    (tmp_path / "c16.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )
    with pytest.warns(UserWarning, match="16-bit colour PNG.*16-bit TIFF"):
        image = read_image(tmp_path / "c16.png")
    assert image.shape == (4, 5, 3)


def test_jpeg_reads_close_to_what_was_written(tmp_path):
    y, x = np.mgrid[0:32, 0:40]
    smooth = np.stack([x * 6, y * 7, (x + y) * 3], axis=-1).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "a.jpg", quality=95)
    image = read_image(tmp_path / "a.jpg")
    assert image.shape == (32, 40, 3) and image.dtype == np.uint8
    assert np.abs(image.astype(int) - smooth).mean() < 3.0  # lossy, but close
    Image.fromarray(smooth[..., 0]).save(tmp_path / "grey.jpeg")
    assert read_image(tmp_path / "grey.jpeg").shape == (32, 40, 1)


def test_load_image_scales_selects_and_resizes(tmp_path):
    grey16 = _u16(8, 8)
    path = _png(tmp_path / "g16.png", grey16)
    np.testing.assert_allclose(load_image(path)[..., 0], grey16 / 65535.0, rtol=1e-6)
    rgb = _u8(8, 8, 3)
    path = _png(tmp_path / "rgb.png", rgb)
    np.testing.assert_allclose(load_image(path, channels=[2, 0]), rgb[..., [2, 0]] / 255.0, rtol=1e-6)
    resized = load_image(path, shape=(4, 4))
    np.testing.assert_allclose(resized, rgb.reshape(4, 2, 4, 2, 3).mean(axis=(1, 3)) / 255.0, atol=1e-6)
    with pytest.raises(ValueError, match=r"rgb\.png' has 3 channel\(s\).*channels \[3\]"):
        load_image(path, channels=[3])


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_corrupt_and_truncated_files_are_named(tmp_path, suffix):
    good = tmp_path / f"good{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(good, _u16(64, 64))
    else:
        Image.fromarray(_u8(64, 64, 3)).save(good)
    data = good.read_bytes()
    (tmp_path / f"truncated{suffix}").write_bytes(data[: len(data) // 2])
    (tmp_path / f"garbage{suffix}").write_bytes(b"this is not an image" * 10)
    for name in (f"truncated{suffix}", f"garbage{suffix}"):
        with pytest.raises(ValueError, match=rf"{name}': cannot read the image, the file is corrupt or truncated"):
            read_image(tmp_path / name)


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such image file"):
        read_image(tmp_path / "none.png")
    (tmp_path / "a.bmp").write_bytes(b"BM")
    with pytest.raises(ValueError, match=r"unsupported file type; expected one of \.tif"):
        read_image(tmp_path / "a.bmp")
    _png(tmp_path / "a.png", _u8(4, 4))
    with pytest.raises(ValueError, match="PNG and JPEG files are 2D images"):
        read_image(tmp_path / "a.png", rank=3)
    with pytest.raises(ValueError, match="rank must be 2"):
        read_image(tmp_path / "a.png", rank=1)


# ------------------------------------------------------------------------------------ tables


def _tree(root, spec):
    """spec: {class: number of 6x6 RGB PNGs}; returns {relative path: class}."""
    made = {}
    for label, count in spec.items():
        os.makedirs(root / label, exist_ok=True)
        for i in range(count):
            made[f"{label}/{i}.png"] = label
            _png(root / label / f"{i}.png", _u8(6, 6, 3))
    return made


def test_folder_per_class_gives_the_expected_labels(tmp_path):
    _tree(tmp_path, {"wbc": 2, "rbc": 3, "platelet": 1})
    os.makedirs(tmp_path / "rbc" / "deeper")
    _png(tmp_path / "rbc" / "deeper" / "x.tif", _u8(6, 6, 3))
    (tmp_path / "rbc" / "notes.txt").write_text("not an image")
    os.makedirs(tmp_path / ".hidden")
    table = table_from_folder(tmp_path)
    assert table.class_names == ("platelet", "rbc", "wbc")
    got = dict(zip(table.ids.tolist(), (table.class_names[i] for i in table.labels)))
    assert got == {
        "platelet/0.png": "platelet",
        "rbc/0.png": "rbc", "rbc/1.png": "rbc", "rbc/2.png": "rbc", "rbc/deeper/x.tif": "rbc",
        "wbc/0.png": "wbc", "wbc/1.png": "wbc",
    }
    assert all(os.path.isabs(p) for p in table.paths)
    assert table.groups is None and table.class_counts() == {"platelet": 1, "rbc": 4, "wbc": 2}


def test_numeric_class_folders_sort_numerically(tmp_path):
    _tree(tmp_path, {"2": 1, "10": 1})
    assert table_from_folder(tmp_path).class_names == ("2", "10")


def test_empty_class_folder_is_named(tmp_path):
    _tree(tmp_path, {"rbc": 2, "wbc": 1})
    os.makedirs(tmp_path / "platelet")
    (tmp_path / "platelet" / "readme.md").write_text("todo")
    with pytest.raises(ValueError, match=r"Class folder '.*platelet' has no image files .*readme\.md.*remove the folder"):
        table_from_folder(tmp_path)


def test_loose_files_in_the_root_are_ignored_with_a_warning(tmp_path):
    _tree(tmp_path, {"a": 1, "b": 1})
    _png(tmp_path / "stray.png", _u8(6, 6, 3))
    with pytest.warns(UserWarning, match="stray.png"):
        assert len(table_from_folder(tmp_path)) == 2


def _csv(path, text):
    path.write_text(text)
    return path


def test_csv_labels_groups_and_relative_paths(tmp_path):
    _tree(tmp_path / "data", {"rbc": 2, "wbc": 2})
    csv = _csv(
        tmp_path / "data" / "cells.csv",
        "path,label,group\nrbc/0.png,RBC,smear1\nrbc/1.png,RBC,smear2\n wbc/0.png , WBC,smear1\n"
        "./wbc/1.png,WBC,smear3\n",
    )
    table = table_from_csv(csv)
    assert table.class_names == ("RBC", "WBC")
    assert table.labels.tolist() == [0, 0, 1, 1]
    assert table.groups.tolist() == ["smear1", "smear2", "smear1", "smear3"]
    assert table.ids.tolist() == ["rbc/0.png", "rbc/1.png", "wbc/0.png", "wbc/1.png"]
    assert table.paths[0] == str(tmp_path / "data" / "rbc" / "0.png")


def test_csv_path_escaping_the_root_is_refused(tmp_path):
    _tree(tmp_path / "data", {"a": 1, "b": 1})
    _png(tmp_path / "outside.png", _u8(6, 6, 3))
    escaping = ["../outside.png", str(tmp_path / "outside.png")]
    for value in escaping:
        csv = _csv(tmp_path / "data" / "t.csv", f"path,label\na/0.png,a\n{value},b\n")
        with pytest.raises(ValueError, match=r"t\.csv: 1 row\(s\) lead outside the data root .*line 3"):
            table_from_csv(csv)
    # a symbolic link inside the root that leads out is refused too
    os.symlink(tmp_path / "outside.png", tmp_path / "data" / "link.png")
    csv = _csv(tmp_path / "data" / "t.csv", "path,label\na/0.png,a\nlink.png,b\n")
    with pytest.raises(ValueError, match=r"lead outside the data root.*line 3: 'link\.png'"):
        table_from_csv(csv)
    # a wider root, given explicitly, admits the file
    csv = _csv(tmp_path / "data" / "t.csv", "path,label\na/0.png,a\n../outside.png,b\n")
    assert len(table_from_csv(csv, root=tmp_path)) == 2


def test_csv_unreadable_paths_are_listed_by_line(tmp_path):
    _tree(tmp_path, {"a": 2})
    (tmp_path / "notes.txt").write_text("x")
    csv = _csv(
        tmp_path / "t.csv",
        "path,label\na/0.png,a\nmissing.png,b\na/1.png,b\na,b\nnotes.txt,a\na/0.png,\n",
    )
    with pytest.raises(ValueError) as error:
        table_from_csv(csv)
    message = str(error.value)
    assert "1 row(s) name files that do not exist: line 3: 'missing.png' (looked for " in message
    assert "1 row(s) are not readable files: line 5: 'a'" in message
    assert "1 row(s) are not image files" in message and "line 6: 'notes.txt'" in message
    assert "1 row(s) have an empty label: line 7" in message


def test_csv_columns_and_split_values_are_checked(tmp_path):
    _tree(tmp_path, {"a": 1})
    with pytest.raises(ValueError, match=r"missing column\(s\) \['label'\]; found \['path', 'class'\]"):
        table_from_csv(_csv(tmp_path / "t.csv", "path,class\na/0.png,a\n"))
    with pytest.raises(ValueError, match=r"split other than train, val, test: line 2: 'testing'"):
        table_from_csv(_csv(tmp_path / "t.csv", "path,label,split\na/0.png,a,testing\na/0.png,b,train\n"))
    with pytest.raises(FileNotFoundError, match="No such CSV file"):
        table_from_csv(tmp_path / "none.csv")


def test_mixed_channel_counts_are_refused_unless_channels_fit(tmp_path):
    _tree(tmp_path, {"a": 3, "b": 1})
    _png(tmp_path / "b" / "grey.png", _u8(6, 6))
    table = table_from_folder(tmp_path)
    with pytest.raises(ValueError, match=r"different numbers of channels: 3 channel\(s\) in 4 file\(s\).*"
                                          r"1 channel\(s\) in 1 file\(s\) \(e\.g\. b/grey\.png\)"):
        check_images(table)
    with pytest.raises(ValueError, match=r"Channels \[1\] were selected, but some images have fewer"):
        check_images(table, channels=[1])
    assert check_images(table, channels=[0]) == ((6, 6), 1)


def test_different_sizes_need_a_target_shape(tmp_path):
    _tree(tmp_path, {"a": 1, "b": 1})
    _png(tmp_path / "b" / "big.png", _u8(9, 8, 3))
    table = table_from_folder(tmp_path)
    with pytest.raises(ValueError, match=r"different sizes: 6x6 in 2 file\(s\).*9x8 in 1.*--size"):
        load_images(table)
    assert load_images(table, shape=(5, 5)).shape == (3, 5, 5, 3)


def test_load_images_and_streamed_batches_agree(tmp_path):
    _tree(tmp_path, {"a": 3, "b": 4})
    table = table_from_folder(tmp_path)
    in_memory = load_images(table)
    expected = np.stack([np.asarray(Image.open(p), dtype=np.float32) / 255.0 for p in table.paths])
    np.testing.assert_allclose(in_memory, expected, rtol=1e-6)
    batches = list(image_dataset(table, batch_size=3))
    assert [int(x.shape[0]) for x, _ in batches] == [3, 3, 1]
    np.testing.assert_allclose(np.concatenate([x.numpy() for x, _ in batches]), in_memory)
    assert np.concatenate([y.numpy() for _, y in batches]).tolist() == table.labels.tolist()
    # shuffled: every epoch a permutation of the files, not always the same one
    shuffled = image_dataset(table, batch_size=7, shuffle=True, seed=1)
    flat = in_memory.reshape(len(table), -1)
    orders = []
    for x, y in shuffled.take(1).repeat(3):
        order = [int(np.argmin(np.abs(flat - row).sum(axis=1))) for row in x.numpy().reshape(len(table), -1)]
        assert sorted(order) == list(range(len(table)))
        assert y.numpy().tolist() == table.labels[order].tolist()
        orders.append(order)
    assert len({tuple(o) for o in orders}) > 1


def test_streaming_names_a_file_that_turns_out_corrupt(tmp_path):
    import tensorflow as tf

    _tree(tmp_path, {"a": 1, "b": 1})
    data = (tmp_path / "b" / "0.png").read_bytes()
    (tmp_path / "b" / "0.png").write_bytes(data[:-40])  # header intact, pixels cut short
    stream = image_dataset(table_from_folder(tmp_path), batch_size=2)
    with pytest.raises(tf.errors.OpError, match=r"b/0\.png': cannot read the image"):
        list(stream)


# ------------------------------------------------------------------------------------ splits


def test_label_absent_from_training_is_refused():
    with pytest.raises(ValueError, match=r"Class\(es\) 'platelet' \(1 in val, 2 in test\) have no training samples"):
        check_training_labels({"train": [0, 1], "val": [2, 0], "test": [2, 2]}, ["rbc", "wbc", "platelet"])
    check_training_labels({"train": [0, 1, 2], "test": [2]}, ["rbc", "wbc", "platelet"])


def test_group_aware_split_keeps_smears_together_and_predefined_splits_are_kept(tmp_path):
    _tree(tmp_path, {"a": 20, "b": 20})
    rows = [f"{c}/{i}.png,{c},smear{i % 10}" for c in "ab" for i in range(20)]
    table = table_from_csv(_csv(tmp_path / "t.csv", "path,label,group\n" + "\n".join(rows) + "\n"))
    parts = split_table(table, test_size=0.2, val_size=0.2, seed=3)
    groups = {s: set(t.groups.tolist()) for s, t in parts.items()}
    assert not (groups["train"] & groups["test"]) and not (groups["train"] & groups["val"])
    assert not (groups["val"] & groups["test"])
    assert sorted(np.concatenate([t.ids for t in parts.values()]).tolist()) == sorted(table.ids.tolist())

    split_rows = [f"{c}/{i}.png,{c},{['train', 'val', 'test'][i % 3]}" for c in "ab" for i in range(6)]
    table = table_from_csv(_csv(tmp_path / "s.csv", "path,label,split\n" + "\n".join(split_rows) + "\n"))
    parts = split_table(table)
    assert parts["val"].ids.tolist() == ["a/1.png", "a/4.png", "b/1.png", "b/4.png"]

    only_a_in_train = [f"a/{i}.png,a,train" for i in range(3)] + ["a/3.png,a,val", "b/0.png,b,test"]
    table = table_from_csv(_csv(tmp_path / "u.csv", "path,label,split\n" + "\n".join(only_a_in_train) + "\n"))
    with pytest.raises(ValueError, match=r"'b' \(1 in test\) have no training samples"):
        split_table(table)


def test_a_semicolon_or_cp1252_image_table_is_named(tmp_path):
    _tree(tmp_path, {"a": 1})
    with pytest.raises(ValueError, match=r"missing column\(s\) \['path', 'label'\]\. The header is one column, "
                                         r"'path;label': the table seems separated by semicolons"):
        table_from_csv(_csv(tmp_path / "t.csv", "path;label\na/0.png;a\n"))
    (tmp_path / "w.csv").write_bytes("path,label\na/0.png,Zelle ä\n".encode("cp1252"))
    with pytest.raises(ValueError, match=r"w\.csv: not a readable CSV table .*It looks like Windows-1252 \(cp1252\) text"):
        table_from_csv(tmp_path / "w.csv")
