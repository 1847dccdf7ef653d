"""Benchmark: training an inflated EfficientNet-Lite0 on 28^3 volumes, depthwise as a grouped Conv3D or DepthwiseConv3D.

biocnn.transfer.inflate turned every DepthwiseConv2D into a grouped keras.layers.Conv3D (one group per channel) until
it got biocnn.transfer.DepthwiseConv3D (one 2D depthwise convolution per depth tap). This script measures the training
throughput of both on AdrenalMNIST3D's shape: EfficientNet-Lite0 (random weights, 1 channel, 28 px) with a 2-class
head, inflated with depth 3 kernels, 28-slice volumes, SGD with momentum, batch 16. Arms:

    grouped       the inflated model with each DepthwiseConv3D rebuilt as the grouped Conv3D (same weights): before
    depthwise3d   the model inflate builds now: after

each with the depth unstrided (inflate's default) and strided (``depth_stride=True``, the transfer command's
``--inflate-depth-stride``). Each arm runs in its own process under ``nice -n 10`` (the development machine is shared);
one untimed epoch of --batches batches first (tracing), then --repeats timed epochs; the median samples/s is reported
with the time of one AdrenalMNIST3D training epoch (1,188 volumes) at that speed.

    python pipelines/bench_inflate.py --out pipelines/results/bench_inflate.json
    python pipelines/bench_inflate.py --batches 1 --repeats 2 --out pipelines/results/bench_inflate.json  # shorter

The grouped arm with the depth unstrided is by far the slowest (over 12 minutes for the default settings on a
shared 2-vCPU machine); the JSON is written after every arm.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

ARMS = [("depthwise3d", True), ("grouped", True), ("depthwise3d", False), ("grouped", False)]  # slowest last
ADRENAL_TRAIN = 1188  # AdrenalMNIST3D training volumes

_WORKER = r"""
import json, statistics, sys, time
import numpy as np
import biocnn, keras
from biocnn import transfer

layer_kind, depth_stride, batch, batches, repeats = json.loads(sys.argv[1])
keras.utils.set_random_seed(0)
features = transfer.backbone("efficientnet_lite0", weights=None, input_shape=(28, 28, 1))
model = transfer.inflate(transfer.classifier(features, 2, dropout=0.2), depth=3, depth_stride=depth_stride,
                         input_depth=28)


def as_grouped(model):
    # the depthwise layers as inflate built them before DepthwiseConv3D: Conv3D(filters=C * M, groups=C)
    def clone(layer):
        if not isinstance(layer, transfer.DepthwiseConv3D):
            return layer.__class__.from_config(layer.get_config())
        config = layer.get_config()
        channels, multiplier = layer.kernel.shape[3], config.pop("depth_multiplier")
        renamed = {"depthwise_initializer": "kernel_initializer", "depthwise_regularizer": "kernel_regularizer",
                   "depthwise_constraint": "kernel_constraint"}
        config = {renamed.get(k, k): v for k, v in config.items()}
        return keras.layers.Conv3D(filters=channels * multiplier, groups=channels, **config)

    grouped = keras.models.clone_model(model, clone_function=clone)
    for old, new in zip(model.layers, grouped.layers):
        weights = old.get_weights()
        if isinstance(old, transfer.DepthwiseConv3D):
            weights[0] = weights[0].reshape(*weights[0].shape[:3], 1, -1)
        new.set_weights(weights)
    return grouped


if layer_kind == "grouped":
    model = as_grouped(model)
kinds = sorted({type(layer).__name__ for layer in model.layers if "Conv" in type(layer).__name__})
model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy",
              steps_per_execution=2)
rng = np.random.default_rng(0)
x = rng.random((batch * batches, 28, 28, 28, 1), dtype=np.float32)
y = np.arange(batch * batches) % 2
model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # tracing
times = []
for _ in range(repeats):
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    times.append(time.perf_counter() - start)
print(json.dumps({"samples_per_s": batch * batches / statistics.median(times), "epoch_times_s": times,
                  "parameters": model.count_params(), "output_shape": list(model.output_shape), "conv_layers": kinds}))
"""


def measure(layer, depth_stride, batch, batches, repeats, niceness):
    command = [sys.executable, "-c", _WORKER, json.dumps([layer, depth_stride, batch, batches, repeats])]
    if niceness:
        command = ["nice", "-n", str(niceness), *command]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"bench_inflate: the {layer} arm (depth_stride={depth_stride}) failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - start
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=16, help="volumes per step (default %(default)s)")
    parser.add_argument("--batches", type=int, default=2, help="steps per timed epoch (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per arm; the median counts (default %(default)s)")
    parser.add_argument("--nice", type=int, default=10, help="niceness of the arms' processes; 0: none (default %(default)s)")
    parser.add_argument("--arms", nargs="+", default=[f"{layer}:{int(stride)}" for layer, stride in ARMS],
                        help="LAYER:DEPTH_STRIDE pairs, LAYER grouped or depthwise3d (default: all four)")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    results = {"machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                           "load_average_at_start": os.getloadavg()},
               "settings": {"batch_size": args.batch_size, "batches": args.batches, "repeats": args.repeats,
                            "nice": args.nice}, "arms": []}
    for arm in args.arms:
        layer, stride = arm.split(":")
        if layer not in ("grouped", "depthwise3d") or stride not in ("0", "1"):
            parser.error(f"--arms: expected LAYER:DEPTH_STRIDE with LAYER grouped or depthwise3d and 0 or 1, got {arm!r}")
        print(f"{layer}, depth_stride={stride == '1'} ...", file=sys.stderr, flush=True)
        result = measure(layer, stride == "1", args.batch_size, args.batches, args.repeats, args.nice)
        result.update(layer=layer, depth_stride=stride == "1",
                      adrenal_epoch_s=ADRENAL_TRAIN / result["samples_per_s"])
        results["arms"].append(result)
        print(f"  {result['samples_per_s']:.2f} samples/s, AdrenalMNIST3D epoch {result['adrenal_epoch_s']:.0f} s "
              f"({result['process_s']:.0f} s for the arm)", file=sys.stderr, flush=True)
        results["machine"]["load_average_at_end"] = os.getloadavg()
        if args.out:  # after every arm, so a long run interrupted keeps the arms done
            write(args.out, results)
    print(json.dumps(results, indent=2))
    return results


def write(path, results):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
