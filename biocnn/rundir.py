"""The run directory that every biocnn pipeline writes, and atomic file writes.

A run directory holds::

    config.json     every argument, the seed, and the versions of biocnn, TensorFlow, Keras ...
    history.csv     one row per epoch: losses, metrics, learning rate
    metrics.json    {"val": {...}, "test": {"accuracy", "loss", "auroc", "auprc", ...}}
    model.keras     the selected model (best validation epoch)
    training_curves.png
    checkpoints/    what resuming needs (last epoch's weights and optimizer state)

Every file is written to a temporary name in the same folder and then renamed, so an
interrupted run never leaves a half-written file behind. An existing run is never replaced
unless ``overwrite=True``; ``resume=True`` continues it.

In a multi-worker cluster (``TF_CONFIG``, see :mod:`biocnn.distribute.cluster`) only the chief
writes: on every other worker :func:`atomic_path` writes to a private temporary file and
removes it instead of renaming it, and folders are not created, so the run directory is
written once, by the chief, while every worker can still read it (to resume).
"""

import contextlib
import json
import math
import os
import shutil
import tempfile

from biocnn.distribute.cluster import is_chief

MARKER = "config.json"


def _clean_json(value):
    # JSON has no NaN or infinity: write them as null rather than as invalid JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return _clean_json(value.item())  # NumPy scalars
    return value


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds.

    The temporary name keeps ``path``'s suffix, since Keras chooses the format by suffix.
    On a worker that is not the chief of a multi-worker cluster the file is written to a
    private temporary folder and removed afterwards: only the chief writes outputs.

    Example:
        >>> with atomic_path("/tmp/biocnn_demo.txt") as tmp:
        ...     _ = open(tmp, "w").write("done")
        >>> open("/tmp/biocnn_demo.txt").read()
        'done'
    """
    path = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    stem, dot, suffix = base.partition(".")
    if not is_chief():
        with _discarded(stem, dot, suffix) as tmp:
            yield tmp
        return
    handle, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{dot}{suffix}", dir=folder)
    os.close(handle)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def _discarded(stem, dot, suffix):
    # A non-chief worker still writes (the same code runs everywhere), to a file nobody keeps.
    folder = tempfile.mkdtemp(prefix="biocnn_worker_")
    try:
        yield os.path.join(folder, f"{stem}{dot}{suffix}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def make_folder(path):
    """Create the folder ``path`` (and its parents) if missing; only the chief creates folders.

    Returns:
        ``path``.
    """
    if is_chief():
        os.makedirs(path, exist_ok=True)
    return path


def write_json(path, data):
    """Write ``data`` as indented JSON, atomically; NaN and infinities become null."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(_clean_json(data), f, indent=2, sort_keys=False)
        f.write("\n")


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)


def save_model(model, path):
    """Save a Keras model (``.keras``) atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp)


class RunDirectory:
    """A pipeline's output folder: refuses to replace a previous run by accident.

    Args:
        path: the folder. Created if missing.
        overwrite: replace a previous biocnn run in ``path``.
        resume: continue a previous run in ``path`` (its checkpoints are kept).

    Raises:
        FileExistsError: ``path`` holds a previous run and neither ``overwrite`` nor
            ``resume`` was given; or ``path`` is a non-empty folder that is not a biocnn run
            (never deleted, whatever the flags).
        ValueError: both ``overwrite`` and ``resume`` were given.

    On a worker that is not the chief of a multi-worker cluster the folder is neither checked
    nor created nor replaced (the chief does that) and ``resumed`` is ``resume``: the worker
    reads the chief's checkpoints, and what it writes is discarded (see :func:`atomic_path`).

    Example:
        >>> import tempfile
        >>> run = RunDirectory(tempfile.mkdtemp() + "/run1")
        >>> run.write_json("metrics.json", {"test": {"accuracy": 0.9}})
        >>> sorted(os.listdir(run.path))
        ['metrics.json']
    """

    def __init__(self, path, overwrite=False, resume=False):
        if overwrite and resume:
            raise ValueError("Choose one of overwrite and resume, not both.")
        self.path = os.path.abspath(os.fspath(path))
        self.resumed = False
        if not is_chief():
            self.resumed = bool(resume)
            return
        if os.path.exists(self.path):
            self._check_existing(overwrite, resume)
        os.makedirs(self.path, exist_ok=True)

    def _check_existing(self, overwrite, resume):
        if not os.path.isdir(self.path):
            raise FileExistsError(f"Output path '{self.path}' exists and is not a folder.")
        entries = os.listdir(self.path)
        if not entries:
            return
        if MARKER not in entries:
            raise FileExistsError(
                f"Output folder '{self.path}' is not empty and does not hold a biocnn run "
                f"(no {MARKER}); biocnn will not write into it or delete it. Choose another --out."
            )
        if resume:
            self.resumed = True
            return
        if not overwrite:
            raise FileExistsError(
                f"Output folder '{self.path}' already holds a run. Pass --overwrite to replace "
                "it, --resume to continue its training from the last checkpoint, or choose "
                "another --out."
            )
        shutil.rmtree(self.path)

    def file(self, name):
        """The absolute path of ``name`` inside the run directory."""
        return os.path.join(self.path, name)

    def folder(self, name):
        """A sub-folder of the run directory, created if missing."""
        return make_folder(self.file(name))

    def write_json(self, name, data):
        write_json(self.file(name), data)

    def write_text(self, name, text):
        write_text(self.file(name), text)

    def save_model(self, model, name="model.keras"):
        save_model(model, self.file(name))
