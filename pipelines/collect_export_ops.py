"""Collect the TensorFlow operations biocnn's own exports use, and compare them with the allowlist.

Exports a tiny network of every family in every rank (sequence, signal, image and volume exports,
with every reader step) and five transfer backbones, reads each SavedModel's graph without running
it, and prints the operations missing from ``biocnn.export.allowlist.ALLOWED_OPS``. Run it after
adding a layer or a reader step, and add what it prints to the list.

    python pipelines/collect_export_ops.py --folder /tmp/biocnn_ops
"""

import argparse
import os

from biocnn.export import allowlist



def _tiny_exports(folder):
    """Export tiny versions of every registered model in every rank, and transfer backbones; yield paths."""
    import numpy as np

    from biocnn import models
    from biocnn.data import Encoding
    from biocnn.data.preprocess import fit_preprocessing, with_preprocessing
    from biocnn.export.savedmodel import save

    shapes = {1: (32, 4), 2: (16, 16, 3), 3: (8, 8, 8, 1)}
    tiny = {"mlp": {"hidden_units": (8,)}, "lenet5": {"width_multiplier": 0.5},
            "alexnet": {"width_multiplier": 1 / 16, "fc_units": 64}, "wide_resnet": {"depth": 10, "widen_factor": 1},
            "deepbind": {"filters": 4, "kernel_size": 5, "hidden_units": 8}, "basset": {"width_multiplier": 1 / 20},
            "kim_cnn": {"filters": 4}}
    readers = {2: {"raw_dtype": "uint16", "channels": [2, 0, 1], "resize_to": [16, 16]},
               3: {"raw_dtype": "float32", "nan_policy": "min", "window": [-100.0, 300.0], "resize_to": [8, 8, 8]}}
    # One network per family (the deeper members add no new kind of layer).
    family = ("mlp", "lenet5", "alexnet", "vgg11", "resnet18", "resnet50", "wide_resnet", "deepbind", "basset", "kim_cnn")
    for name, ranks in models.available().items():
        if name not in family:
            continue
        options = tiny.get(name) or ({"width_multiplier": 1 / 16} if name.startswith(("vgg", "resnet")) else {})
        if name.startswith("vgg"):
            options = {**options, "fc_units": 32}
        for rank in ranks:
            try:
                network = models.create(name, shapes[rank], 2, **options)
            except ValueError as error:  # a model too deep for the tiny input
                print(f"skipped {name} {rank}D: {error}")
                continue
            path = os.path.join(folder, f"{name}_{rank}d")
            if os.path.exists(path):  # collected by an earlier, interrupted call
                yield from [p for p in (path, path + "_signal") if os.path.exists(p)]
                continue
            x = np.random.default_rng(0).random((4, *shapes[rank]), dtype=np.float32)
            if rank == 1:
                save(network, path, encoding=Encoding("dna", length=32), rc_average=True)
                save(network, path + "_signal", reader={"raw_dtype": "uint8"})
                yield path
                yield path + "_signal"
            else:
                model = with_preprocessing(fit_preprocessing(x, percentiles=(1, 99)), network)
                save(model, path, reader=readers[rank])
                yield path
    from biocnn import transfer

    for name in ("ResNet50", "EfficientNetB0", "MobileNetV2", "DenseNet121", "ConvNeXtTiny"):
        path = os.path.join(folder, f"transfer_{name}")
        if not os.path.exists(path):
            features = transfer.backbone(name, weights=None, input_shape=(32, 32, 1))
            save(transfer.classifier(features, num_classes=2), path, reader={"raw_dtype": "uint8"})
        yield path


def main(argv=None):
    """Print the operations biocnn's exports use and how they differ from :data:`allowlist.ALLOWED_OPS`."""
    parser = argparse.ArgumentParser(description="Collect the TensorFlow operations biocnn's own exports use.")
    parser.add_argument("--folder", required=True, help="a folder for the tiny exports (kept ones are reused)")
    args = parser.parse_args(argv)
    used = set()
    for path in _tiny_exports(args.folder):
        ops, checkpoint_only = allowlist.graph_ops(path)
        used |= {op for op, where in ops.items() if not all(w in checkpoint_only for w in where)}
        print(f"{os.path.basename(path)}: {len(ops)} ops", flush=True)
    print("USED", sorted(used))
    print("MISSING FROM ALLOWED_OPS", sorted(used - allowlist.ALLOWED_OPS))


if __name__ == "__main__":
    main()
