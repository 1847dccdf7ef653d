"""Crop single blood cells from the BCCD smears into a 3-class image classification set.

Input: the BCCD dataset (Pascal-VOC layout: ``Annotations/*.xml`` with one box per cell,
``JPEGImages/*.jpg``, 640x480 light-microscopy blood smears; MIT licence).
Output, next to this script:

    images/<class>/<smear>_<k>.png   one 64x64 RGB crop per cell
    cells.csv                        path,label,group,xmin,ymin,xmax,ymax  (group = smear)

Each crop is the square around its box (side = longest box side + 10%), shifted to stay
inside the smear, resized with Lanczos filtering. Every WBC and platelet box is kept; red
cells, which outnumber the others 11 to 1, are sampled: at most RBC_PER_SMEAR per smear,
drawn with a fixed seed (this keeps the set under 10 MB and the classes within 2:1).
Boxes narrower or shorter than MIN_BOX_SIDE pixels are annotation slips and are skipped.
The output is a function of the input alone: rerunning rewrites identical files.

    python datasets/bccd_cells/make_bccd_cells.py --source ../shared/data/bccd/BCCD
"""

import argparse
import csv
import os
import shutil
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SOURCE = os.path.join(HERE, "..", "..", "..", "shared", "data", "bccd", "BCCD")
CLASSES = ("RBC", "WBC", "Platelets")
CROP_SIZE = 64
MARGIN = 0.10
RBC_PER_SMEAR = 2
MIN_BOX_SIDE = 4
SEED = 0


def read_boxes(xml_path):
    """The (label, xmin, ymin, xmax, ymax) boxes of one VOC annotation, in file order."""
    root = ElementTree.parse(xml_path).getroot()
    boxes = []
    for number, item in enumerate(root.iter("object")):
        label = item.findtext("name", "").strip()
        if label not in CLASSES:
            raise ValueError(f"{xml_path}: object {number} has label {label!r}; expected one of {CLASSES}.")
        box = item.find("bndbox")
        boxes.append((label, *(int(float(box.findtext(k))) for k in ("xmin", "ymin", "xmax", "ymax"))))
    return boxes


def square_crop(image, xmin, ymin, xmax, ymax):
    """The square around a box (longest side + MARGIN), moved inside the image, resized."""
    width, height = image.size
    side = min(int(round(max(xmax - xmin, ymax - ymin) * (1 + MARGIN))), width, height)
    left = int(round((xmin + xmax - side) / 2))
    top = int(round((ymin + ymax - side) / 2))
    left = min(max(left, 0), width - side)
    top = min(max(top, 0), height - side)
    crop = image.crop((left, top, left + side, top + side))
    return crop.resize((CROP_SIZE, CROP_SIZE), Image.Resampling.LANCZOS)


def chosen_boxes(boxes, smear_index):
    """All WBC and platelet boxes, and at most RBC_PER_SMEAR red cells drawn at random."""
    valid = [b for b in boxes if b[3] - b[1] >= MIN_BOX_SIDE and b[4] - b[2] >= MIN_BOX_SIDE]
    red = [i for i, b in enumerate(valid) if b[0] == "RBC"]
    rng = np.random.default_rng([SEED, smear_index])
    keep_red = set(rng.choice(red, size=min(RBC_PER_SMEAR, len(red)), replace=False).tolist()) if red else set()
    return [b for i, b in enumerate(valid) if b[0] != "RBC" or i in keep_red], len(boxes) - len(valid)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="the BCCD folder holding Annotations/ and JPEGImages/")
    parser.add_argument("--out", default=HERE, help="output folder (default: next to this script)")
    args = parser.parse_args(argv)
    annotations = os.path.join(args.source, "Annotations")
    if not os.path.isdir(annotations):
        raise SystemExit(f"error: no Annotations/ folder in '{args.source}'; pass --source <BCCD folder>.")
    images_out = os.path.join(args.out, "images")
    shutil.rmtree(images_out, ignore_errors=True)
    for label in CLASSES:
        os.makedirs(os.path.join(images_out, label))

    rows, skipped = [], 0
    for smear_index, name in enumerate(sorted(f for f in os.listdir(annotations) if f.endswith(".xml"))):
        smear = name[: -len(".xml")]
        boxes, bad = chosen_boxes(read_boxes(os.path.join(annotations, name)), smear_index)
        skipped += bad
        with Image.open(os.path.join(args.source, "JPEGImages", f"{smear}.jpg")) as image:
            image = image.convert("RGB")
            for k, (label, *box) in enumerate(boxes):
                relative = f"images/{label}/{smear}_{k:02d}.png"
                square_crop(image, *box).save(os.path.join(args.out, relative), optimize=True)
                rows.append([relative, label, smear, *box])

    with open(os.path.join(args.out, "cells.csv"), "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["path", "label", "group", "xmin", "ymin", "xmax", "ymax"])
        writer.writerows(rows)
    counts = {c: sum(r[1] == c for r in rows) for c in CLASSES}
    print(f"{len(rows)} cells from {len({r[2] for r in rows})} smears: {counts}; {skipped} degenerate boxes skipped")


if __name__ == "__main__":
    main(sys.argv[1:])
