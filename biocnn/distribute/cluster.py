"""Who this process is in a multi-worker cluster, read from ``TF_CONFIG`` (no TensorFlow needed).

TensorFlow's multi-worker training describes the cluster in the ``TF_CONFIG`` environment
variable, the same JSON on every machine except for ``task``::

    {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}

The chief is the task of type ``"chief"``, or worker 0 when the cluster has no chief task (the
rule of ``tf.distribute.MultiWorkerMirroredStrategy``). Only the chief writes files: see
:func:`biocnn.rundir.atomic_path`.
"""

import contextlib
import json
import os
import socket
import sys
import time

from biocnn.errors import UserError

ENV = "TF_CONFIG"
#: Environment variable: seconds a multi-worker task waits for the other tasks to start.
TIMEOUT_ENV = "BIOCNN_PEER_TIMEOUT"
#: The wait when :data:`TIMEOUT_ENV` is unset: long enough for a cluster's jobs to be scheduled.
DEFAULT_TIMEOUT = 300.0


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


def peer_timeout():
    """Seconds to wait for the other tasks: ``BIOCNN_PEER_TIMEOUT``, else :data:`DEFAULT_TIMEOUT`.

    Raises:
        UserError: the variable is not a positive number.
    """
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UserError(f"{TIMEOUT_ENV} must be a positive number of seconds, received {text!r}.")
    return value


def _address(address):
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "localhost", int(port)


def _reachable(address, timeout=1.0):
    with contextlib.suppress(OSError):
        with socket.create_connection(_address(address), timeout=timeout):
            return True
    return False


@contextlib.contextmanager
def _listening(address):
    # Answer the other tasks' probes on this task's own port until TensorFlow's server takes it.
    listener = None
    with contextlib.suppress(OSError):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("", _address(address)[1]))
        listener.listen(64)
    try:
        yield
    finally:
        if listener is not None:
            listener.close()


def wait_for_peers(timeout=None, poll=0.5, report_every=10.0, out=None):
    """Wait until every other task of ``TF_CONFIG``'s cluster accepts a connection.

    TensorFlow's ``MultiWorkerMirroredStrategy`` waits for missing workers forever, inside C++
    code that ignores Ctrl-C and SIGTERM. This wait comes first, in Python: it says whom it is
    waiting for every ``report_every`` seconds, is interrupted by Ctrl-C and SIGTERM, and gives
    up after ``timeout`` seconds with a message naming the tasks that never answered.

    Args:
        timeout: seconds; default :func:`peer_timeout` (``BIOCNN_PEER_TIMEOUT``, 300).
        poll: seconds between connection attempts.
        report_every: seconds between progress lines.
        out: where progress lines go (default ``sys.stderr``).

    Raises:
        UserError: a task did not answer within ``timeout``.

    Example:
        >>> os.environ.pop("TF_CONFIG", None) and None
        >>> wait_for_peers()  # no cluster: nothing to wait for
    """
    config = tf_config()
    task = config.get("task") or {}
    cluster = config.get("cluster") or {}
    if not task or num_tasks() < 2:
        return
    own = (task.get("type"), int(task.get("index", 0)))
    peers = {f"{kind} {i}": address for kind, addresses in cluster.items()
             for i, address in enumerate(addresses) if (kind, i) != own}
    own_address = cluster.get(own[0], [None] * (own[1] + 1))[own[1]]
    timeout = peer_timeout() if timeout is None else timeout
    started = time.monotonic()
    next_report = started + min(report_every, timeout)
    with _listening(own_address) if own_address else contextlib.nullcontext():
        while True:
            peers = {name: address for name, address in peers.items() if not _reachable(address)}
            if not peers:
                return
            now = time.monotonic()
            waiting = ", ".join(f"{name} ({address})" for name, address in peers.items())
            if now - started >= timeout:
                raise UserError(
                    f"--strategy multiworker: {waiting} did not answer within {timeout:g} s. Start the same "
                    f"command on every machine of TF_CONFIG, check its addresses and the firewall, or wait "
                    f"longer ({TIMEOUT_ENV}=seconds)."
                )
            if now >= next_report:
                print(f"waiting for {waiting} ({now - started:.0f} of {timeout:g} s)", file=out or sys.stderr,
                      flush=True)
                next_report = now + report_every
            time.sleep(poll)
