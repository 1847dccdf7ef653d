"""Benchmark: training throughput with biocnn's oneDNN default against TensorFlow's own.

Three settings, each in a fresh subprocess (TF_ENABLE_ONEDNN_OPTS only takes effect before
TensorFlow is imported):

    biocnn      import biocnn first, variable unset: biocnn turns oneDNN on
    tf_default  import tensorflow first, variable unset: whatever TensorFlow picks for this CPU
    off         TF_ENABLE_ONEDNN_OPTS=0

They alternate (biocnn, tf_default, off, biocnn, ...), warm-up steps are excluded, and the
median samples/s of each and the ratios to biocnn's default are reported.

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
model_name, shape, batch, steps, warmup, tf_first = json.loads(sys.argv[1])
if tf_first:
    import tensorflow
import numpy as np
import biocnn, keras
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


SETTINGS = ("biocnn", "tf_default", "off")


def measure(case, setting, steps, warmup):
    model, shape, batch = CASES[case]
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if setting == "off":
        env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    args = json.dumps([model, list(shape), batch, steps, warmup, setting == "tf_default"])
    out = subprocess.run([sys.executable, "-c", _WORKER, args], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=3, help="alternations of the three settings per case")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (tracing, allocation)")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    results = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                           "cpus": os.cpu_count()}, "cases": {}}
    for case in args.cases:
        runs = {setting: [] for setting in SETTINGS}
        for repeat in range(args.repeats):
            for setting in SETTINGS:
                runs[setting].append(measure(case, setting, args.steps, args.warmup))
                print(f"{case} repeat {repeat + 1}/{args.repeats} {setting}: "
                      f"{runs[setting][-1]:.1f} samples/s", flush=True)
        median = {setting: statistics.median(values) for setting, values in runs.items()}
        results["cases"][case] = {
            "median_samples_per_s": median,
            "biocnn_over_tf_default": median["biocnn"] / median["tf_default"],
            "biocnn_over_off": median["biocnn"] / median["off"],
            "runs": runs,
        }
        print(f"{case}: biocnn {median['biocnn']:.1f}, TF default {median['tf_default']:.1f}, off "
              f"{median['off']:.1f} samples/s; biocnn/TF default "
              f"{median['biocnn'] / median['tf_default']:.2f}x, biocnn/off {median['biocnn'] / median['off']:.2f}x",
              flush=True)
    if args.out:
        from biocnn.rundir import write_json

        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        write_json(args.out, results)


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
