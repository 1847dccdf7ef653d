"""Neural style transfer (Gatys et al., 2015): one image's content in another's style.

Optimises the pixels of the output so that its VGG-19 features on --content-layer match the
content image's (content loss ``1/2 sum (F - P)^2``) and the Gram matrices of its features on
--style-layers match the style image's (``1/(4 N^2 M^2) sum (G - A)^2`` per layer), weighted
``--alpha * content + --beta * style``.

The backbone's weights: --weights imagenet (needs a download), a local VGG-19 no-top weights
file (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5), or none. With ImageNet weights the
result is a real stylisation; with --weights none the VGG-19 is random and the run only
exercises the code path: the output is not a meaningful picture.

Images: any file biocnn reads (PNG, JPEG, TIFF; grey images become RGB), or --npz FILE with
--content/--style given as SPLIT:INDEX; both are resized to --size.

Writes to --out: stylised.png (content, style, output side by side), stylised.npy (the output,
float32 in [0, 1]) and losses.csv (total, content and style loss per step).

    python pipelines/style_transfer.py --content cell.png --style painting.jpg --weights vgg19_notop.h5 --out runs/style
    python pipelines/style_transfer.py --npz datasets/medmnist/breastmnist.npz --content test:0 --style test:1 --weights none --steps 20 --out /tmp/style
"""

import argparse
import pathlib
import sys

import biocnn  # noqa: F401  (before keras: biocnn sets TensorFlow's CPU defaults)
import numpy as np
import pandas as pd

from biocnn import cli, interpret
from biocnn.data import load_image, load_npz_splits
from biocnn.plots import plt, save_figure
from biocnn.rundir import atomic_path


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", required=True, help="content image file, or SPLIT:INDEX with --npz")
    parser.add_argument("--style", required=True, help="style image file, or SPLIT:INDEX with --npz")
    parser.add_argument("--npz", help="take --content and --style from this MedMNIST-style .npz")
    parser.add_argument("--weights", required=True,
                        help="'imagenet', a local VGG-19 no-top .h5 file, or 'none' (random: code path only)")
    parser.add_argument("--size", type=int, nargs=2, default=(128, 128), metavar=("H", "W"),
                        help="working size, at least 32 x 32 (default %(default)s)")
    parser.add_argument("--content-layer", default=interpret.style.CONTENT_LAYER, help="default %(default)s")
    parser.add_argument("--style-layers", nargs="+", default=list(interpret.style.STYLE_LAYERS), help="default %(default)s")
    parser.add_argument("--alpha", type=float, default=1.0, help="content weight (default %(default)s)")
    parser.add_argument("--beta", type=float, default=1e3, help="style weight (default %(default)s)")
    parser.add_argument("--steps", type=int, default=200, help="Adam steps on the pixels (default %(default)s)")
    parser.add_argument("--lr", type=float, default=0.02, help="Adam step in intensity units (default %(default)s)")
    parser.add_argument("--init", choices=("content", "noise"), default="content", help="starting picture")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="folder to write")
    return parser.parse_args(argv)


def read(spec, args):
    """An image in [0, 1], (H, W, C), resized to --size."""
    if args.npz:
        split, _, index = spec.partition(":")
        splits = load_npz_splits(args.npz)
        if split not in splits or not index.isdigit() or int(index) >= len(splits[split][0]):
            raise ValueError(f"{spec!r}: with --npz give SPLIT:INDEX, SPLIT one of {sorted(splits)} and INDEX below "
                             f"the split's size, e.g. test:0.")
        image = splits[split][0][int(index)]
        if image.ndim != 3:
            raise ValueError(f"{args.npz} {split} holds {image.ndim - 1}D samples; style transfer needs 2D images.")
        return interpret.resize_linear(image, args.size).astype("float32")
    return load_image(spec, shape=tuple(args.size))


def main(argv=None):
    args = parse_args(argv)
    weights = None if args.weights.lower() == "none" else args.weights
    if weights is None:
        print("--weights none: a random VGG-19; this exercises the code only, the output is not a stylisation.")
    content, style = read(args.content, args), read(args.style, args)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    losses = []
    result = interpret.style_transfer(content, style, weights, args.content_layer, args.style_layers, args.alpha,
                                      args.beta, args.steps, args.lr, args.init, args.seed, history=losses)

    with atomic_path(out / "stylised.npy") as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, result)
    with atomic_path(out / "losses.csv") as tmp:
        pd.DataFrame(losses, columns=["total", "content", "style"]).rename_axis("step").to_csv(tmp)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
    for ax, image, title in zip(axes, (content, style, result), ("content", "style", "output")):
        ax.imshow(np.clip(image[..., 0] if image.shape[-1] == 1 else image, 0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"VGG-19 weights: {args.weights}" + (" (random: code path only)" if weights is None else ""), fontsize=9)
    save_figure(fig, out / "stylised.png")
    print(f"loss {losses[0][0]:.4g} -> {losses[-1][0]:.4g} in {args.steps} steps; wrote {out}/stylised.png")


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
