"""Benchmark: training throughput with TensorFlow's oneDNN on (biocnn's default) and off.

Each measurement runs in a fresh subprocess, because TF_ENABLE_ONEDNN_OPTS only takes effect
before TensorFlow is imported. The two settings alternate (on, off, on, off, ...), warm-up
steps are excluded, and the median samples/s of each and their ratio are reported.

    python pipelines/bench_onednn.py --repeats 3 --out pipelines/results/bench_onednn.json
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

from biocnn import cli

CASES = {
    # name: (model, input shape, batch size)
    "lenet5_2d_28px": ("lenet5", (28, 28, 1), 64),
    "lenet5_3d_32vox": ("lenet5", (32, 32, 32, 1), 16),
    "mlp_2d_28px": ("mlp", (28, 28, 1), 64),
}

_WORKER = r"""
import json, sys, time
import numpy as np
import biocnn, keras
model_name, shape, batch, steps, warmup = json.loads(sys.argv[1])
biocnn.training.set_seed(0)
model = biocnn.models.create(model_name, tuple(shape), 2)
biocnn.training.compile_model(model, biocnn.training.TrainingConfig())
x = np.random.default_rng(0).random((batch, *shape), dtype=np.float32)
y = np.arange(batch) % 2
for _ in range(warmup):
    model.train_on_batch(x, y)
start = time.perf_counter()
for _ in range(steps):
    model.train_on_batch(x, y)
print(json.dumps(steps * batch / (time.perf_counter() - start)))
"""


def measure(case, onednn, steps, warmup):
    model, shape, batch = CASES[case]
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1" if onednn else "0")
    args = json.dumps([model, list(shape), batch, steps, warmup])
    out = subprocess.run([sys.executable, "-c", _WORKER, args], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=3, help="alternations of on/off per case")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (tracing, allocation)")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    results = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                           "cpus": os.cpu_count()}, "cases": {}}
    for case in args.cases:
        runs = {"on": [], "off": []}
        for repeat in range(args.repeats):
            for setting in ("on", "off"):
                runs[setting].append(measure(case, setting == "on", args.steps, args.warmup))
                print(f"{case} repeat {repeat + 1}/{args.repeats} oneDNN {setting}: "
                      f"{runs[setting][-1]:.1f} samples/s", flush=True)
        on, off = statistics.median(runs["on"]), statistics.median(runs["off"])
        results["cases"][case] = {"on": on, "off": off, "ratio_on_over_off": on / off, "runs": runs}
        print(f"{case}: oneDNN on {on:.1f} / off {off:.1f} samples/s = {on / off:.2f}x", flush=True)
    if args.out:
        from biocnn.rundir import write_json

        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        write_json(args.out, results)


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
