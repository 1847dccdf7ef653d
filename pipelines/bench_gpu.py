"""Benchmark (GPU): Keras on the JAX backend with mixed precision against PyTorch with autocast.

Two models, each trained on random in-memory data by both frameworks, each framework in its
own subprocess (JAX and PyTorch don't share the GPU's memory), one after the other:

    resnet50_2d   keras.applications.ResNet50 (weights=None) at 224x224x3, 1000 classes, against
                  torchvision.models.resnet50 (channels_last memory format)
    resnet18_3d   biocnn's ResNet-18 for volumes at 64^3x1 (the 7x7x7 stride-2 stem with max
                  pooling, as MONAI's), 2 classes, against pipelines/torch_reference.resnet18

Keras: ``keras.mixed_precision.set_global_policy("mixed_bfloat16")``, biocnn's MomentumSGD,
``model.fit`` on NumPy arrays (each batch copied to the GPU). PyTorch: ``torch.autocast(
"cuda", torch.bfloat16)``, SGD momentum 0.9, weight decay 5e-4, each batch copied from host
memory. An epoch is ``--steps`` batches; the first ``--warmup`` epochs (XLA compilation, cuDNN
autotuning) are excluded; reported: median samples/s, the GPU's name, peak GPU memory
(JAX ``peak_bytes_in_use`` with preallocation off; ``torch.cuda.max_memory_allocated``).

    KERAS_BACKEND=jax python pipelines/bench_gpu.py --out bench_gpu.json
    KERAS_BACKEND=jax python pipelines/bench_gpu.py --tiny      # CPU check: tiny shapes
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SCHEMA = "biocnn.bench_gpu/1"
PROTOCOL = "@@bench "
#: name -> (input shape, classes, batch size)
MODELS = {"resnet50_2d": ((224, 224, 3), 1000, 128), "resnet18_3d": ((64, 64, 64, 1), 2, 32)}
TINY = {"resnet50_2d": ((32, 32, 3), 10, 4), "resnet18_3d": ((16, 16, 16, 1), 2, 2)}
FRAMEWORKS = ("keras_jax", "torch")


def _send(message):
    sys.__stdout__.write(PROTOCOL + json.dumps(message) + "\n")
    sys.__stdout__.flush()


def _data(shape, classes, n, channels_first=False):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((n, *shape), dtype=np.float32)
    if channels_first:
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    return x, (np.arange(n) % classes).astype(np.int64)


def worker_keras(model_name, shape, classes, batch, steps, epochs):
    import keras

    import biocnn

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    if model_name == "resnet50_2d":
        model = keras.applications.ResNet50(weights=None, input_shape=shape, classes=classes)
    else:
        model = biocnn.models.create("resnet18", shape, classes, stem="imagenet")
    model.compile(optimizer=biocnn.optimizers.MomentumSGD(0.01, momentum=0.9, weight_decay=5e-4),
                  loss="sparse_categorical_crossentropy")
    x, y = _data(shape, classes, batch * steps)
    seconds = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):  # logs are host floats: the epoch has finished
            seconds.append(time.perf_counter() - self.start)

    model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=False, verbose=0, callbacks=[Timer()])
    import jax

    device = jax.devices()[0]
    stats = device.memory_stats() or {}
    return {"seconds": seconds, "device": getattr(device, "device_kind", str(device)),
            "peak_memory_mb": stats.get("peak_bytes_in_use", 0) / 2**20,
            "parameters": sum(int(keras.ops.size(w)) for w in model.trainable_weights),
            "versions": {"keras": keras.__version__, "jax": jax.__version__}}


def worker_torch(model_name, shape, classes, batch, steps, epochs):
    import torch

    torch.manual_seed(0)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if model_name == "resnet50_2d":
        import torchvision

        model = torchvision.models.resnet50(weights=None, num_classes=classes)
        memory_format = torch.channels_last
    else:
        import torch_reference

        model = torch_reference.resnet18(shape, classes, stem="imagenet")
        memory_format = torch.channels_last_3d
    model = model.to(device, memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = (torch.from_numpy(a) for a in _data(shape, classes, batch * steps, channels_first=True))
    if cuda:
        x, y = x.pin_memory(), y.pin_memory()
        torch.backends.cudnn.benchmark = True
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for step in range(steps):
            xb = x[step * batch:(step + 1) * batch].to(device, non_blocking=True, memory_format=memory_format)
            yb = y[step * batch:(step + 1) * batch].to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
        loss.item()  # waits for the GPU
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "device": torch.cuda.get_device_name() if cuda else "cpu",
            "peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else 0,
            "parameters": sum(p.numel() for p in model.parameters()), "versions": {"torch": torch.__version__}}


def run_worker(request):
    worker = worker_keras if request["framework"] == "keras_jax" else worker_torch
    _send(worker(request["model"], tuple(request["shape"]), request["classes"], request["batch"],
                 request["steps"], request["epochs"]))


def measure(framework, model, shape, classes, batch, steps, warmup, repeats, timeout):
    """Run one framework on one model in a subprocess; its record (or the error)."""
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")
    env["KERAS_BACKEND"] = "jax"
    here = os.path.dirname(os.path.abspath(__file__))
    env["PYTHONPATH"] = os.pathsep.join([here, os.path.dirname(here)] + [p for p in [env.get("PYTHONPATH")] if p])
    request = {"framework": framework, "model": model, "shape": list(shape), "classes": classes, "batch": batch,
               "steps": steps, "epochs": warmup + repeats}
    start = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(request)],
                             capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [line for line in out.stdout.splitlines() if line.startswith(PROTOCOL)]
    if out.returncode != 0 or not lines:
        return {"error": f"exit code {out.returncode}: {out.stderr[-1500:]}"}
    record = json.loads(lines[-1][len(PROTOCOL):])
    timed = record["seconds"][warmup:]
    rates = [batch * steps / s for s in timed]
    record.update(samples_per_s=rates, median_samples_per_s=statistics.median(rates),
                  wall_s=time.perf_counter() - start, warmup_epoch_s=record["seconds"][:warmup])
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--steps", type=int, default=10, help="batches per epoch (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed epochs first (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs (default 3)")
    parser.add_argument("--timeout", type=int, default=240, help="seconds allowed per model and framework")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes and batches (a CPU check)")
    parser.add_argument("--out", help="write the results as JSON here (rewritten after every measurement)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    args = parser.parse_args(argv)
    if args.out and os.path.exists(args.out) and not args.overwrite:
        parser.error(f"--out {args.out} exists; pass --overwrite to replace it")
    results = {"schema": SCHEMA, "command": "python pipelines/bench_gpu.py " + " ".join(argv or []),
               "precision": "bfloat16 mixed (Keras policy mixed_bfloat16; torch.autocast bfloat16)", "models": {}}
    for model in args.models:
        shape, classes, batch = (TINY if args.tiny else MODELS)[model]
        record = results["models"][model] = {"input_shape": list(shape), "classes": classes, "batch_size": batch,
                                             "steps_per_epoch": args.steps, "frameworks": {}}
        for framework in args.frameworks:
            result = measure(framework, model, shape, classes, batch, args.steps, args.warmup, args.repeats,
                             args.timeout)
            record["frameworks"][framework] = result
            if "error" in result:
                print(f"{model} {framework}: {result['error']}", flush=True)
            else:
                print(f"{model} {framework} on {result['device']}: {result['median_samples_per_s']:,.1f} samples/s, "
                      f"peak GPU memory {result['peak_memory_mb']:,.0f} MB, {result['parameters']:,} parameters "
                      f"(wall {result['wall_s']:.0f} s)", flush=True)
            frameworks = record["frameworks"]
            if all("median_samples_per_s" in frameworks.get(f, {}) for f in FRAMEWORKS):
                record["keras_jax_over_torch"] = (frameworks["keras_jax"]["median_samples_per_s"]
                                                  / frameworks["torch"]["median_samples_per_s"])
            if args.out:
                with open(args.out + ".tmp", "w") as f:
                    json.dump(results, f, indent=2)
                os.replace(args.out + ".tmp", args.out)
    return results


if __name__ == "__main__":
    if "--worker" in sys.argv:
        run_worker(json.loads(sys.argv[sys.argv.index("--worker") + 1]))
    else:
        try:
            main(sys.argv[1:])
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
