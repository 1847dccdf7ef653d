"""Who this process is in a multi-worker cluster, read from ``TF_CONFIG`` (no TensorFlow needed).

TensorFlow's multi-worker training describes the cluster in the ``TF_CONFIG`` environment
variable, the same JSON on every machine except for ``task``::

    {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}

The chief is the task of type ``"chief"``, or worker 0 when the cluster has no chief task (the
rule of ``tf.distribute.MultiWorkerMirroredStrategy``). Only the chief writes files: see
:func:`biocnn.rundir.atomic_path`.
"""

import json
import os

ENV = "TF_CONFIG"


def tf_config():
    """The parsed ``TF_CONFIG`` (an empty dict when it is unset or empty).

    Raises:
        ValueError: ``TF_CONFIG`` is not a JSON object.

    Example:
        >>> os.environ.pop("TF_CONFIG", None) and None
        >>> tf_config()
        {}
    """
    text = os.environ.get(ENV, "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{ENV} is not valid JSON ({error}); received {text[:200]!r}.") from None
    if not isinstance(value, dict):
        raise ValueError(f"{ENV} must be a JSON object with 'cluster' and 'task', received {text[:200]!r}.")
    return value


def num_tasks():
    """How many tasks ``TF_CONFIG``'s cluster lists (1 without ``TF_CONFIG``)."""
    cluster = tf_config().get("cluster", {})
    return max(1, sum(len(addresses) for addresses in cluster.values()))


def is_chief():
    """Whether this process is the chief of its cluster (True outside a cluster).

    Example:
        >>> os.environ["TF_CONFIG"] = '{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}'
        >>> is_chief()
        False
        >>> del os.environ["TF_CONFIG"]; is_chief()
        True
    """
    config = tf_config()
    task = config.get("task") or {}
    if not task:
        return True
    kind, index = task.get("type"), int(task.get("index", 0))
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in config.get("cluster", {})
