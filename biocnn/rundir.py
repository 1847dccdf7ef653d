"""The run directory that every biocnn pipeline writes, and atomic file writes.

A run directory holds::

    biocnn_run.json the marker: schema version, the manifest of every file the run wrote, and
                    the fingerprints of its data and settings (what --resume checks)
    config.json     every argument, the seed, and the versions of biocnn, TensorFlow, Keras ...
    history.csv     one row per epoch: losses, metrics, learning rate
    metrics.json    {"val": {...}, "test": {"accuracy", "loss", "auroc", "auprc", ...}}
    model.keras     the selected model (best validation epoch)
    training_curves.png
    checkpoints/    what resuming needs (the last epoch's weights, optimizer and state), removed
                    once the run finishes unless kept (:meth:`RunDirectory.remove_recorded`)

Every file is written to a temporary name in the same folder and then renamed, so an
interrupted run never leaves a half-written file behind; files and folders get the usual
permissions of the user's umask (colleagues on a shared server can read results). Every file
written through this module into an open :class:`RunDirectory` (by :func:`atomic_path` and the
writers built on it, wherever they are called from) is recorded in the marker's manifest.
``overwrite=True`` removes only what the manifest lists, and a folder without the marker is
never written into, replaced or deleted. ``resume=True`` continues a run and refuses when its
fingerprints differ (:meth:`RunDirectory.check_or_record_fingerprint`). A run that stopped
before it wrote anything but its ``config.json`` (it failed before its first epoch) does not
block the rerun: it is replaced, and :func:`discard_unstarted` removes it on failure.

In a multi-worker cluster (``TF_CONFIG``, see :mod:`biocnn.distribute.cluster`) only the chief
writes: on every other worker :func:`atomic_path` writes to a private temporary file and
removes it instead of renaming it, and folders are not created, so the run directory is
written once, by the chief, while every worker can still read it (to resume).
"""

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile

import numpy as np

from biocnn.distribute.cluster import is_chief
from biocnn.errors import OutputExistsError, UserError

#: The marker file that makes a folder a biocnn run: schema version, manifest, fingerprints.
MARKER = "biocnn_run.json"
#: Version of the run directory's layout (1: the layout before the marker existed).
SCHEMA_VERSION = 2
#: The run's settings: arguments, training, class names, the ``inputs`` section, versions.
CONFIG = "config.json"
#: The run's results: ``best_epoch``, ``val`` and ``test`` metrics (a CV fold: its number and sizes).
METRICS = "metrics.json"
#: Files a run writes before training starts: a run that wrote nothing else is "unstarted".
SETUP_FILES = frozenset({CONFIG})

# The open run directories of this process, by absolute path: atomic_path records into them.
_ACTIVE = {}


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


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_sha256(path):
    """The SHA-256 of a file's bytes, read in 1 MiB blocks (checkpoints, packaged weights).

    Example:
        >>> path = tempfile.mkstemp()[1]; _ = open(path, "wb").write(b"abc")
        >>> file_sha256(path)[:12]
        'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def share_permissions(path):
    """Give ``path`` the permissions of a file (``0666``) or folder (``0777``) under the umask.

    ``tempfile.mkstemp`` creates files readable by their owner only (0600); a result on a
    shared server should be readable by whoever the umask allows, as with ``open(path, "w")``.

    Example:
        >>> path = tempfile.mkstemp()[1]; share_permissions(path)
        >>> oct(os.stat(path).st_mode & 0o777) == oct(0o666 & ~_umask())
        True
    """
    mode = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, mode & ~_umask())


def fsync_folder(folder):
    """Flush a folder's entries (a rename inside it) to disk; a no-op where unsupported."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


@contextlib.contextmanager
def atomic_path(path, fsync=False):
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds.

    The temporary name keeps ``path``'s suffix, since Keras chooses the format by suffix.
    The file gets the umask's permissions (:func:`share_permissions`); with ``fsync`` it is
    flushed to disk before the rename, and the rename after it. Inside an open
    :class:`RunDirectory` the file is recorded in the run's manifest.
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
    _check_folder(folder)
    handle, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{dot}{suffix}", dir=folder)
    os.close(handle)
    try:
        yield tmp
        share_permissions(tmp)
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if fsync:
            fsync_folder(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    record(path)


def _check_folder(folder):
    # Name the problem in one line rather than letting mkstemp fail on a missing folder.
    if not os.path.isdir(folder):
        raise UserError(f"Cannot write into '{folder}': it is not a folder (missing, or a file).")


@contextlib.contextmanager
def _discarded(stem, dot, suffix):
    # A non-chief worker still writes (the same code runs everywhere), to a file nobody keeps.
    folder = tempfile.mkdtemp(prefix="biocnn_worker_")
    try:
        yield os.path.join(folder, f"{stem}{dot}{suffix}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _makedirs(path):
    # os.makedirs, with the two user mistakes named in one line.
    try:
        os.makedirs(path, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocking = path
        while blocking and not os.path.exists(blocking):
            blocking = os.path.dirname(blocking)
        raise UserError(
            f"Cannot create the folder '{path}': '{blocking}' is a file, not a folder. "
            "Choose another path (--out)."
        ) from None


def make_folder(path):
    """Create the folder ``path`` (and its parents) if missing; only the chief creates folders.

    Inside an open :class:`RunDirectory` the folders it creates are recorded in its manifest.

    Returns:
        ``path``.

    Raises:
        UserError: a part of ``path`` is a regular file.
    """
    if is_chief():
        path = os.fspath(path)
        missing = []
        here = os.path.abspath(path)
        while here and not os.path.exists(here) and here != os.path.dirname(here):
            missing.append(here)
            here = os.path.dirname(here)
        _makedirs(path)
        for folder in missing:
            record(folder)
    return path


def record(path):
    """Record ``path`` (a file or folder, written by biocnn) in the manifest of the open run
    directory that holds it; a no-op outside any open run.

    :func:`atomic_path` and :func:`make_folder` call it; call it for an output written another
    way (a folder renamed into place): ``overwrite`` then removes it with the run.
    """
    run = _owner(path)
    if run is not None:
        run._record(os.path.abspath(os.fspath(path)))


def _owner(path):
    path = os.path.abspath(os.fspath(path))
    best = None
    for root, run in _ACTIVE.items():
        if path.startswith(root + os.sep) and (best is None or len(root) > len(best.path)):
            best = run
    return best


def write_json(path, data, fsync=False):
    """Write ``data`` as indented JSON, atomically; NaN and infinities become null."""
    with atomic_path(path, fsync=fsync) as tmp, open(tmp, "w") as f:
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


def _digest(array):
    array = np.asarray(array)
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{array.shape}{array.dtype.str}".encode())
    if array.dtype.kind in "OUS":
        h.update("\x1f".join(map(str, array.ravel().tolist())).encode("utf-8", "surrogatepass"))
    else:
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def _is_array(value):
    return hasattr(value, "shape") and hasattr(value, "dtype") or (
        hasattr(value, "to_numpy") and callable(value.to_numpy))


def fingerprint(value, prefix=""):
    """A flat, JSON-able description of ``value`` that changes whenever ``value`` does.

    Arrays (NumPy, pandas, tensors) become ``"shape dtype #digest"``; a ``tf.data`` dataset its
    element spec (its content is not read: fingerprint its ids and labels); dicts, lists and tuples
    holding arrays are described part by part (``"train[0]"``), so a difference names the part
    that changed; other values are kept as they are (settings), or digested when long.

    Returns:
        dict part name -> description.

    Example:
        >>> fingerprint({"train": (np.zeros((2, 3)), [0, 1]), "seed": 3})["train[0]"]
        '(2, 3) float64 #69ceeb4a0fa210e2'
    """
    if hasattr(value, "element_spec"):  # a tf.data dataset (a streamed split): only its form is known here
        return {prefix or "value": f"dataset {value.element_spec}"}
    if _is_array(value):
        array = value.to_numpy() if hasattr(value, "to_numpy") else np.asarray(value)
        return {prefix or "value": f"{tuple(array.shape)} {array.dtype} #{_digest(array)}"}
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(fingerprint(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, (list, tuple)) and any(_is_array(v) or isinstance(v, (dict, list, tuple)) for v in value):
        if len(value) > 16:  # a long list of records: one digest
            text = json.dumps(_clean_json(value), default=str, sort_keys=True)
            return {prefix or "value": f"{len(value)} items #{_digest(np.asarray([text]))}"}
        out = {}
        for i, item in enumerate(value):
            out.update(fingerprint(item, f"{prefix}[{i}]"))
        return out
    value = _clean_json(value)
    text = json.dumps(value, default=str, sort_keys=True)
    if len(text) > 200:
        return {prefix or "value": f"{len(text)} characters #{_digest(np.asarray([text]))}"}
    return {prefix or "value": json.loads(text)}


def fingerprint_differences(saved, current):
    """The parts that differ between two :func:`fingerprint` results, as ``"part: old -> new"``.

    Example:
        >>> fingerprint_differences({"seed": 1, "n": 2}, {"seed": 2, "n": 2})
        ['seed: 1 -> 2']
    """
    return [f"{key}: {saved.get(key, '(none)')} -> {current.get(key, '(none)')}"
            for key in sorted(set(saved) | set(current), key=str)
            if saved.get(key) != current.get(key)]


# -- reading a run: every reader of config.json and metrics.json goes through these ----------------


def schema_version(path):
    """The schema version of the run directory ``path``: its marker's, or 1 for a run written
    before the marker existed (a ``config.json`` without ``biocnn_run.json``).

    Raises:
        UserError: the marker cannot be read, or the run was written by a newer biocnn (a schema
            this biocnn does not know), or ``path`` holds no run.

    Example:
        >>> run = RunDirectory(tempfile.mkdtemp() + "/r"); run.write_json(CONFIG, {})
        >>> schema_version(run.path) == SCHEMA_VERSION
        True
    """
    path = os.path.abspath(os.fspath(path))
    marker = read_marker(path)
    if marker is not None:
        return marker["biocnn_run"]
    if os.path.isfile(os.path.join(path, CONFIG)):
        return 1
    raise UserError(f"'{path}' is not a biocnn run directory (no {CONFIG}). Give a pipeline's --out folder.")


def read_marker(path):
    """The marker of the run directory ``path`` (schema version, manifest, fingerprints), or None
    when it has none.

    Raises:
        UserError: the marker cannot be read, or the run was written by a newer biocnn.
    """
    file = os.path.join(os.fspath(path), MARKER)
    if not os.path.exists(file):
        return None
    try:
        with open(file) as f:
            marker = json.load(f)
    except (OSError, ValueError) as error:
        raise UserError(f"The run marker '{file}' cannot be read ({error}); biocnn will not "
                        "touch this folder. Choose another --out.") from None
    version = marker.get("biocnn_run") if isinstance(marker, dict) else None
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise UserError(f"'{file}' is a run of a newer biocnn (schema {version!r}; this biocnn "
                        f"reads up to {SCHEMA_VERSION}). Update biocnn (pip install -U biocnn), or choose another "
                        "--out.")
    marker.setdefault("files", [])
    marker.setdefault("folders", [])
    marker.setdefault("fingerprints", {})
    return marker


def is_run(path):
    """Whether ``path`` is a run directory (it holds a ``config.json``)."""
    return os.path.isfile(os.path.join(os.fspath(path), CONFIG))


def is_finished(path):
    """Whether the run in ``path`` has finished: it wrote its ``metrics.json``."""
    return os.path.isfile(os.path.join(os.fspath(path), METRICS))


def _read_run_json(path, name, required):
    path = os.path.abspath(os.fspath(path))
    schema_version(path)
    file = os.path.join(path, name)
    if not os.path.isfile(file):
        if required:
            raise UserError(f"'{path}' has no {name}: its run has not finished. Finish it (rerun its pipeline "
                            "with --resume), then read it.")
        return None
    try:
        with open(file) as f:
            return json.load(f)
    except ValueError as error:
        raise UserError(f"'{file}' is not valid JSON ({error}); rerun the pipeline that wrote it.") from None


def read_config(path):
    """The ``config.json`` of the run directory ``path`` (or of the ``config.json`` file ``path``),
    with its schema version checked and older spellings read as the current schema (an ``input``
    section as ``inputs``).

    Returns:
        dict: the run's settings; ``config["inputs"]`` is always a dict (see :func:`inputs_of`).

    Raises:
        UserError: ``path`` is no run directory, was written by a newer biocnn, or its
            ``config.json`` is not valid JSON.

    Example:
        >>> run = RunDirectory(tempfile.mkdtemp() + "/r"); run.write_json(CONFIG, {"input": {"size": [8, 8]}})
        >>> read_config(run.path)["inputs"]
        {'size': [8, 8]}
    """
    path = os.fspath(path)
    if os.path.basename(path) == CONFIG and os.path.isfile(path):
        path = os.path.dirname(os.path.abspath(path))
    config = _read_run_json(path, CONFIG, required=True)
    if not isinstance(config, dict):
        raise UserError(f"'{os.path.join(path, CONFIG)}' holds no settings (a JSON object was expected); rerun "
                        "the pipeline that wrote it.")
    config["inputs"] = inputs_of(config)
    config.pop("input", None)
    return config


def read_metrics(path, required=True):
    """The ``metrics.json`` of the run directory ``path``, its schema version checked.

    Args:
        path: a run directory.
        required: raise when the run has no ``metrics.json`` yet (else return None).

    Raises:
        UserError: ``path`` is no run, was written by a newer biocnn, or (``required``) has not finished.

    Example:
        >>> run = RunDirectory(tempfile.mkdtemp() + "/r"); run.write_json(CONFIG, {})
        >>> read_metrics(run.path, required=False) is None
        True
    """
    return _read_run_json(path, METRICS, required)


def inputs_of(config):
    """The ``inputs`` section of a run's config (how its data were read: source, kind, size,
    channels, raw dtype ...); ``{}`` when the run recorded none.

    Example:
        >>> inputs_of({"input": {"size": [8, 8]}}), inputs_of({})
        ({'size': [8, 8]}, {})
    """
    inputs = config.get("inputs")
    if inputs is None:
        inputs = config.get("input")  # the spelling of schema 1 (the first sequence runs)
    return dict(inputs or {})


class RunDirectory:
    """A pipeline's output folder: a run that knows what it wrote, and refuses to lose files.

    Args:
        path: the folder. Created if missing (with its parents).
        overwrite: replace a previous biocnn run in ``path``: the files its manifest lists are
            removed; anything else in the folder is kept.
        resume: continue a previous run in ``path`` (its checkpoints are kept; its
            fingerprints must match, see :meth:`check_or_record_fingerprint`).

    Raises:
        OutputExistsError (a UserError and a FileExistsError): ``path`` holds a previous run and neither ``overwrite`` nor
            ``resume`` was given; ``path`` is a non-empty folder without the marker (never
            written into or deleted, whatever the flags); ``path`` is a file.
        UserError (a ValueError): ``path`` lies below a file; both ``overwrite`` and ``resume``
            were given; the run was written by a newer biocnn; ``resume`` in an empty folder.

    A run that wrote nothing but ``config.json`` (it failed before its first epoch) is replaced
    without ``overwrite``. On a worker that is not the chief of a multi-worker cluster the folder
    is neither checked nor created nor replaced (the chief does that) and ``resumed`` is
    ``resume``: the worker reads the chief's checkpoints, and what it writes is discarded.

    Example:
        >>> import tempfile
        >>> run = RunDirectory(tempfile.mkdtemp() + "/run1")
        >>> run.write_json("metrics.json", {"test": {"accuracy": 0.9}})
        >>> sorted(os.listdir(run.path)), run.manifest()
        (['biocnn_run.json', 'metrics.json'], ['metrics.json'])
    """

    def __init__(self, path, overwrite=False, resume=False):
        if overwrite and resume:
            raise UserError("Choose one of overwrite and resume, not both.")
        self.path = os.path.abspath(os.fspath(path))
        self.resumed = False
        self.created = False
        self._marker = {"biocnn_run": SCHEMA_VERSION, "files": [], "folders": [], "fingerprints": {}}
        if not is_chief():
            self.resumed = bool(resume)
            saved = self._read_marker()
            if saved is not None:
                self._marker = saved
            return
        if os.path.lexists(self.path):
            self._check_existing(overwrite, resume)
        else:
            self.created = True
        _makedirs(self.path)
        self._marker["created_folder"] = self.created
        _ACTIVE[self.path] = self

    # -- the marker ----------------------------------------------------------------------------

    def _read_marker(self):
        return read_marker(self.path)

    def _write_marker(self):
        if not is_chief():
            return
        with contextlib.suppress(UserError):  # merge what other processes recorded meanwhile
            on_disk = self._read_marker()
            if on_disk is not None:
                removed = set(self._marker.get("removed", []))  # removed by this process: not merged back
                for kind in ("files", "folders"):
                    self._marker[kind] += [r for r in on_disk[kind] if r not in self._marker[kind] and r not in removed]
                self._marker["fingerprints"] = {**on_disk["fingerprints"], **self._marker["fingerprints"]}
        handle, tmp = tempfile.mkstemp(prefix=f".{MARKER}.", suffix=".tmp", dir=self.path)
        try:
            with os.fdopen(handle, "w") as f:
                json.dump(self._marker, f, indent=1)
                f.write("\n")
            share_permissions(tmp)
            os.replace(tmp, self.file(MARKER))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            raise

    def _record(self, path):
        rel = os.path.relpath(path, self.path)
        kind = "folders" if os.path.isdir(path) and not os.path.islink(path) else "files"
        if rel == MARKER or rel in self._marker[kind]:
            return
        self._marker[kind].append(rel)
        if rel in self._marker.get("removed", []):
            self._marker["removed"].remove(rel)
        self._write_marker()

    def manifest(self):
        """The files this run wrote, relative to its folder (the marker itself left out)."""
        return list(self._marker["files"])

    @property
    def started(self):
        """Whether the run wrote more than its setup files (``config.json``): a result, a
        checkpoint. An unstarted run does not block a rerun."""
        return any(name not in SETUP_FILES for name in self._marker["files"])

    # -- opening an existing folder ------------------------------------------------------------

    def _check_existing(self, overwrite, resume):
        if not os.path.isdir(self.path):
            raise OutputExistsError(f"Output path '{self.path}' exists and is not a folder; choose another --out.")
        entries = os.listdir(self.path)
        if not entries:
            return  # an empty folder: a fresh run, also with resume (e.g. the first of several fold jobs)
        saved = self._read_marker()
        if saved is None:
            listing = ", ".join(sorted(entries)[:4]) + (", ..." if len(entries) > 4 else "")
            hint = (" It holds a config.json but no biocnn run marker: it was written by another "
                    "program or an older biocnn; delete it yourself if it is an old run."
                    if "config.json" in entries else "")
            raise OutputExistsError(
                f"Output folder '{self.path}' is not empty and does not hold a biocnn run "
                f"(no {MARKER}; it holds {listing}); biocnn will not {'resume in' if resume else 'write into'} it or delete "
                f"it.{hint} Choose another --out."
            )
        self._marker = saved
        if resume:
            # An unstarted run has nothing to resume: it starts afresh, keeping what is there
            # (another job may be writing it: fold jobs of one cross-validation share a run).
            self.resumed = self.started
            return
        if not overwrite and self.started:
            raise OutputExistsError(
                f"Output folder '{self.path}' already holds a run. Pass --overwrite to replace "
                "it, --resume to continue its training from the last checkpoint, or choose "
                "another --out."
            )
        self._restart()

    def _restart(self):
        # A folder created by the unstarted run being replaced stays "created" by this one.
        self.created = bool(self._marker.get("created_folder")) and not self.started
        self._remove_listed()

    def _remove_listed(self):
        """Remove what the manifest lists (and the marker); keep everything else."""
        for rel in self._marker["files"]:
            path = self.file(rel)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)  # a folder recorded as one output
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
        for rel in sorted(self._marker["folders"], key=lambda r: r.count(os.sep), reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(self.file(rel))  # only when empty: a user's file inside is kept
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.file(MARKER))
        self._marker = {"biocnn_run": SCHEMA_VERSION, "files": [], "folders": [], "fingerprints": {}}

    def discard(self):
        """Remove everything this run wrote, and its folder when this run created it and it is
        now empty; the run directory is closed."""
        _ACTIVE.pop(self.path, None)
        if not is_chief() or not os.path.isdir(self.path):
            return
        self._remove_listed()
        if self.created:
            with contextlib.suppress(OSError):
                os.rmdir(self.path)

    def remove_recorded(self, folder):
        """Remove the files this run recorded under ``folder`` (then the folders it recorded
        there, when empty) and drop them from the manifest; a file it did not write is kept,
        and with it its folder. Only the chief of a cluster removes anything.

        Args:
            folder: a sub-folder of the run, e.g. ``"checkpoints"`` once the run has finished.

        Returns:
            the removed files, relative to the run directory.

        Example:
            >>> run = RunDirectory(tempfile.mkdtemp() + "/r")
            >>> _ = run.folder("checkpoints"); run.write_text("checkpoints/state.json", "{}")
            >>> run.remove_recorded("checkpoints"), os.listdir(run.path)
            (['checkpoints/state.json'], ['biocnn_run.json'])
        """
        if not is_chief():
            return []
        prefix = folder.rstrip("/" + os.sep) + os.sep
        removed = [rel for rel in self._marker["files"] if rel.startswith(prefix)]
        self._marker["removed"] = sorted(set(self._marker.get("removed", [])) | set(removed))
        for rel in removed:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.file(rel))
            self._marker["files"].remove(rel)
        inside = [rel for rel in self._marker["folders"] if rel == prefix[:-1] or rel.startswith(prefix)]
        for rel in sorted(inside, key=lambda r: r.count(os.sep), reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(self.file(rel))  # only when empty: a user's file inside is kept
            if not os.path.exists(self.file(rel)):
                self._marker["folders"].remove(rel)
                self._marker["removed"].append(rel)
        self._write_marker()
        return removed

    def close(self):
        """Stop recording into this run (files written later are not in its manifest)."""
        _ACTIVE.pop(self.path, None)

    # -- fingerprints --------------------------------------------------------------------------

    def check_or_record_fingerprint(self, name, value):
        """On a resumed run, refuse when ``value`` differs from what the run recorded under
        ``name``; otherwise record it.

        Args:
            name: what the value is: ``"data"`` (ids, labels, the split assignment, the
                encoding or preprocessing), ``"settings"`` (what must not change on resume).
            value: anything :func:`fingerprint` describes: arrays, dicts and lists of them,
                settings.

        Raises:
            UserError: a resumed run recorded another ``value`` under ``name``; the message
                lists each part that changed.

        Example:
            >>> run = RunDirectory(tempfile.mkdtemp() + "/r")
            >>> run.check_or_record_fingerprint("settings", {"test_size": 0.2})
            >>> run.write_text("history.csv", "epoch\\n1\\n")
            >>> again = RunDirectory(run.path, resume=True)
            >>> again.check_or_record_fingerprint("settings", {"test_size": 0.3})
            Traceback (most recent call last):
            ...
            biocnn.errors.UserError: Cannot resume the run in ... its settings differ: test_size: 0.2 -> 0.3. ...
        """
        current = fingerprint(value)
        saved = self._marker["fingerprints"].get(name)
        if self.resumed and saved is not None:
            changed = fingerprint_differences(saved, current)
            if changed:
                raise UserError(
                    f"Cannot resume the run in '{self.path}': its {name} differ: {'; '.join(changed)}. "
                    "Resume with the same data, split and settings (only --epochs may change), or "
                    "start a new run (--overwrite, or another --out)."
                )
            return
        self._marker["fingerprints"][name] = current
        self._write_marker()

    def check_or_record_fingerprints(self, **named):
        """:meth:`check_or_record_fingerprint` for each ``name=value``, all checked before any
        is recorded."""
        for name, value in named.items():
            if self.resumed:
                self.check_or_record_fingerprint(name, value)
        for name, value in named.items():
            self.check_or_record_fingerprint(name, value)

    def fingerprints(self):
        """name -> the recorded :func:`fingerprint` of that name."""
        return dict(self._marker["fingerprints"])

    # -- writing -------------------------------------------------------------------------------

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


def open_runs():
    """The run directories open in this process (recording what is written into them)."""
    return list(_ACTIVE.values())


def discard_unstarted(keep=()):
    """Remove every open run directory of this process that has not started (it wrote nothing
    but its setup files), with its folder when the run created it: a run that failed before its
    first epoch leaves nothing behind. The command line calls it when a run fails.

    Args:
        keep: runs to leave alone (e.g. :func:`open_runs` before the failed command began).

    Returns:
        the paths of the runs removed.
    """
    removed = []
    for run in reversed(open_runs()):  # the latest first: a run inside another (a compared model) goes before it
        if run not in keep and not run.started and not run.resumed:
            run.discard()
            removed.append(run.path)
    return removed
