"""ONNX Runtime against the SavedModel on one biocnn export: parity and speed at batch 64.

For each export given: converts it with biocnn.export.to_onnx (the numeric signature:
``serving_default`` for images and volumes, ``encoded`` one-hot for sequences), then feeds the
same batch of 64 to the SavedModel signature (TensorFlow) and to the ONNX file (onnxruntime,
CPU), and times both: 3 warm-up calls, then the median (and quartiles) of --repeats calls.
Prints one JSON line per export and writes them to --out.

    python pipelines/results/interop/bench_onnx.py /tmp/interop_runs/splice_export /tmp/interop_runs/bccd_export \
        --out pipelines/results/interop/bench_onnx.json
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from biocnn import export
from biocnn.export.onnx import onnx_session


def _batch(exported, signature, size, seed):
    rng = np.random.default_rng(seed)
    shape = exported.input_shape
    if signature == "encoded":  # one-hot rows of random letters
        return np.eye(shape[-1], dtype=np.float32)[rng.integers(0, shape[-1], size=(size, shape[0]))]
    return rng.random((size, *shape), dtype=np.float32)


def _timed(call, repeats):
    for _ in range(3):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return [float(q) * 1000 for q in np.percentile(times, [25, 50, 75])]


def bench(path, batch_size, repeats, seed=0):
    exported = export.load(path)
    signature = "encoded" if exported.modality == "sequence" else "serving_default"
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        info = export.to_onnx(path, os.path.join(work, "model.onnx"), signature=signature)
        convert_s = time.perf_counter() - started
        session = onnx_session(os.path.join(work, "model.onnx"))
        size_mb = os.path.getsize(os.path.join(work, "model.onnx")) / 1e6
    function = exported.saved_model.signatures[signature]
    name = info["input"]["name"]
    x = _batch(exported, signature, batch_size, seed)
    tf_out = function(**{name: tf.constant(x)})["probabilities"].numpy()
    ort_out = dict(zip([o.name for o in session.get_outputs()], session.run(None, {name: x})))["probabilities"]
    tf_ms = _timed(lambda: function(**{name: tf.constant(x)})["probabilities"].numpy(), repeats)
    ort_ms = _timed(lambda: session.run(None, {name: x}), repeats)
    return {
        "export": os.path.abspath(path), "signature": signature, "input": info["input"], "batch": batch_size,
        "onnx_mb": round(size_mb, 2), "convert_s": round(convert_s, 1),
        "max_abs_difference_probe": info["max_abs_difference"]["probabilities"],
        "max_abs_difference_batch": float(np.max(np.abs(ort_out - tf_out))),
        "same_argmax": bool(np.array_equal(ort_out.argmax(1), tf_out.argmax(1))),
        "savedmodel_ms_q25_median_q75": [round(v, 2) for v in tf_ms],
        "onnxruntime_ms_q25_median_q75": [round(v, 2) for v in ort_ms],
        "speedup_median": round(tf_ms[1] / ort_ms[1], 2), "repeats": repeats,
        "load_average": os.getloadavg(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exports", nargs="+", help="biocnn export folders")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", help="JSON file to write the results to")
    args = parser.parse_args(argv)
    results = []
    for path in args.exports:
        results.append(bench(path, args.batch_size, args.repeats))
        print(json.dumps(results[-1]), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
