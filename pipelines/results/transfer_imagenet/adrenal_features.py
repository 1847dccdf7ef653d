"""Why the inflated ImageNet EfficientNet-Lite0 learned nothing on AdrenalMNIST3D: its top features are dead.

For 64 AdrenalMNIST3D test volumes (28^3 binary masks, 0..255 as the study gives them), the share of
``top_act`` activations (the 1280 ReLU6 units before global pooling) above zero and their spread across
volumes, for the 2D Lite0 on the middle slice and for the network inflated as the study did it (depth 3,
repeat mode), with and without a strided depth and 1x1x1 pointwise kernels, and in centre mode, at the
study's in-plane size (28 px resized to 32 inside the model) and at 64 px. Writes a CSV.

    python pipelines/results/transfer_imagenet/adrenal_features.py --out pipelines/results/transfer_imagenet/adrenal_features.csv
"""

import argparse
import sys

import numpy as np

import biocnn  # noqa: F401  (oneDNN before TensorFlow)
from biocnn import cli
from biocnn.rundir import write_text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--npz", default="datasets/medmnist/adrenalmnist3d.npz")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    import keras
    import pandas as pd

    from biocnn import transfer

    volumes = np.load(args.npz)["test_images"][:args.samples].astype("float32")[..., None]  # 0..255
    rows = []
    for size in (None, (64, 64)):
        backbone = transfer.backbone("efficientnet_lite0", weights="imagenet", input_shape=(28, 28, 1),
                                     resize=size, drop_connect_rate=0)
        arms = [("2D, middle slice", backbone, volumes[:, 14])]
        for mode, depth_stride, pointwise in (("repeat", False, None), ("repeat", True, None), ("repeat", True, 1),
                                              ("centre", True, 1)):
            if size is not None and not depth_stride:
                continue  # 28 x 64 x 64 unstrided: too slow for this check
            inflated = transfer.inflate(backbone, depth=3, mode=mode, depth_stride=depth_stride, input_depth=28,
                                        pointwise_depth=pointwise)
            arms.append((f"3D {mode}, depth {'strided' if depth_stride else 'kept'}, pointwise "
                         f"{'1x1x1' if pointwise else '3x1x1'}", inflated, volumes))
        for name, network, x in arms:
            top = keras.Model(network.input, network.get_layer("efficientnet_lite0_top_act").output)
            features = np.asarray(top.predict(x, batch_size=8, verbose=0))
            pooled = features.reshape(len(x), -1, features.shape[-1]).mean(1)
            rows.append({"in-plane size": f"{(size or (32, 32))[0]} px", "network": name,
                         "top map": "x".join(str(s) for s in features.shape[1:-1]),
                         "share of top_act > 0": float((features > 0).mean()),
                         "pooled features: mean sd across volumes": float(pooled.std(0).mean()),
                         "distinct pooled vectors": len(np.unique(pooled.round(6), axis=0))})
            print(rows[-1], flush=True)
    write_text(args.out, pd.DataFrame(rows).to_csv(index=False, float_format="%.4g"))


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
