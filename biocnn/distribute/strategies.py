"""The distribution strategies biocnn trains with, by name: TensorFlow's own engine.

* ``"default"``: one device, Keras's ``fit``.
* ``"mirrored"``: ``tf.distribute.MirroredStrategy`` over every GPU of this machine (or, without
  GPUs, over the logical CPU devices when several are configured), synchronous data parallelism.
* ``"multiworker"``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the machines listed in
  ``TF_CONFIG`` (see :mod:`biocnn.distribute.cluster`), synchronous data parallelism.

A strategy is created once per process and reused. TensorFlow accepts a multi-worker strategy
only before it runs its first operation, so create it at program start (the pipelines do so
in ``biocnn.cli.training_config``).
"""

import contextlib
import functools

import tensorflow as tf

from biocnn.distribute import cluster
from biocnn.utils import did_you_mean

STRATEGIES = ("default", "mirrored", "multiworker")


def check_name(name):
    """Raise a ValueError naming the options when ``name`` is not a strategy name."""
    if name not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {name!r}.{did_you_mean(name, STRATEGIES)} "
            f"Choose one of: {', '.join(STRATEGIES)}."
        )


def check_cluster(name):
    """Refuse a single-process strategy when ``TF_CONFIG`` describes a cluster of several tasks.

    Otherwise every task would train alone and all of them would write the same run directory.
    """
    tasks = cluster.num_tasks()
    if tasks > 1 and name != "multiworker":
        raise ValueError(
            f"TF_CONFIG describes a cluster of {tasks} tasks but the strategy is {name!r}: pass "
            "--strategy multiworker (strategy='multiworker') to train on the cluster, or unset "
            "TF_CONFIG to train in this process alone."
        )


def _mirrored():
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy()
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    # NCCL, MirroredStrategy's default all-reduce, needs GPUs; CPUs reduce on one device.
    return tf.distribute.MirroredStrategy(cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())


def _multiworker():
    cluster.wait_for_peers()  # TensorFlow would wait forever, deaf to Ctrl-C and SIGTERM
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:
        if "program startup" not in str(error):
            raise
        raise RuntimeError(
            "--strategy multiworker: TensorFlow accepts MultiWorkerMirroredStrategy only before its "
            "first operation. Set TF_CONFIG before `import biocnn` (biocnn then skips its start-up "
            "warm-up) and call biocnn.distribute.get_strategy('multiworker') before building any model."
        ) from error


@functools.lru_cache(maxsize=None)
def _create(name):
    if name == "mirrored":
        return _mirrored()
    if name == "multiworker":
        return _multiworker()
    return tf.distribute.get_strategy()


def get_strategy(name="default"):
    """The ``tf.distribute.Strategy`` named ``name``, created on the first call and then reused.

    Args:
        name: one of :data:`STRATEGIES`.

    Returns:
        A ``tf.distribute.Strategy``; ``"default"`` gives TensorFlow's default (no distribution).

    Raises:
        ValueError: an unknown name, or a single-process strategy inside a ``TF_CONFIG`` cluster.
        RuntimeError: TensorFlow refused the multi-worker strategy.

    Example:
        >>> get_strategy("default").num_replicas_in_sync
        1
    """
    check_name(name)
    check_cluster(name)
    return _create(name)


def is_default(strategy):
    """Whether ``strategy`` is None or TensorFlow's default strategy (no distribution)."""
    return strategy is None or (not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy())


def scope(strategy):
    """``strategy.scope()``, or a no-op context for the default strategy."""
    return contextlib.nullcontext() if is_default(strategy) else strategy.scope()


def is_chief(strategy):
    """Whether this process writes files: the cluster's chief (always True outside a cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return bool(strategy.extended.should_checkpoint)
