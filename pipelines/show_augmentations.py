"""Show what each biocnn augmentation does: a PNG grid of augmented sequences, images and volumes.

Rows: the original, then one row per layer of ``biocnn.augment`` (with the arguments shown
in the row's label, chosen so that the effect is visible), then MixUp and the modality's named
policy. Columns: two random draws on each of four bundled examples:

* a DNA sequence from the UCI splice-junction set (60 bp, one-hot A/C/G/T shown as a heat map
  with the bases as rows);
* a breast ultrasound image from BreastMNIST (28x28, grey);
* a white blood cell from the BCCD crops (64x64, RGB);
* an adrenal volume from AdrenalMNIST3D (28^3), shown as its three orthogonal mid-slices
  (axial | coronal | sagittal). Its voxels are 0 or 1 (a shape from CT segmentations), so
  gamma, which fixes 0 and 1, leaves it unchanged.

A cell reads "n/a" where a layer does not apply to a modality (rotations of a sequence,
reverse complement of an image, colour of a grey image) or would be meaningless there.

    python pipelines/show_augmentations.py                       # pipelines/results/augmentations.png
    python pipelines/show_augmentations.py --seed 3 --out /tmp/aug.png
"""

import argparse
import os
import sys

import numpy as np

import biocnn  # noqa: F401  (sets TensorFlow's defaults first)
from biocnn import augment, cli
from biocnn.data import load_image, load_npz_splits, one_hot, read_sequence_csv
from biocnn.rundir import atomic_path

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "datasets")
DEFAULT_OUT = os.path.join(HERE, "results", "augmentations.png")
DRAWS = 2  # random draws shown per example

MODALITIES = {  # name -> (column title, spatial rank)
    "sequence": ("DNA, 60 bp (splice)", 1),
    "grey": ("ultrasound (BreastMNIST)", 2),
    "rgb": ("blood cell, RGB (BCCD)", 2),
    "volume": ("adrenal volume (AdrenalMNIST3D)", 3),
}
POLICY_OF = {"sequence": "sequence", "grey": "microscopy", "rgb": "microscopy", "volume": "volume"}

# (label, layer class, arguments, modalities it is shown on)
IMAGES = ("grey", "rgb", "volume")
ROWS = [
    ("RandomFlip", augment.RandomFlip, {"probability": 0.5}, IMAGES),
    ("RandomRot90", augment.RandomRot90, {}, IMAGES),
    ("RandomRotation", augment.RandomRotation, {"degrees": 30}, IMAGES),
    ("RandomScaleCrop", augment.RandomScaleCrop, {"factor": 0.3}, IMAGES),
    ("RandomCrop", augment.RandomCrop, {"padding": 0.15}, IMAGES),
    ("RandomErasing", augment.RandomErasing, {"probability": 1.0}, ("sequence",) + IMAGES),
    ("RandomContrast", augment.RandomContrast, {"factor": 0.5}, IMAGES),
    ("RandomBrightness", augment.RandomBrightness, {"factor": 0.25}, IMAGES),
    ("RandomColor", augment.RandomColor, {"hue": 0.15, "saturation": 0.5}, ("rgb",)),
    ("GaussianNoise", augment.GaussianNoise, {"stddev": 0.08}, ("sequence",) + IMAGES),
    ("RandomGamma", augment.RandomGamma, {"factor": 0.6}, IMAGES),
    ("ReverseComplement", augment.ReverseComplement, {"probability": 1.0}, ("sequence",)),
    ("RandomShift", augment.RandomShift, {"max_shift": 10}, ("sequence",)),
]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT, help="PNG to write (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every augmentation (default %(default)s)")
    return parser.parse_args(argv)


def load_examples():
    """Two examples per modality, float32 in [0, 1], batched, channels last."""
    table = read_sequence_csv(os.path.join(DATA, "splice", "splice.csv"))
    sequences = one_hot(table["sequence"].iloc[[0, 1]].str.strip().tolist(), length=60)
    grey = load_npz_splits(os.path.join(DATA, "medmnist", "breastmnist.npz"), splits=("test",))["test"][0][:2]
    volume = load_npz_splits(os.path.join(DATA, "medmnist", "adrenalmnist3d.npz"), splits=("test",))["test"][0][:2]
    cells = sorted(os.listdir(os.path.join(DATA, "bccd_cells", "images", "WBC")))[:2]
    rgb = np.stack([load_image(os.path.join(DATA, "bccd_cells", "images", "WBC", c)) for c in cells])
    return {"sequence": sequences, "grey": grey, "rgb": rgb, "volume": volume}


def augmented(layer, x, draws):
    """``draws`` random draws of ``layer`` on the first example (a batch of copies)."""
    batch = np.repeat(x[:1], draws, axis=0)
    return np.asarray(layer(batch, training=True))


def mixed(x, seed, draws):
    """MixUp of the first example with the second: lambda drawn by the layer, partner fixed."""
    mixup = augment.MixUp(alpha=1.0, seed=seed)
    pairs = np.stack([x[0], x[1]])
    out, lams = [], []
    for _ in range(draws):
        t = mixup.get_random_transformation(pairs)
        t = {"lam": t["lam"], "partner": np.array([1, 0], "int32")}
        out.append(np.asarray(mixup.transform(pairs, t))[0])
        lams.append(float(np.asarray(t["lam"])[0]))
    return np.stack(out), lams


def picture(sample, modality):
    """What imshow shows for one sample."""
    if modality == "sequence":
        return sample.T  # bases as rows
    if modality == "volume":
        d, h, w = (n // 2 for n in sample.shape[:3])
        planes = [sample[d, :, :, 0], sample[:, h, :, 0], sample[:, :, w, 0]]
        return np.concatenate(planes, axis=1)
    return sample[..., 0] if sample.shape[-1] == 1 else np.clip(sample, 0, 1)


def build_grid(examples, seed):
    """rows: [(label, {modality: (images or None, titles)})]."""
    titles = ["example 1", "example 2"][:DRAWS]
    rows = [("original\n(augmented: example 1)", {m: (x[:DRAWS], titles) for m, x in examples.items()})]
    for index, (label, layer_class, kwargs, shown) in enumerate(ROWS):
        cells = {}
        for modality, x in examples.items():
            if modality in shown:
                layer = layer_class(**kwargs, rank=MODALITIES[modality][1], seed=seed + index)
                cells[modality] = (augmented(layer, x, DRAWS), [""] * DRAWS)
        arguments = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        rows.append((f"{label}\n({arguments})" if arguments else label, cells))
    cells = {}
    for modality, x in examples.items():
        images, lams = mixed(x, seed, DRAWS)
        cells[modality] = (images, [f"lam={lam:.2f}" for lam in lams])
    rows.append(("MixUp(alpha=1.0)\nwith example 2", cells))
    cells = {}
    for modality, x in examples.items():
        pipeline = augment.policy(POLICY_OF[modality], rank=MODALITIES[modality][1], seed=seed,
                                  channels=x.shape[-1])
        cells[modality] = (augmented(pipeline, x, DRAWS), [f"policy('{POLICY_OF[modality]}')"] * DRAWS)
    rows.append(("named policy", cells))
    return rows


def plot_grid(rows, path):
    columns = [(m, d) for m in MODALITIES for d in range(DRAWS)]
    widths = {"sequence": 2.2, "grey": 1.0, "rgb": 1.0, "volume": 2.4}
    fig, axes = plt.subplots(
        len(rows), len(columns), figsize=(sum(widths[m] for m, _ in columns) + 1.6, 1.05 * len(rows)),
        gridspec_kw={"width_ratios": [widths[m] for m, _ in columns], "left": 0.12, "right": 0.995,
                     "top": 0.965, "bottom": 0.005, "wspace": 0.06, "hspace": 0.32},
    )
    for r, (label, cells) in enumerate(rows):
        for c, (modality, draw) in enumerate(columns):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and draw == 0:
                fig.text(ax.get_position().x0, 0.985, MODALITIES[modality][0], fontsize=8)
            if modality not in cells:
                ax.text(0.5, 0.5, "n/a", ha="center", va="center", fontsize=7, color="grey")
                for spine in ax.spines.values():
                    spine.set_visible(False)
                continue
            images, titles = cells[modality]
            image = picture(images[draw], modality)
            ax.imshow(image, cmap="magma" if modality == "sequence" else "gray", vmin=0, vmax=1,
                      aspect="auto" if modality == "sequence" else "equal", interpolation="nearest")
            if modality == "sequence":
                ax.set_yticks(range(4), list("ACGT"), fontsize=5)
                ax.tick_params(length=0, pad=1)
            if titles[draw]:
                ax.set_title(titles[draw], fontsize=6, pad=1)
        fig.text(0.005, 1 - (r + 0.5) / len(rows) * (0.965 - 0.005) - 0.035, label, fontsize=6.5,
                 va="center", ha="left")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=72, format="png")
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    examples = load_examples()
    rows = build_grid(examples, args.seed)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    plot_grid(rows, args.out)
    print(f"{len(rows)} rows x {len(MODALITIES) * DRAWS} columns: {args.out} "
          f"({os.path.getsize(args.out) / 1024:.0f} KB)")


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
