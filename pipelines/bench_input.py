"""Benchmark: the cost of training from files on disk against the same data already in memory.

Per modality, the same model is trained for the same steps with the same augmentation
(inside the model, ``biocnn.training.fit(..., augmentation=...)``) from two inputs:

    memory   arrays already decoded in memory (what ``fit`` gets from an .npz)
    disk     biocnn's readers on files written from the bundled datasets into a temp folder:
             sequences  FASTA + label table (read_fasta_with_labels, one-hot Encoding), parsed
                        at the start of the run (sequences are small: no streaming reader)
             png, tiff  a class-per-folder tree of BreastMNIST's 546 training images, streamed
                        and decoded every epoch (table_from_folder + image_dataset: a batch
                        per Python call, parallel decoding, prefetch)
             *_cached   the same, each file decoded once (image_dataset(cache="memory"))
             hdf5       one HDF5 stack (256 AdrenalMNIST3D volumes), streamed batch by batch every epoch (HDF5Volumes +
                        volume_dataset)

The two arms alternate (memory, disk, memory, disk ...) in one process; each run is a fresh
model trained ``--epochs`` epochs. Reported per modality: the median time per epoch after the
first (steady state), the median time of a whole run (reading, tracing, every epoch), and the
overhead of disk over memory for both, in %.

    python pipelines/bench_input.py --out pipelines/results/bench_input.json
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time

import biocnn  # first: it sets TensorFlow's defaults before TensorFlow loads
import keras
import numpy as np
from biocnn import augment, cli, training
from biocnn.data import (
    Encoding,
    class_indices,
    image_dataset,
    load_npz_splits,
    read_fasta_with_labels,
    read_sequence_csv,
    table_from_folder,
)
from biocnn.data.volume_datasets import volume_dataset
from biocnn.data.volumes import HDF5Volumes
from biocnn.rundir import write_json

SCHEMA = "biocnn.bench_input/1"
DATASETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "datasets")
#: modality -> (model spec, augmentation policy, batch size)
MODALITIES = {
    "sequences": ("deepbind", "sequence", 64),
    "png": ("lenet5", "microscopy", 64),
    "tiff": ("lenet5", "microscopy", 64),
    "png_cached": ("lenet5", "microscopy", 64),
    "tiff_cached": ("lenet5", "microscopy", 64),
    "hdf5": ("lenet5", "volume", 16),
}
VOLUMES = 256  # of AdrenalMNIST3D's 1188 training volumes, to keep an epoch to seconds


# --------------------------------------------------------------------------- files on disk


def write_sequences(folder):
    """The splice junctions as FASTA + label table; returns (memory arrays, disk reader)."""
    frame = read_sequence_csv(os.path.join(DATASETS, "splice", "splice.csv"), id_column="instance_name")
    fasta, labels = os.path.join(folder, "splice.fa"), os.path.join(folder, "labels.csv")
    with open(fasta, "w") as f:
        for identifier, sequence in zip(frame["id"], frame["sequence"]):
            f.write(f">{identifier}\n{sequence}\n")
    frame[["id", "label"]].to_csv(labels, index=False)
    encoding = Encoding("dna", length=60)

    def read():
        records = read_fasta_with_labels(fasta, labels)
        y, _ = class_indices(records["label"])
        return encoding.encode(list(records["sequence"])), y

    x, y = read()
    return (x, y), read


def write_images(folder, suffix, cache=None):
    """BreastMNIST's training images as a class-per-folder tree of ``suffix`` files; with
    ``cache="memory"`` the reader decodes each file once (``image_dataset(cache=...)``)."""
    from PIL import Image

    x, y = load_npz_splits(os.path.join(DATASETS, "medmnist", "breastmnist.npz"))["train"]
    root = os.path.join(folder, f"{suffix}_{cache}")
    for i, (image, label) in enumerate(zip(x, y)):
        os.makedirs(os.path.join(root, str(label)), exist_ok=True)
        pixels = np.round(image[..., 0] * 255).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(root, str(label), f"{i:05d}.{suffix}"))
    table = table_from_folder(root)
    memory = (x.astype(np.float32), y)

    def read(batch_size, seed):
        return image_dataset(table, batch_size, shuffle=True, seed=seed, cache=cache)

    return memory, read


def write_volumes(folder):
    """AdrenalMNIST3D's first ``VOLUMES`` training volumes as one HDF5 stack ``(N, D, H, W)``."""
    import h5py

    x, y = load_npz_splits(os.path.join(DATASETS, "medmnist", "adrenalmnist3d.npz"))["train"]
    x, y = x[:VOLUMES], y[:VOLUMES]
    path = os.path.join(folder, "volumes.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("volumes", data=x[..., 0].astype(np.float32))
    memory = (x.astype(np.float32), y)

    def read(batch_size, seed):
        return volume_dataset(HDF5Volumes(path, "volumes"), labels=y, batch_size=batch_size, shuffle=True, seed=seed)

    return memory, read


# --------------------------------------------------------------------------- timing


class EpochTimer(keras.callbacks.Callback):
    """Seconds of each epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def train_once(modality, memory, read, epochs, seed, arm):
    """One run of one arm: (whole-run seconds, epoch seconds). Disk runs read inside the timing."""
    spec, policy_name, batch = MODALITIES[modality]
    x, y = memory
    training.set_seed(seed)
    name, options = biocnn.models.parse_spec(spec)
    model = biocnn.models.create(name, x.shape[1:], int(y.max()) + 1, **options)
    aug = augment.policy(policy_name, rank=x.ndim - 2, seed=seed, channels=x.shape[-1])
    config = training.TrainingConfig(epochs=epochs, batch_size=batch, early_stopping_patience=None, seed=seed)
    timer = EpochTimer()
    start = time.perf_counter()
    if arm == "memory":
        inputs = (x, y)
    elif modality == "sequences":
        inputs = read()
    else:
        inputs = (read(batch, seed), None)
    training.fit(model, *inputs, config=config, augmentation=aug, verbose=0, callbacks=[timer])
    return time.perf_counter() - start, timer.seconds


def bench_modality(modality, memory, read, epochs, repeats):
    runs = {"memory": [], "disk": []}
    for repeat in range(repeats):
        for arm in ("memory", "disk"):
            total, epoch_seconds = train_once(modality, memory, read, epochs, seed=repeat, arm=arm)
            runs[arm].append({"total_s": total, "epoch_s": epoch_seconds})
            print(f"{modality} {repeat + 1}/{repeats} {arm}: run {total:.2f} s, epochs after the first "
                  f"{statistics.median(epoch_seconds[1:]):.3f} s", flush=True)
    summary = {}
    for arm, values in runs.items():
        summary[arm] = {
            "median_run_s": statistics.median(v["total_s"] for v in values),
            "median_epoch_s": statistics.median(s for v in values for s in v["epoch_s"][1:]),
        }
    spec, policy_name, batch = MODALITIES[modality]
    return {
        "model": spec, "augmentation": policy_name, "batch_size": batch, "samples": int(len(memory[0])),
        "input_shape": list(memory[0].shape[1:]), "epochs": epochs, **summary,
        "epoch_overhead_pct": 100 * (summary["disk"]["median_epoch_s"] / summary["memory"]["median_epoch_s"] - 1),
        "run_overhead_pct": 100 * (summary["disk"]["median_run_s"] / summary["memory"]["median_run_s"] - 1),
        "runs": runs,
    }


def table(results):
    lines = ["| modality | model | samples | epoch memory s | epoch disk s | epoch overhead | run memory s "
             "| run disk s | run overhead |", "|---|---|---|---|---|---|---|---|---|"]
    for modality, r in results["modalities"].items():
        lines.append(
            f"| {modality} | {r['model']} | {r['samples']} | {r['memory']['median_epoch_s']:.3f} | "
            f"{r['disk']['median_epoch_s']:.3f} | {r['epoch_overhead_pct']:+.1f}% | {r['memory']['median_run_s']:.2f} | "
            f"{r['disk']['median_run_s']:.2f} | {r['run_overhead_pct']:+.1f}% |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modalities", nargs="+", default=list(MODALITIES), choices=list(MODALITIES))
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run (default 4; the first is excluded "
                                                              "from the per-epoch time)")
    parser.add_argument("--repeats", type=int, default=3, help="alternations of memory and disk (default 3)")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2 (the first epoch is excluded), got {args.epochs}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.out and os.path.exists(args.out) and not args.overwrite:
        parser.error(f"--out {args.out} exists; pass --overwrite to replace it")
    results = {
        "schema": SCHEMA,
        "command": "python pipelines/bench_input.py " + " ".join(argv or []),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(), "load_average": {"start": list(os.getloadavg())}, "modalities": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        writers = {"sequences": write_sequences, "png": lambda f: write_images(f, "png"),
                   "tiff": lambda f: write_images(f, "tiff"), "hdf5": write_volumes,
                   "png_cached": lambda f: write_images(f, "png", cache="memory"),
                   "tiff_cached": lambda f: write_images(f, "tiff", cache="memory")}
        for modality in args.modalities:
            memory, read = writers[modality](folder)
            results["modalities"][modality] = bench_modality(modality, memory, read, args.epochs, args.repeats)
    results["load_average"]["end"] = list(os.getloadavg())
    print(table(results))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        write_json(args.out, results)
    return results


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
