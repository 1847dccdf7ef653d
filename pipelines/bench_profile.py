"""Profile: where one training step of a bench_training family spends its time, in both frameworks.

Op-level timing by layer: every convolution and batch normalisation of biocnn's model is
timed alone, forward and backward (gradients for its input and its weights), once per distinct
shape, in TensorFlow (Keras layer under ``tf.function``) and in PyTorch (the same layer of
``torch.nn``, channels first); the counts turn them into each kind's share of a step. The
whole step is timed too (``train_on_batch`` after biocnn's ``compile_model``; PyTorch's
forward, backward and SGD step); the rest (activations, additions, pooling, loss, optimizer,
framework overhead) is the step minus the timed layers. Both frameworks run in this process
with the same thread counts, one after the other.

    python pipelines/bench_profile.py --family resnet18_2d_64px --threads 1
"""

import argparse
import collections
import os
import statistics
import sys
import time

import bench_training

import biocnn  # noqa: E402  (first: it sets TensorFlow's defaults)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from biocnn import cli, training  # noqa: E402

CONV = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def _median_seconds(function, repeats):
    function()
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def layer_signatures(model, batch):
    """Distinct (kind, input shape, settings) of the conv and batch-norm layers, with counts."""
    counts = collections.Counter()
    for layer in model.layers:
        if isinstance(layer, CONV):
            shape = (batch, *layer.input.shape[1:])
            counts[("conv", shape, layer.filters, layer.kernel_size, layer.strides, layer.padding, layer.use_bias)] += 1
        elif isinstance(layer, keras.layers.BatchNormalization):
            counts[("batch_norm", (batch, *layer.input.shape[1:]))] += 1
    return counts


def time_tf(signature, repeats):
    kind, shape = signature[0], signature[1]
    rank = len(shape) - 2
    if kind == "conv":
        _, _, filters, kernel, strides, padding, bias = signature
        layer = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}[rank](
            filters, kernel, strides=strides, padding=padding, use_bias=bias)
    else:
        layer = biocnn.layers.BatchNormalization(epsilon=1e-5)  # the zoo's (fused in training)
    x = tf.random.uniform(shape)
    layer.build(shape)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y)
        return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, [x, *layer.trainable_variables])])

    return _median_seconds(lambda: step(x).numpy(), repeats)


def time_torch(signature, repeats):
    import torch

    kind, shape = signature[0], signature[1]
    rank = len(shape) - 2
    channels_first = (shape[0], shape[-1], *shape[1:-1])
    if kind == "conv":
        _, _, filters, kernel, strides, padding, bias = signature
        layer = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[rank](
            shape[-1], filters, kernel, stride=strides, padding=kernel[0] // 2 if padding == "same" else 0, bias=bias)
    else:
        layer = {1: torch.nn.BatchNorm1d, 2: torch.nn.BatchNorm2d, 3: torch.nn.BatchNorm3d}[rank](shape[-1])
    x = torch.rand(channels_first, requires_grad=True)

    def step():
        x.grad = None
        layer.zero_grad(set_to_none=True)
        layer(x).sum().backward()

    return _median_seconds(step, repeats)


def whole_steps(family, repeats):
    import torch
    import torch_reference

    name, shape, classes, batch, _, options = bench_training.FAMILIES[family]
    training.set_seed(0)
    model = biocnn.models.create(name, shape, classes, **options)
    training.compile_model(model, training.TrainingConfig())
    x = np.random.default_rng(0).random((batch, *shape), dtype=np.float32)
    y = np.arange(batch) % classes
    tf_step = _median_seconds(lambda: model.train_on_batch(x, y), repeats)
    reference = torch_reference.build(name, shape, classes, **options)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    xt, yt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1))), torch.from_numpy(y)

    def torch_step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(reference(xt), yt).backward()
        optimizer.step()

    return model, batch, tf_step, _median_seconds(torch_step, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="resnet18_2d_64px", choices=list(bench_training.FAMILIES))
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads in both frameworks (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of each measurement (default 5)")
    parser.add_argument("--out", help="write the profile as JSON here")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    model, batch, tf_step, torch_step = whole_steps(args.family, args.repeats)
    rows, totals = [], collections.Counter()
    for signature, count in layer_signatures(model, batch).items():
        tf_s, torch_s = time_tf(signature, args.repeats), time_torch(signature, args.repeats)
        totals[f"tf_{signature[0]}"] += count * tf_s
        totals[f"torch_{signature[0]}"] += count * torch_s
        rows.append({"layer": signature[0], "input_shape": list(signature[1]), "settings": [str(s) for s in signature[2:]],
                     "count": count, "tf_ms": 1e3 * tf_s, "torch_ms": 1e3 * torch_s})
        print(f"{signature[0]:10s} {str(signature[1]):24s} {' '.join(map(str, signature[2:])):28s} x{count}: "
              f"TF {1e3 * tf_s:8.2f} ms, PyTorch {1e3 * torch_s:8.2f} ms", flush=True)
    summary = {}
    for framework, step in (("tf", tf_step), ("torch", torch_step)):
        conv, norm = totals[f"{framework}_conv"], totals[f"{framework}_batch_norm"]
        summary[framework] = {"step_ms": 1e3 * step, "conv_ms": 1e3 * conv, "batch_norm_ms": 1e3 * norm,
                              "rest_ms": 1e3 * (step - conv - norm)}
        print(f"{framework}: step {1e3 * step:.1f} ms = convolutions {1e3 * conv:.1f} + batch norm {1e3 * norm:.1f} "
              f"+ the rest {1e3 * (step - conv - norm):.1f}", flush=True)
    result = {"family": args.family, "batch_size": batch, "threads": args.threads, "layers": rows, "summary": summary,
              "load_average": list(os.getloadavg())}
    if args.out:
        from biocnn.rundir import write_json

        write_json(args.out, result)
    return result


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
