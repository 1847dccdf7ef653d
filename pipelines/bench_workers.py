"""The side-by-side benchmarks' worker protocol: one long-lived subprocess per framework.

The parent (``bench_training.py``, ``bench_predict.py``) starts a :class:`Worker` per framework
and alternates timed chunks between them (A B A B) by writing ``go`` to each worker's stdin; a
worker answers every request with one JSON line behind :data:`PROTOCOL` on its stdout
(:func:`send`), so library output on stdout cannot be mistaken for a result.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile

PROTOCOL = "@@bench "


def send(message):
    """Worker side: one JSON message to the parent."""
    sys.__stdout__.write(PROTOCOL + json.dumps(message) + "\n")
    sys.__stdout__.flush()


def wait_for_go():
    """Worker side: block until the parent starts the next timed chunk."""
    line = sys.stdin.readline()
    if line.strip() != "go":
        raise SystemExit(f"worker: expected 'go' on stdin, got {line!r}")


def cpu_seconds():
    """CPU seconds (user + system, every thread) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _status_mb(field):
    """A ``/proc/self/status`` memory field (``VmHWM``, ``VmRSS``, ...) in MB, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def max_rss_mb():
    """Peak resident memory of this process in MB.

    ``/proc/self/status`` VmHWM is this program's own high-water mark; ``ru_maxrss`` would not
    do in a worker, as Linux carries it over from the parent across fork and exec (every worker
    would report at least the parent's RSS).
    """
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb():
    """Resident memory of this process now, in MB (``VmRSS``; None where /proc is missing).

    Read right after a framework's imports it is the framework's own footprint (its shared
    libraries' pages and its start-up allocations), which every program using it pays.
    """
    return _status_mb("VmRSS")


class Worker:
    """Parent side: a framework's subprocess running ``script --worker REQUEST``."""

    def __init__(self, script, request, env):
        self.name = request["framework"]
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(script), "--worker", json.dumps(request)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env,
        )

    def receive(self):
        """The worker's next message; its stderr tail if it ended instead."""
        for line in self.process.stdout:
            if line.startswith(PROTOCOL):
                return json.loads(line[len(PROTOCOL):])
        self.process.wait()
        self.log.seek(0)
        raise RuntimeError(f"the {self.name} worker ended (exit code {self.process.returncode}):\n{self.log.read()[-3000:]}")

    def chunk(self):
        """Wall seconds and CPU seconds (all the worker's threads) of one timed chunk."""
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        message = self.receive()
        return message["seconds"], message.get("cpu_seconds")

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.log.close()
