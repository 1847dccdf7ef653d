"""Multi-device and multi-worker training (biocnn.distribute, training.fit's ``strategy``).

The distributed runs happen in subprocesses: logical CPU devices and multi-worker collectives
must be configured before TensorFlow starts, which the test process did long ago.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from biocnn import cli, distribute, rundir, training
from biocnn.distribute import loop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "distribute_worker.py")
TIMEOUT = 300  # seconds; generous for a loaded 2-core machine, but the suite never hangs


# -- who writes: TF_CONFIG roles, atomic writes, the run directory -----------------------------

def _tf_config(monkeypatch, kind, index, chief=False):
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    if chief:
        cluster["chief"] = ["localhost:3"]
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}}))


@pytest.mark.parametrize("kind, index, chief, expected", [
    ("worker", 0, False, True),   # worker 0 is the chief when the cluster has no chief task
    ("worker", 1, False, False),
    ("worker", 0, True, False),   # ... and is not when there is one
    ("chief", 0, True, True),
])
def test_chief_is_chosen_as_tensorflow_does(monkeypatch, kind, index, chief, expected):
    _tf_config(monkeypatch, kind, index, chief)
    assert distribute.is_chief_task() is expected
    assert distribute.num_tasks() == 3 if chief else 2


def test_outside_a_cluster_every_process_is_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.is_chief_task() and distribute.num_tasks() == 1


def test_only_the_chief_writes_files(monkeypatch, tmp_path):
    _tf_config(monkeypatch, "worker", 1)
    target = tmp_path / "out" / "metrics.json"
    with rundir.atomic_path(target) as tmp:
        with open(tmp, "w") as f:
            f.write("{}")  # the worker really writes, to a private temporary file ...
        assert os.path.exists(tmp) and not str(tmp).startswith(str(tmp_path))
    assert not os.path.exists(tmp)  # ... that is removed afterwards
    assert not (tmp_path / "out").exists()
    assert rundir.make_folder(str(tmp_path / "ckpt")) == str(tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()
    _tf_config(monkeypatch, "worker", 0)
    rundir.make_folder(str(tmp_path / "out"))
    rundir.write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}


def test_a_worker_leaves_the_run_directory_to_the_chief(monkeypatch, tmp_path):
    chief_run = rundir.RunDirectory(tmp_path / "run")  # the chief's run, started already
    chief_run.write_json("config.json", {})
    chief_run.write_json("metrics.json", {})
    chief_run.close()
    _tf_config(monkeypatch, "worker", 1)
    run = rundir.RunDirectory(tmp_path / "run")  # a chief would refuse (no --overwrite/--resume)
    assert not run.resumed and run.file("config.json") == str(tmp_path / "run" / "config.json")
    assert rundir.RunDirectory(tmp_path / "run", resume=True).resumed
    rundir.RunDirectory(tmp_path / "new")
    assert not (tmp_path / "new").exists()
    _tf_config(monkeypatch, "worker", 0)
    with pytest.raises(FileExistsError, match="already holds a run"):
        rundir.RunDirectory(tmp_path / "run")


# -- choosing a strategy -----------------------------------------------------------------------

def test_strategy_names_are_checked():
    with pytest.raises(ValueError, match=r"Unknown strategy 'mirored'\. Did you mean 'mirrored'\?"):
        training.TrainingConfig(strategy="mirored")
    with pytest.raises(ValueError, match="Choose one of: default, mirrored, multiworker"):
        distribute.get_strategy("tpu")


def test_a_cluster_needs_the_multiworker_strategy(monkeypatch):
    _tf_config(monkeypatch, "worker", 0)
    with pytest.raises(ValueError, match="TF_CONFIG describes a cluster of 2 tasks but the strategy is 'default'"):
        distribute.get_strategy("default")


def test_training_flags_include_strategy():
    import argparse

    parser = cli.add_training_arguments(argparse.ArgumentParser())
    assert cli.training_config(parser.parse_args(["--out", "x"])).strategy == "default"
    args = parser.parse_args(["--out", "x", "--strategy", "mirrored"])
    assert cli.training_config(args).strategy == "mirrored"
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", "x", "--strategy", "gpu"])


# -- the loop's pieces -------------------------------------------------------------------------

@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
def test_replica_slices_partition_every_global_batch(replicas):
    for n in range(0, 10):
        batch = tf.range(n)
        parts = [loop.replica_slice(batch, tf.distribute.experimental.ValueContext(r, replicas)).numpy()
                 for r in range(replicas)]
        np.testing.assert_array_equal(np.concatenate(parts), np.arange(n))  # in order, each once
        sizes = [len(p) for p in parts]
        assert max(sizes) - min(sizes) <= 1


def test_accuracy_follows_keras_rule_and_stateful_metrics_are_refused():
    import keras

    sparse = loop.metric_function("accuracy", tf.zeros((4,)), tf.zeros((4, 3)))[1]
    onehot = loop.metric_function("accuracy", tf.zeros((4, 3)), tf.zeros((4, 3)))[1]
    binary = loop.metric_function("acc", tf.zeros((4, 1)), tf.zeros((4, 1)))[1]
    assert (sparse, onehot, binary) == (keras.metrics.sparse_categorical_accuracy,
                                        keras.metrics.categorical_accuracy, keras.metrics.binary_accuracy)
    with pytest.raises(ValueError, match="Metric 'auc' cannot be used with a distribution strategy"):
        loop.metric_function("auc", tf.zeros((4,)), tf.zeros((4, 2)))


# -- MirroredStrategy over two logical CPUs equals one device ----------------------------------

MIRRORED = textwrap.dedent("""
    import os, sys, tempfile
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from biocnn import distribute, training

    assert distribute.get_strategy("mirrored").num_replicas_in_sync == 2
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(27, 5, 5, 1)).astype("float32"), np.arange(27) % 3
    val = rng.normal(size=(9, 5, 5, 1)).astype("float32"), np.arange(9) % 3

    def run(strategy, epochs, folder=None):
        training.set_seed(11)
        model = keras.Sequential([keras.Input((5, 5, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                                  keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
        config = training.TrainingConfig(epochs=epochs, batch_size=8, learning_rate=0.05, strategy=strategy)
        result = training.fit(model, x, y, validation=val, config=config, checkpoint_dir=folder, verbose=0)
        return model.get_weights(), result.history

    out = {}
    for name, (strategy, epochs) in {"default": ("default", 3), "mirrored": ("mirrored", 3)}.items():
        out[name], history = run(strategy, epochs)
        history.to_csv(os.path.join(sys.argv[1], name + ".csv"), index=False)
    folder = tempfile.mkdtemp()
    run("default", 2, folder)                       # interrupted after 2 epochs on one device ...
    out["resumed"], _ = run("mirrored", 3, folder)   # ... and finished on two
    np.savez(os.path.join(sys.argv[1], "weights.npz"),
             **{f"{k}_{i}": w for k, ws in out.items() for i, w in enumerate(ws)})
""")


def test_mirrored_over_two_cpus_equals_one_device(tmp_path):
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path)], capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    weights = np.load(tmp_path / "weights.npz")
    n = len([k for k in weights if k.startswith("default_")])
    for i in range(n):
        # Same global batches; only the order of float sums differs (per replica, then all-reduced).
        np.testing.assert_allclose(weights[f"mirrored_{i}"], weights[f"default_{i}"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(weights[f"resumed_{i}"], weights[f"default_{i}"], rtol=1e-5, atol=1e-6)
    import pandas as pd

    default, mirrored = pd.read_csv(tmp_path / "default.csv"), pd.read_csv(tmp_path / "mirrored.csv")
    assert list(mirrored.columns) == list(default.columns)  # epoch, accuracy, loss, val_*, learning_rate
    pd.testing.assert_frame_equal(mirrored, default, check_exact=False, rtol=1e-5, atol=1e-6)


# -- two workers on loopback -------------------------------------------------------------------

def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start(folder, name, args, tf_config=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    env["TMPDIR"] = str(folder / f"tmp_{name}")  # where a worker's discarded writes go
    os.makedirs(env["TMPDIR"], exist_ok=True)
    log = open(folder / f"{name}.log", "w")
    return subprocess.Popen([sys.executable, WORKER, "--weights", str(folder / f"{name}.npz"), *args],
                            stdout=log, stderr=subprocess.STDOUT, env=env)


def _run_all(folder, jobs, alongside):
    """Start every job, run ``alongside()`` here meanwhile, wait for all; kill them all if one
    fails or time runs out."""
    processes = {name: _start(folder, name, *job) for name, job in jobs.items()}
    try:
        alongside()
        for name, process in processes.items():
            code = process.wait(timeout=TIMEOUT)
            assert code == 0, f"{name} exited with {code}:\n" + (folder / f"{name}.log").read_text()[-3000:]
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return {name: (folder / f"{name}.log").read_text() for name in jobs}


def _weights(folder, name):
    data = np.load(folder / f"{name}.npz")
    return [data[f"arr_{i}"] for i in range(len(data.files))]


def _listing(path):
    return sorted(os.path.relpath(os.path.join(d, f), path) for d, _, files in os.walk(path) for f in files)


def _single_process(folder, name, args):
    # The reference run: the same job with the default strategy, in this process.
    import distribute_worker

    distribute_worker.main(["--weights", str(folder / f"{name}.npz"), *args])


def test_two_workers_train_like_one_process_and_resume_from_the_chief(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    common = ["--batch-size", "8", "--lr", "0.05", "--seed", "5", "--keep-checkpoints"]
    worker = [*common, "--strategy", "multiworker", "--out", str(tmp_path / "run")]

    def tf_config(index):
        return {"cluster": cluster, "task": {"type": "worker", "index": index}}

    logs = _run_all(tmp_path, {
        "chief": ([*worker, "--epochs", "3"], tf_config(0)),
        "worker": ([*worker, "--epochs", "3"], tf_config(1)),
    }, lambda: _single_process(tmp_path, "single", [*common, "--epochs", "3", "--out", str(tmp_path / "single")]))
    chief, other, single = (_weights(tmp_path, n) for n in ("chief", "worker", "single"))
    for a, b, c in zip(chief, other, single):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-7)  # the workers hold identical weights
        # ... equal to one process on the same global batches, to float-summation order:
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)
    # The run directory is written once, by the chief: the same files as a single process's,
    # nothing left by the worker there or in its temporary folder; progress from the chief only.
    assert _listing(tmp_path / "run") == _listing(tmp_path / "single")
    assert os.listdir(tmp_path / "tmp_worker") == []
    assert "Epoch 3/3" in logs["chief"] and "Epoch" not in logs["worker"]

    # Restart both workers for 2 more epochs: the worker kept no checkpoint of its own, so both
    # resume from the chief's, and end where one uninterrupted 5-epoch process ends.
    logs = _run_all(tmp_path, {
        "chief": ([*worker, "--epochs", "5", "--resume"], tf_config(0)),
        "worker": ([*worker, "--epochs", "5", "--resume"], tf_config(1)),
    }, lambda: _single_process(tmp_path, "single", [*common, "--epochs", "5", "--out", str(tmp_path / "single5")]))
    assert "done: resumed_from=3 epochs=5" in logs["chief"] and "done: resumed_from=3 epochs=5" in logs["worker"]
    chief, other, single = (_weights(tmp_path, n) for n in ("chief", "worker", "single"))
    for a, b, c in zip(chief, other, single):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-7)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)
    assert len(open(tmp_path / "run" / "history.csv").read().splitlines()) == 1 + 5


# -- a worker that never starts (issue 18, item 7) ---------------------------------------------

def _cluster_with_a_missing_worker(monkeypatch):
    own, missing = _free_ports(2)  # nobody listens on ``missing``
    _tf_config_json = {"cluster": {"worker": [f"localhost:{own}", f"localhost:{missing}"]},
                       "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(_tf_config_json))
    return missing


def test_waiting_for_a_worker_that_never_starts_times_out_with_a_message(monkeypatch):
    from biocnn.distribute import cluster
    from biocnn.errors import UserError

    missing = _cluster_with_a_missing_worker(monkeypatch)
    monkeypatch.setenv("BIOCNN_PEER_TIMEOUT", "1")
    with pytest.raises(UserError, match=rf"--strategy multiworker: worker 1 \(localhost:{missing}\) did not answer "
                                        r"within 1 s\. Start the same command on every machine.*BIOCNN_PEER_TIMEOUT"):
        cluster.wait_for_peers(poll=0.1)
    monkeypatch.setenv("BIOCNN_PEER_TIMEOUT", "soon")
    with pytest.raises(UserError, match="BIOCNN_PEER_TIMEOUT must be a positive number of seconds, received 'soon'"):
        cluster.wait_for_peers()


def test_a_peer_that_listens_is_found(monkeypatch):
    from biocnn.distribute import cluster

    peer = socket.socket()
    peer.bind(("localhost", 0))
    peer.listen(1)
    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"worker": [f"localhost:{_free_ports(1)[0]}", f"localhost:{peer.getsockname()[1]}"]},
        "task": {"type": "worker", "index": 0}}))
    try:
        cluster.wait_for_peers(timeout=5, poll=0.1)  # returns at once
    finally:
        peer.close()


def test_the_wait_for_peers_honours_sigterm(monkeypatch, capsys):
    import signal
    import threading

    from biocnn.distribute import cluster

    _cluster_with_a_missing_worker(monkeypatch)
    # SIGTERM from another thread once the wait has begun (TensorFlow's own wait ignored it).
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli.run_main(lambda argv: cluster.wait_for_peers(timeout=60, poll=0.05, report_every=0.2))
    finally:
        timer.cancel()
    err = capsys.readouterr().err
    assert exit_info.value.code == 130 and "waiting for worker 1 (localhost:" in err and "interrupted" in err
