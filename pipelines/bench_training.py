"""Benchmark: biocnn's training throughput against the same architecture in plain PyTorch.

For each model family, biocnn's model trained through biocnn's own training path
(``biocnn.training.fit``: MomentumSGD, the cross-entropy loss, accuracy metric, seeded
tf.data batches, plateau and checkpoint callbacks) and the same layer shapes written in
PyTorch (``pipelines/torch_reference.py``; parameter counts checked equal; ``torch.optim.SGD``
with momentum 0.9 and weight decay 5e-4; same batch size) on the same random in-memory data.

Each framework runs in its own long-lived subprocess (threads don't fight, peak memory is per
framework) and the parent alternates timed chunks between them (A B A B ...). A chunk is one
epoch of ``--steps`` mini-batches; the first ``--warmup`` chunks (tracing, allocation) are
excluded. Reported: the median samples/s per framework, the ratio biocnn/PyTorch, achieved
FLOP/s against the NumPy sgemm peak (2048^3) measured in the same run, peak RSS per process.

FLOP convention: multiply-accumulates of the convolution and Dense layers counted from the
layer shapes (1 MAC = 2 FLOPs); training = 3x forward (forward, input gradient, weight
gradient); normalisation, activations, pooling, loss and optimizer are not counted.

Optional frameworks: ``biocnn_jit`` (jit_compile=True), ``biocnn_spe1`` (one step per call into
TensorFlow, fit's behaviour before it ran up to ``training.MAX_STEPS_PER_EXECUTION``), ``biocnn_spe64``
(up to 64 steps per call instead),
``keras_jax`` and ``keras_torch`` (the same biocnn model trained by Keras on the JAX or PyTorch
backend: compile with MomentumSGD + biocnn loss, ``model.fit`` on arrays). For keras_jax, JAX
must be importable (``--jax-path`` adds a folder with it to that worker's PYTHONPATH only).

    pip install -e '.[bench]'      # PyTorch, for this benchmark only
    python pipelines/bench_training.py --out pipelines/results/bench_training.json
    python pipelines/bench_training.py --families lenet5_2d --quick
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import bench_workers
from bench_workers import cpu_seconds, max_rss_mb, rss_mb, send, wait_for_go

SCHEMA = "biocnn.bench_training/1"

#: name -> (model, channels-last input shape, classes, batch size, steps per chunk, model options)
FAMILIES = {
    "deepbind_1d": ("deepbind", (60, 4), 3, 64, 60, {}),
    "lenet5_1d": ("lenet5", (60, 4), 3, 64, 60, {}),
    "lenet5_2d": ("lenet5", (28, 28, 1), 2, 64, 40, {}),
    "resnet18_2d_64px": ("resnet18", (64, 64, 3), 2, 16, 2, {}),
    "resnet18_3d_32vox": ("resnet18", (32, 32, 32, 1), 2, 8, 2, {"width_multiplier": 0.25}),
    "resnet18_3d_64vox": ("resnet18", (64, 64, 64, 1), 2, 4, 2, {"width_multiplier": 0.125}),
}
FRAMEWORKS = ("biocnn", "torch", "biocnn_jit", "biocnn_spe1", "biocnn_spe64", "keras_jax", "keras_torch")
BIOCNN_COMPILE = {"biocnn": {}, "biocnn_jit": {"jit_compile": True}, "biocnn_spe1": {"steps_per_execution": 1},
                  "biocnn_spe64": {}}
#: biocnn variants with another ``training.MAX_STEPS_PER_EXECUTION`` (up to that many steps per call)
BIOCNN_MAX_STEPS = {"biocnn_spe64": 64}
KERAS_BACKEND = {"keras_jax": "jax", "keras_torch": "torch"}
REFERENCE = "torch"
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --------------------------------------------------------------------------- analytics


def conv_dense_macs(model):
    """Multiply-accumulates of one forward pass of one sample through the conv/Dense layers.

    A convolution or Dense layer does ``prod(kernel shape)`` MACs per output position (kernel
    ``(*window, in_channels, filters)``; Dense ``(in, out)``); positions are the output's
    non-channel axes. Nested models are walked.

    Args:
        model: a built Keras model (functional or sequential; static shapes).

    Returns:
        int: MACs per sample.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((8, 1)), keras.layers.Conv1D(2, 3), keras.layers.Flatten(),
        ...                       keras.layers.Dense(4)])
        >>> print(conv_dense_macs(m))  # 6 positions x 3 x 1 x 2 + 12 x 4
        84
    """
    import keras

    kinds = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Dense)
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += conv_dense_macs(layer)
        elif isinstance(layer, kinds):
            positions = 1
            for size in layer.output.shape[1:-1]:
                positions *= int(size)
            kernel = 1
            for size in layer.kernel.shape:
                kernel *= int(size)
            total += positions * kernel
    return total


def training_flops(macs_per_sample):
    """Training FLOPs per sample: 2 FLOPs per MAC, and backward = 2x forward (3x in all)."""
    return 3 * 2 * int(macs_per_sample)


def sgemm_peak(size=2048, repeats=5, threads=None, library="numpy"):
    """Best float32 matrix-multiply rate (FLOP/s) on ``size``^3: the machine's peak.

    ``library``: ``"numpy"`` (its BLAS, OpenBLAS in the wheels) or ``"torch"`` (``torch.mm``,
    oneDNN/MKL). With ``threads``, measured in a subprocess whose BLAS uses that many threads
    (the frameworks' setting), since a BLAS fixes its threads when it loads.
    """
    if threads is not None:
        env = dict(os.environ, **{name: str(threads) for name in BLAS_THREADS})
        code = f"import bench_training; print(bench_training.sgemm_peak({size}, {repeats}, library={library!r}))"
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=here, capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    if library == "torch":
        import torch

        a, b = torch.from_numpy(a), torch.from_numpy(b)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def machine_info():
    """CPU model, cores, SIMD flags, OS, Python and NumPy versions."""
    import numpy as np

    model, flags = platform.processor(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    simd = sorted(f for f in flags if f in ("avx", "avx2", "fma", "f16c", "amx_tile") or f.startswith("avx512"))
    return {
        "cpu": model, "cores": os.cpu_count(), "simd": simd, "avx512": any(f.startswith("avx512") for f in flags),
        "platform": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
    }


# --------------------------------------------------------------------------- output


def summarise(family, spec, ready, seconds, rss, peak_flops):
    """One family's JSON record from the workers' messages and chunk times (warm-up removed)."""
    model, shape, classes, batch, steps, options = spec
    flops = training_flops(ready[next(iter(ready))]["macs_per_sample"])
    record = {
        "model": model, "input_shape": list(shape), "classes": classes, "options": options,
        "batch_size": batch, "steps_per_chunk": steps,
        "parameters": ready[next(iter(ready))]["parameters"],
        "train_gflop_per_sample": flops / 1e9,
        "frameworks": {},
    }
    for name, times in seconds.items():
        rates = [batch * steps / t for t in times]
        median = statistics.median(rates)
        record["frameworks"][name] = {
            "samples_per_s": rates,
            "median_samples_per_s": median,
            "achieved_gflop_per_s": median * flops / 1e9,
            "fraction_of_sgemm_peak": median * flops / peak_flops,
            "max_rss_mb": rss[name]["max_rss_mb"],
            # the framework's imports alone, and what the training added on top of them
            "import_rss_mb": rss[name].get("import_rss_mb"),
            "training_rss_mb": _difference(rss[name]["max_rss_mb"], rss[name].get("import_rss_mb")),
            "versions": ready[name].get("versions", {}),
            "threads": ready[name].get("threads", {}),
        }
    if REFERENCE in seconds:
        ref = record["frameworks"][REFERENCE]["median_samples_per_s"]
        record["ratio_to_torch"] = {
            name: r["median_samples_per_s"] / ref for name, r in record["frameworks"].items() if name != REFERENCE
        }
        ref_memory = record["frameworks"][REFERENCE]
        record["memory_ratio_to_torch"] = {
            name: {"peak": _ratio(r["max_rss_mb"], ref_memory["max_rss_mb"]),
                   "training": _ratio(r["training_rss_mb"], ref_memory["training_rss_mb"])}
            for name, r in record["frameworks"].items() if name != REFERENCE
        }
    return record


def _difference(a, b):
    return None if a is None or b is None else a - b


def _ratio(a, b):
    return None if a is None or not b else a / b


def table(results):
    """A Markdown table of the families: samples/s, ratio to PyTorch, GFLOP/s (% of peak), RSS."""
    names = []
    for record in results["families"].values():
        names += [n for n in record["frameworks"] if n not in names]
    head = ["family", "batch"] + [f"{n} samples/s" for n in names]
    head += [f"{n}/torch" for n in names if n != REFERENCE] + [f"{n} GFLOP/s (% peak)" for n in names]
    head += [f"{n} peak RSS MB (imports + training)" for n in names]
    head += [f"{n}/torch training MB" for n in names if n != REFERENCE]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for family, record in results["families"].items():
        fw = record["frameworks"]
        row = [family, str(record["batch_size"])]
        row += [f"{fw[n]['median_samples_per_s']:,.1f}" if n in fw else "" for n in names]
        row += [f"{record['ratio_to_torch'][n]:.2f}" if n in record.get("ratio_to_torch", {}) else ""
                for n in names if n != REFERENCE]
        row += [f"{fw[n]['achieved_gflop_per_s']:.1f} ({100 * fw[n]['fraction_of_sgemm_peak']:.0f}%)" if n in fw else ""
                for n in names]
        row += [_memory_cell(fw[n]) if n in fw else "" for n in names]
        row += [f"{record['memory_ratio_to_torch'][n]['training']:.2f}"
                if (record.get("memory_ratio_to_torch", {}).get(n) or {}).get("training") else ""
                for n in names if n != REFERENCE]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _memory_cell(framework):
    peak, imported = framework.get("max_rss_mb"), framework.get("import_rss_mb")
    if not peak:
        return ""
    return f"{peak:,.0f} ({imported:,.0f} + {peak - imported:,.0f})" if imported else f"{peak:,.0f}"


# --------------------------------------------------------------------------- workers


def _data(spec, seed=0, channels_first=False):
    import numpy as np

    _, shape, classes, batch, steps, _ = spec
    n = batch * steps
    rng = np.random.default_rng(seed)
    x = rng.random((n, *shape), dtype=np.float32)
    if channels_first:
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    return x, (np.arange(n) % classes).astype(np.int64)


def _pacer(chunks):
    """A Keras callback that waits for 'go' before each epoch and reports its duration."""
    import keras

    class Pacer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            wait_for_go()
            self.start, self.cpu = time.perf_counter(), cpu_seconds()

        def on_epoch_end(self, epoch, logs=None):
            send({"seconds": time.perf_counter() - self.start, "cpu_seconds": cpu_seconds() - self.cpu})

    return Pacer()


def _keras_ready(model, threads, compile_options=None):
    import keras

    versions = {"keras": keras.__version__, "backend": keras.backend.backend()}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
        versions["onednn"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    elif keras.backend.backend() == "jax":
        import jax

        versions["jax"] = jax.__version__
    else:
        import torch

        versions["torch"] = torch.__version__
    send({
        "parameters": sum(int(keras.ops.size(w)) for w in model.trainable_weights),
        "macs_per_sample": conv_dense_macs(model), "versions": versions,
        "threads": threads, "compile": compile_options or {},
    })


def worker_biocnn(spec, chunks, threads, compile_options, max_steps=None):
    import biocnn
    from biocnn import training

    imported = rss_mb()
    if max_steps:
        training.MAX_STEPS_PER_EXECUTION = max_steps
    model_name, shape, classes, batch, steps, options = spec
    training.set_seed(0)
    model = biocnn.models.create(model_name, tuple(shape), classes, **options)
    if compile_options:  # a variant of biocnn's compile step (benchmark only)
        plain = training.compile_model

        def compile_model(model, config, metrics=("accuracy",), steps_per_execution=1):
            plain(model, config, metrics, steps_per_execution)
            options = {"steps_per_execution": steps_per_execution, **compile_options}
            model.compile(optimizer=model.optimizer, loss=model.loss, metrics=list(metrics), **options)
            return model

        training.compile_model = compile_model
    _keras_ready(model, threads, compile_options)
    x, y = _data(spec)
    config = training.TrainingConfig(epochs=chunks, batch_size=batch, early_stopping_patience=None)
    training.fit(model, x, y, config=config, verbose=0, callbacks=[_pacer(chunks)])
    return imported


def worker_keras(spec, chunks, threads):
    import biocnn
    import keras

    imported = rss_mb()
    model_name, shape, classes, batch, steps, options = spec
    keras.utils.set_random_seed(0)
    model = biocnn.models.create(model_name, tuple(shape), classes, **options)
    model.compile(optimizer=biocnn.optimizers.MomentumSGD(0.01, momentum=0.9, weight_decay=5e-4),
                  loss=biocnn.losses.get("cross_entropy"), metrics=["accuracy"])
    _keras_ready(model, threads)
    x, y = _data(spec)
    model.fit(x, y, batch_size=batch, epochs=chunks, shuffle=True, verbose=0, callbacks=[_pacer(chunks)])
    return imported


def worker_torch(spec, chunks, threads):
    import torch
    import torch_reference

    imported = rss_mb()
    torch.set_num_threads(threads["intra_op"])
    torch.set_num_interop_threads(threads["inter_op"])
    torch.manual_seed(0)
    model_name, shape, classes, batch, steps, options = spec
    model = torch_reference.build(model_name, shape, classes, **options)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = (torch.from_numpy(a) for a in _data(spec, channels_first=True))
    macs = torch_macs(model, (1, shape[-1], *shape[:-1]))
    send({"parameters": torch_reference.count_parameters(model), "macs_per_sample": macs,
           "versions": {"torch": torch.__version__}, "threads": threads})
    model.train()
    for chunk in range(chunks):
        wait_for_go()
        start, cpu = time.perf_counter(), cpu_seconds()
        order = torch.randperm(len(x))
        for step in range(steps):
            index = order[step * batch:(step + 1) * batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[index]), y[index])
            loss.backward()
            optimizer.step()
        send({"seconds": time.perf_counter() - start, "cpu_seconds": cpu_seconds() - cpu})
    return imported


def torch_macs(model, input_shape):
    """Conv/Linear MACs of one sample through a PyTorch model (forward hooks), to cross-check."""
    import torch

    total = [0]

    def hook(module, inputs, output):
        positions = output[0].numel() // output.shape[1] if output.dim() > 2 else 1
        total[0] += positions * module.weight.numel()

    kinds = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(input_shape))
    model.train(was_training)
    for handle in handles:
        handle.remove()
    return total[0]


def run_worker(request):
    spec = FAMILIES[request["family"]]
    if request.get("tiny"):
        spec = tiny(spec)
    framework, chunks, threads = request["framework"], request["chunks"], request["threads"]
    if framework in BIOCNN_COMPILE:
        imported = worker_biocnn(spec, chunks, threads, BIOCNN_COMPILE[framework], BIOCNN_MAX_STEPS.get(framework))
    elif framework in KERAS_BACKEND:
        imported = worker_keras(spec, chunks, threads)
    else:
        imported = worker_torch(spec, chunks, threads)
    send({"max_rss_mb": max_rss_mb(), "import_rss_mb": imported})


def tiny(spec):
    """``--quick``: the family at 2 steps of batch 4 (and 3D inputs at 16^3)."""
    model, shape, classes, batch, steps, options = spec
    if len(shape) == 4:
        shape = (16, 16, 16, shape[-1])
    return (model, shape, classes, 4, 2, options)


# --------------------------------------------------------------------------- parent


def Worker(framework, family, chunks, threads, tiny_run, jax_path):
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": str(threads["intra_op"]), "TF_NUM_INTRAOP_THREADS": str(threads["intra_op"]),
                "TF_NUM_INTEROP_THREADS": str(threads["inter_op"])})
    here = os.path.dirname(os.path.abspath(__file__))
    paths = [here] + ([jax_path] if framework == "keras_jax" and jax_path else [])
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [env.get("PYTHONPATH")] if p])
    if framework in KERAS_BACKEND:
        env["KERAS_BACKEND"] = KERAS_BACKEND[framework]
    else:
        env.pop("KERAS_BACKEND", None)
    request = {"framework": framework, "family": family, "chunks": chunks, "threads": threads, "tiny": tiny_run}
    return bench_workers.Worker(__file__, request, env)


def bench_family(family, frameworks, warmup, repeats, threads, tiny_run, jax_path, peak):
    spec = tiny(FAMILIES[family]) if tiny_run else FAMILIES[family]
    chunks = warmup + repeats
    workers = [Worker(name, family, chunks, threads, tiny_run, jax_path) for name in frameworks]
    try:
        ready = {w.name: w.receive() for w in workers}
        counts = {name: r["parameters"] for name, r in ready.items()}
        if len(set(counts.values())) != 1:
            raise RuntimeError(f"{family}: the frameworks' models differ in trainable parameters: {counts}")
        macs = {name: r["macs_per_sample"] for name, r in ready.items()}
        if len(set(macs.values())) != 1:
            raise RuntimeError(f"{family}: the frameworks' models differ in conv/dense MACs: {macs}")
        seconds = {w.name: [] for w in workers}
        cpu = {w.name: [] for w in workers}
        for chunk in range(chunks):
            for w in workers:  # A B A B ...: alternated, one framework computing at a time
                elapsed, cpu_seconds = w.chunk()
                if chunk >= warmup:
                    seconds[w.name].append(elapsed)
                    cpu[w.name].append(cpu_seconds / elapsed)
                    rate = spec[3] * spec[4] / elapsed
                    print(f"{family} {chunk - warmup + 1}/{repeats} {w.name}: {rate:,.1f} samples/s", flush=True)
        rss = {w.name: w.receive() for w in workers}
    finally:
        for w in workers:
            w.close()
    record = summarise(family, spec, ready, seconds, rss, peak)
    for name, busy in cpu.items():  # CPU seconds per second: the cores a framework kept busy
        record["frameworks"][name]["cores_busy"] = statistics.median(busy)
    return record


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--frameworks", nargs="+", default=["biocnn", "torch"], choices=FRAMEWORKS,
                        help="alternated in this order (default: biocnn torch)")
    parser.add_argument("--repeats", type=int, default=5, help="timed chunks per framework (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed chunks first (default 2)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="intra-op threads in every framework (default: the CPU count)")
    parser.add_argument("--inter-op-threads", type=int, default=1,
                        help="inter-op threads in every framework (default 1)")
    parser.add_argument("--quick", action="store_true", help="tiny run (2 steps of batch 4, 1 repeat) to check it works")
    parser.add_argument("--jax-path", help="folder holding JAX, added to the keras_jax worker's PYTHONPATH only")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("repeats", "threads", "inter_op_threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be at least 0, got {args.warmup}")
    if args.quick:
        args.repeats, args.warmup = 1, 1
    if args.out and os.path.exists(args.out) and not args.overwrite:
        parser.error(f"--out {args.out} exists; pass --overwrite to replace it")
    return args


def main(argv=None):
    args = parse_args(argv)
    threads = {"intra_op": args.threads, "inter_op": args.inter_op_threads}
    size = 256 if args.quick else 2048
    peak = sgemm_peak(size, threads=args.threads)
    try:
        torch_peak = sgemm_peak(size, threads=args.threads, library="torch") / 1e9
    except subprocess.CalledProcessError:  # no PyTorch
        torch_peak = None
    results = {
        "schema": SCHEMA,
        "command": "python pipelines/bench_training.py " + " ".join(argv or []),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": {"repeats": args.repeats, "warmup": args.warmup, "threads": threads, "quick": args.quick,
                     "frameworks": args.frameworks,
                     "flop_convention": "conv+dense MACs from layer shapes, 2 FLOP/MAC, training = 3x forward"},
        "sgemm_peak_gflop_per_s": peak / 1e9,
        "torch_mm_peak_gflop_per_s": torch_peak,
        "load_average": {"start": list(os.getloadavg())},
        "families": {},
    }
    print(f"sgemm peak (float32 {size}^3, {args.threads} threads): NumPy {peak / 1e9:.1f} GFLOP/s, "
          f"torch.mm {torch_peak or float('nan'):.1f} GFLOP/s; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    for family in args.families:
        results["families"][family] = bench_family(
            family, args.frameworks, args.warmup, args.repeats, threads, args.quick, args.jax_path, peak)
    results["load_average"]["end"] = list(os.getloadavg())
    print(table(results))
    if args.out:
        from biocnn.rundir import write_json

        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        write_json(args.out, results)
    return results


if __name__ == "__main__":
    if "--worker" in sys.argv:
        run_worker(json.loads(sys.argv[sys.argv.index("--worker") + 1]))
    else:
        from biocnn import cli

        cli.run_main(main, sys.argv[1:])
