"""Benchmark: prediction throughput of biocnn's exported SavedModel against PyTorch and ONNX Runtime,
and the memory of a genome scan from 10^4 to 10^7 windows.

Part 1, per modality (DeepBind and LeNet-5 on DNA windows, ResNet-18 on 2D tiles, a 3D
ResNet-18 on volumes): the same network, the same batch size and the same random inputs in

* ``biocnn``: biocnn's export (``biocnn.export.save``) loaded with ``biocnn.export.load`` and
  called through its ``serving_default`` signature from NumPy, as a user calls it (for
  sequences: raw strings, one-hot encoded inside the graph);
* ``biocnn_encoded``: sequences only, the export's ``encoded`` signature on one-hot arrays
  (the same input PyTorch gets);
* ``torch``: the same layer shapes in PyTorch (``pipelines/torch_reference.py``, trainable
  parameter counts checked equal), eval mode, ``torch.inference_mode``, softmax included;
* ``torchscript``: that model traced and ``torch.jit.optimize_for_inference`` (frozen: batch
  norm folded into the convolutions);
* ``onnxruntime``: biocnn's network converted by tf2onnx (opset 17) and run by ONNX Runtime's
  CPU provider (skipped, and said so, where tf2onnx/onnxruntime do not import);
  ``onnxruntime_unfused`` (optional): the same with ONNX Runtime's graph optimisations off, to
  measure what its Conv + BatchNorm + ReLU fusion is worth; ``biocnn_unfused`` (optional): the
  export with TensorFlow's Grappler remapper (its Conv + BatchNorm + ReLU fusion) off.

Each framework runs in its own long-lived subprocess (peak RSS per framework; no thread pools
fighting) and the parent alternates timed chunks between them (A B C A B C ...); the first
``--warmup`` chunks are excluded; reported: median samples/s, the ratio to PyTorch eager,
peak RSS.

Part 2, the scaling curve: ``biocnn.export.predict_stream`` scans a synthetic genome (one
random chromosome of ``(n - 1) * stride + window`` bases, so exactly n windows) at window 200,
stride 50, writing the CSV, for n = 10^4 ... ``--scan-max``; each size in a fresh subprocess:
windows/s and peak RSS. ``--scan-model`` picks the network (``deepbind``, with both strands
averaged as a real scan does, or ``tiny``, a 4-filter convolution, for the 10^7 end).

    python pipelines/bench_predict.py --out pipelines/results/bench_predict.json
    python pipelines/bench_predict.py --quick
"""

import argparse
import atexit
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import bench_workers
from bench_workers import PROTOCOL, cpu_seconds, max_rss_mb, send, wait_for_go

SCHEMA = "biocnn.bench_predict/1"

#: name -> (model, channels-last input shape, classes, batch size, batches per chunk, model options)
FAMILIES = {
    "deepbind_1d": ("deepbind", (200, 4), 2, 256, 20, {}),
    "lenet5_1d": ("lenet5", (200, 4), 2, 256, 20, {}),
    "resnet18_2d_64px": ("resnet18", (64, 64, 3), 2, 32, 1, {}),
    "resnet18_3d_32vox": ("resnet18", (32, 32, 32, 1), 2, 8, 2, {"width_multiplier": 0.25}),
}
FRAMEWORKS = ("biocnn", "biocnn_encoded", "torch", "torchscript", "onnxruntime", "onnxruntime_unfused",
              "biocnn_unfused")
REFERENCE = "torch"
SCAN_SIZES = (10_000, 100_000, 1_000_000, 10_000_000)


# --------------------------------------------------------------------------- workers


def _inputs(spec, seed=0):
    """``steps`` batches: one-hot windows (and their text) for sequences, uniform floats otherwise."""
    import numpy as np

    _, shape, _, batch, steps, _ = spec
    rng = np.random.default_rng(seed)
    if shape[-1] == 4 and len(shape) == 2:
        codes = rng.integers(0, 4, (steps, batch, shape[0]))
        text = [["".join("ACGT"[c] for c in row) for row in b] for b in codes]
        return np.eye(4, dtype=np.float32)[codes], text
    return rng.random((steps, batch, *shape), dtype=np.float32), None


def _timed_chunks(chunks, run_batch, steps):
    for _ in range(chunks):
        wait_for_go()
        start, cpu = time.perf_counter(), cpu_seconds()
        for step in range(steps):
            run_batch(step)
        send({"seconds": time.perf_counter() - start, "cpu_seconds": cpu_seconds() - cpu})


def _tf_threads(threads):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


def _keras_model(spec):
    import biocnn

    name, shape, classes, _, _, options = spec
    biocnn.training.set_seed(0)
    return biocnn.models.create(name, tuple(shape), classes, **options)


def worker_biocnn(spec, chunks, threads, encoded, fuse=True):
    tf = _tf_threads(threads)
    if not fuse:  # Grappler's remapper fuses Conv + BiasAdd/BatchNorm + ReLU on CPU; measure without it
        tf.config.optimizer.set_experimental_options({"remapping": False})
    from biocnn import export
    from biocnn.data import Encoding

    model = _keras_model(spec)
    shape = spec[1]
    is_sequence = len(shape) == 2 and shape[-1] == 4
    folder = tempfile.mkdtemp(prefix="bench_predict_")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    export.save(model, os.path.join(folder, "model"), encoding=Encoding("dna", length=shape[0]) if is_sequence else None,
                embeddings=False)
    exported = export.load(os.path.join(folder, "model"))
    arrays, text = _inputs(spec)
    send({"parameters": sum(int(w.shape.num_elements()) for w in model.trainable_weights),
           "versions": {"tensorflow": tf.__version__}, "input": "encoded" if encoded or not is_sequence else "strings"})
    if encoded:
        function = exported.saved_model.signatures["encoded"]

        def run(step):
            function(one_hot=tf.constant(arrays[step]))["probabilities"].numpy()
    elif is_sequence:
        function = exported.saved_model.signatures["serving_default"]

        def run(step):
            function(sequence=tf.constant(text[step]))["probabilities"].numpy()
    else:
        function = exported.saved_model.signatures["serving_default"]

        def run(step):
            function(**{exported.input_name: tf.constant(arrays[step])})["probabilities"].numpy()
    _timed_chunks(chunks, run, spec[4])


def worker_torch(spec, chunks, threads, script):
    import numpy as np
    import torch
    import torch_reference

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    name, shape, classes, batch, steps, options = spec
    model = torch_reference.build(name, shape, classes, **options).eval()
    arrays, _ = _inputs(spec)
    x = [torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 1))) for a in arrays]
    parameters = torch_reference.count_parameters(model)
    if script:
        with torch.inference_mode():
            model = torch.jit.optimize_for_inference(torch.jit.trace(model, x[0]))
    send({"parameters": parameters, "versions": {"torch": torch.__version__}, "input": "one-hot" if shape[-1] == 4 else "float"})

    def run(step):
        with torch.inference_mode():
            torch.softmax(model(x[step]), dim=-1).numpy()

    _timed_chunks(chunks, run, steps)


def worker_onnxruntime(spec, chunks, threads, fuse=True):
    tf = _tf_threads(threads)
    import onnxruntime
    import tf2onnx

    model = _keras_model(spec)
    shape = spec[1]
    signature = (tf.TensorSpec((None, *shape), tf.float32, name="x"),)

    @tf.function(input_signature=signature)
    def probabilities(x):
        return model(x, training=False)

    proto, _ = tf2onnx.convert.from_function(probabilities, input_signature=signature, opset=17)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    if not fuse:  # what ONNX Runtime's graph rewrites (Conv+BatchNorm+ReLU fusion, constant folding) are worth
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    arrays, _ = _inputs(spec)
    send({"parameters": sum(int(w.shape.num_elements()) for w in model.trainable_weights),
           "versions": {"onnxruntime": onnxruntime.__version__, "tf2onnx": tf2onnx.__version__}, "input": "float"})
    _timed_chunks(chunks, lambda step: session.run(None, {name: arrays[step]}), spec[4])


def tiny(spec):
    """``--quick``: 2 batches of 4 (3D inputs at 16^3)."""
    model, shape, classes, batch, steps, options = spec
    if len(shape) == 4:
        shape = (16, 16, 16, shape[-1])
    return (model, shape, classes, 4, 2, options)


def run_worker(request):
    spec = FAMILIES[request["family"]]
    spec = tiny(spec) if request.get("tiny") else spec
    framework, chunks, threads = request["framework"], request["chunks"], request["threads"]
    if framework.startswith("biocnn"):
        worker_biocnn(spec, chunks, threads, encoded=framework == "biocnn_encoded", fuse=framework != "biocnn_unfused")
    elif framework.startswith("onnxruntime"):
        worker_onnxruntime(spec, chunks, threads, fuse=framework == "onnxruntime")
    else:
        worker_torch(spec, chunks, threads, script=framework == "torchscript")
    send({"max_rss_mb": max_rss_mb()})


# --------------------------------------------------------------------------- the scaling curve


def write_genome(path, bases, seed=0, width=60):
    """A random ACGT chromosome ``chr1`` of ``bases`` letters, written a block at a time."""
    import numpy as np

    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    block = width * 100_000
    with open(path, "wb") as f:
        f.write(b">chr1 synthetic\n")
        for start in range(0, bases, block):
            codes = letters[rng.integers(0, 4, min(block, bases - start))]
            lines = [codes[i:i + width].tobytes() for i in range(0, len(codes), width)]
            f.write(b"\n".join(lines) + b"\n")


def run_scan(request):
    """Worker: export the scan model, scan the genome with predict_stream, report rate and RSS."""
    _tf_threads(request["threads"])
    import keras

    from biocnn import export
    from biocnn.data import Encoding

    window = request["window"]
    if request["model"] == "tiny":
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((window, 4)), keras.layers.Conv1D(4, 8, activation="relu"),
                                  keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(2, activation="softmax")])
        rc = False
    else:
        model = _keras_model(("deepbind", (window, 4), 2, 0, 0, {}))
        rc = True
    folder = request["folder"]
    path = os.path.join(folder, f"scan_{request['model']}")
    if not os.path.isdir(path):
        export.save(model, path, encoding=Encoding("dna", length=window), rc_average=rc, embeddings=False,
                    class_names=["background", "site"])
    out = os.path.join(folder, "scan.csv")
    start = time.perf_counter()
    summary = export.predict_stream(path, out, genome=request["genome"], window=window, stride=request["stride"],
                                    batch_size=request["batch_size"], overwrite=True, progress_every=30)
    seconds = time.perf_counter() - start
    send({"windows": summary["samples"], "seconds": seconds, "max_rss_mb": max_rss_mb(),
           "csv_bytes": os.path.getsize(out), "strands": summary.get("strands")})
    os.remove(out)


def scaling_curve(sizes, model, threads, window=200, stride=50, batch_size=1024, folder=None):
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="bench_scan_") as scratch:  # genomes and exports, removed after
            return scaling_curve(sizes, model, threads, window, stride, batch_size, scratch)
    points = []
    for n in sizes:
        genome = os.path.join(folder, f"genome_{n}.fa")
        bases = (n - 1) * stride + window
        write_genome(genome, bases)
        request = {"scan": True, "model": model, "genome": genome, "window": window, "stride": stride,
                   "batch_size": batch_size, "threads": threads, "folder": folder}
        result = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(request)],
                                capture_output=True, text=True, env=_worker_env(threads))
        os.remove(genome)
        messages = [json.loads(line[len(PROTOCOL):]) for line in result.stdout.splitlines() if line.startswith(PROTOCOL)]
        if result.returncode or not messages:
            raise RuntimeError(f"the scan of {n} windows failed:\n{result.stderr[-3000:]}")
        point = {"windows": messages[0]["windows"], "genome_bases": bases, "seconds": messages[0]["seconds"],
                 "windows_per_s": messages[0]["windows"] / messages[0]["seconds"],
                 "max_rss_mb": messages[0]["max_rss_mb"], "csv_bytes": messages[0]["csv_bytes"],
                 "strands": messages[0]["strands"]}
        print(f"scan {model}: {point['windows']:,} windows ({bases / 1e6:,.1f} Mbp) in {point['seconds']:,.1f} s: "
              f"{point['windows_per_s']:,.0f} windows/s, peak RSS {point['max_rss_mb']:,.0f} MB", flush=True)
        points.append(point)
    rss = [p["max_rss_mb"] for p in points]
    return {"model": model, "window": window, "stride": stride, "batch_size": batch_size, "points": points,
            "rss_spread": (max(rss) - min(rss)) / min(rss)}


# --------------------------------------------------------------------------- parent


def _worker_env(threads):
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads),
                "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"})
    here = os.path.dirname(os.path.abspath(__file__))
    env["PYTHONPATH"] = os.pathsep.join([here, os.path.dirname(here)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.pop("KERAS_BACKEND", None)
    return env


def Worker(framework, family, chunks, threads, tiny_run):
    request = {"framework": framework, "family": family, "chunks": chunks, "threads": threads, "tiny": tiny_run}
    return bench_workers.Worker(__file__, request, _worker_env(threads))


def available(framework):
    """Whether a framework's packages import here (None) or why not (a short reason)."""
    modules = {"torch": ["torch"], "torchscript": ["torch"], "onnxruntime": ["onnxruntime", "tf2onnx"],
               "onnxruntime_unfused": ["onnxruntime", "tf2onnx"]}
    for module in modules.get(framework, []):
        try:
            __import__(module)
        except ImportError as error:
            return f"{module} does not import ({error})"
    return None


def summarise(spec, ready, seconds, rss, cpu=None):
    """One family's record: per framework the rates, median, RSS; ratios to PyTorch eager.

    ``cpu`` (optional, framework -> CPU seconds per chunk) adds samples per CPU-second, the
    work each framework needs per sample whatever else runs on the machine (on a loaded machine
    wall-clock rates swing several-fold; one-thread CPU time does not wait for a core).
    """
    model, shape, classes, batch, steps, options = spec
    record = {"model": model, "input_shape": list(shape), "classes": classes, "options": options,
              "batch_size": batch, "batches_per_chunk": steps,
              "parameters": ready[next(iter(ready))]["parameters"], "frameworks": {}}
    for name, times in seconds.items():
        rates = [batch * steps / t for t in times]
        record["frameworks"][name] = {"samples_per_s": rates, "median_samples_per_s": statistics.median(rates),
                                      "max_rss_mb": rss.get(name), "versions": ready[name].get("versions", {}),
                                      "input": ready[name].get("input")}
        if cpu and cpu.get(name):
            per_cpu = [batch * steps / c for c in cpu[name]]
            record["frameworks"][name].update(samples_per_cpu_s=per_cpu,
                                              median_samples_per_cpu_s=statistics.median(per_cpu))
    if REFERENCE in seconds:
        ref = record["frameworks"][REFERENCE]["median_samples_per_s"]
        record["ratio_to_torch"] = {name: r["median_samples_per_s"] / ref
                                    for name, r in record["frameworks"].items() if name != REFERENCE}
        if "median_samples_per_cpu_s" in record["frameworks"][REFERENCE]:
            ref = record["frameworks"][REFERENCE]["median_samples_per_cpu_s"]
            record["ratio_to_torch_cpu"] = {name: r["median_samples_per_cpu_s"] / ref
                                            for name, r in record["frameworks"].items()
                                            if name != REFERENCE and "median_samples_per_cpu_s" in r}
    return record


def bench_family(family, frameworks, warmup, repeats, threads, tiny_run):
    spec = tiny(FAMILIES[family]) if tiny_run else FAMILIES[family]
    if len(spec[1]) != 2:
        frameworks = [f for f in frameworks if f != "biocnn_encoded"]  # only sequences have a second signature
    chunks = warmup + repeats
    workers = [Worker(name, family, chunks, threads, tiny_run) for name in frameworks]
    try:
        ready = {w.name: w.receive() for w in workers}
        counts = {name: r["parameters"] for name, r in ready.items()}
        if len(set(counts.values())) != 1:
            raise RuntimeError(f"{family}: the frameworks' models differ in trainable parameters: {counts}")
        seconds = {w.name: [] for w in workers}
        cpu = {w.name: [] for w in workers}
        for chunk in range(chunks):
            for w in workers:  # A B C A B C: alternated, one framework computing at a time
                elapsed, cpu_seconds = w.chunk()
                if chunk >= warmup:
                    seconds[w.name].append(elapsed)
                    cpu[w.name].append(cpu_seconds)
                    print(f"{family} {chunk - warmup + 1}/{repeats} {w.name}: "
                          f"{spec[3] * spec[4] / elapsed:,.1f} samples/s", flush=True)
        rss = {w.name: w.receive()["max_rss_mb"] for w in workers}
    finally:
        for w in workers:
            w.close()
    return summarise(spec, ready, seconds, rss, cpu)


def table(results):
    """Markdown: per family the median samples/s of each framework, the ratio to PyTorch eager, RSS."""
    names = []
    for record in results["families"].values():
        names += [n for n in record["frameworks"] if n not in names]
    head = ["family", "batch"] + [f"{n} /s" for n in names] + [f"{n}/torch" for n in names if n != REFERENCE]
    with_cpu = any("ratio_to_torch_cpu" in r for r in results["families"].values())
    if with_cpu:
        head += [f"{n} /CPU-s" for n in names] + [f"{n}/torch (CPU)" for n in names if n != REFERENCE]
    head += [f"{n} MB" for n in names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for family, record in results["families"].items():
        fw = record["frameworks"]
        row = [family, str(record["batch_size"])]
        row += [f"{fw[n]['median_samples_per_s']:,.0f}" if n in fw else "" for n in names]
        row += [f"{record['ratio_to_torch'][n]:.2f}" if n in record.get("ratio_to_torch", {}) else ""
                for n in names if n != REFERENCE]
        if with_cpu:
            row += [f"{fw[n]['median_samples_per_cpu_s']:,.0f}" if "median_samples_per_cpu_s" in fw.get(n, {}) else ""
                    for n in names]
            row += [f"{record['ratio_to_torch_cpu'][n]:.2f}" if n in record.get("ratio_to_torch_cpu", {}) else ""
                    for n in names if n != REFERENCE]
        row += [f"{fw[n]['max_rss_mb']:,.0f}" if n in fw else "" for n in names]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def scan_table(scan):
    """Markdown: the scaling curve's windows, genome size, seconds, windows/s and peak RSS."""
    lines = ["| windows | genome (Mbp) | seconds | windows/s | peak RSS MB |", "|---|---|---|---|---|"]
    for p in scan["points"]:
        lines.append(f"| {p['windows']:,} | {p['genome_bases'] / 1e6:,.1f} | {p['seconds']:,.1f} | "
                     f"{p['windows_per_s']:,.0f} | {p['max_rss_mb']:,.0f} |")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS[:5]), choices=FRAMEWORKS,
                        help="alternated in this order; those that do not import are skipped and reported")
    parser.add_argument("--repeats", type=int, default=5, help="timed chunks per framework (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed chunks first (default 1)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads (default: CPU count)")
    parser.add_argument("--scan-sizes", nargs="*", type=int, default=list(SCAN_SIZES),
                        help="windows per scan of the scaling curve (default 10^4 ... 10^7; none to skip)")
    parser.add_argument("--scan-model", choices=("deepbind", "tiny"), default="deepbind",
                        help="the scan's network (default %(default)s, both strands averaged)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny run to check it works: deepbind_1d, biocnn and torch, batches of 4, scans of 10^3")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.quick:  # one sequence family, PyTorch eager as the reference, one small scan
        args.repeats, args.warmup = 1, 1
        given = sys.argv[1:] if argv is None else argv
        if "--scan-sizes" not in given:
            args.scan_sizes = [1000]
        if "--families" not in given:
            args.families = ["deepbind_1d"]
        if "--frameworks" not in given:
            args.frameworks = ["biocnn", "torch"]
    if args.out and os.path.exists(args.out) and not args.overwrite:
        parser.error(f"--out {args.out} exists; pass --overwrite to replace it")
    return args


def main(argv=None):
    args = parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from bench_training import machine_info  # the same machine record as the training benchmark

    results = {
        "schema": SCHEMA,
        "command": "python pipelines/bench_predict.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": {"repeats": args.repeats, "warmup": args.warmup, "threads": args.threads, "quick": args.quick},
        "load_average": {"start": list(os.getloadavg())},
        "skipped": {}, "families": {},
    }
    frameworks = []
    for name in args.frameworks:
        reason = available(name)
        if reason:
            results["skipped"][name] = reason
            print(f"skipping {name}: {reason}", flush=True)
        else:
            frameworks.append(name)
    for family in args.families:
        results["families"][family] = bench_family(family, frameworks, args.warmup, args.repeats, args.threads,
                                                   args.quick)
    if args.families:
        print(table(results), flush=True)
    if args.scan_sizes:
        results["scan"] = scaling_curve(args.scan_sizes, args.scan_model, args.threads)
        print(scan_table(results["scan"]), flush=True)
    results["load_average"]["end"] = list(os.getloadavg())
    if args.out:
        from biocnn.rundir import write_json

        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        write_json(args.out, results)
    return results


if __name__ == "__main__":
    if "--worker" in sys.argv:
        request = json.loads(sys.argv[sys.argv.index("--worker") + 1])
        run_scan(request) if request.get("scan") else run_worker(request)
    else:
        from biocnn import cli

        cli.run_main(main, sys.argv[1:])
