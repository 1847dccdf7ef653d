"""Predict inputs of any size with an export: batched, overlapped with reading, bounded memory.

:func:`stream_predict` takes an iterable of samples (from :mod:`biocnn.data.streams`,
:class:`biocnn.data.genome.GenomeWindows` or a folder of images/volumes), groups them into
batches in a reader thread that stays at most ``prefetch`` batches ahead of the model, calls
the export's ``serving_default`` signature on each batch while the next one is read, and hands
each batch's probabilities to writers that append to temporary files. Memory is a few batches,
whatever the number of samples.

Writers are atomic: each writes to a hidden temporary file next to its target and renames it
into place only when the whole input has been predicted; an error or a killed run leaves no
file under the final name (and no previous file is replaced unless asked).

* :class:`CsvWriter`: one row per sample (``id`` or ``chrom,start,end`` ..., then
  ``probability_<class>``), formatted as :func:`biocnn.export.write_predictions` does;
* :class:`BedGraphWriter`: a genome scan as bedGraph, one track per chosen class. Each window's
  probability is given to the ``min(stride, window)`` bases at its centre, so the intervals of
  a track tile the genome without overlapping (as ``bedGraphToBigWig`` requires);
* :class:`Progress`: samples done, rate and ETA on stderr; one line every ``every`` seconds
  when stderr is not a terminal (logs stay short), a refreshed line when it is.
"""

import os
import queue
import sys
import tempfile
import threading
import time

import numpy as np
import pandas as pd
import tensorflow as tf

__all__ = ["BedGraphWriter", "CsvWriter", "Progress", "batches", "stream_predict"]

_END = object()


# --- batches read ahead in a thread ------------------------------------------------------------


def batches(samples, batch_size):
    """Group an iterable of ``(key, input, name)`` into lists ``(keys, inputs, names)``.

    Example:
        >>> [len(b[0]) for b in batches(((i, "A", str(i)) for i in range(5)), 2)]
        [2, 2, 1]
    """
    keys, inputs, names = [], [], []
    for key, x, name in samples:
        keys.append(key)
        inputs.append(x)
        names.append(name)
        if len(keys) == batch_size:
            yield keys, inputs, names
            keys, inputs, names = [], [], []
    if keys:
        yield keys, inputs, names


class _ReadAhead:
    """Iterate ``source`` in a daemon thread, at most ``depth`` items ahead; errors re-raised here."""

    def __init__(self, source, depth):
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, args=(source,), daemon=True)
        self._thread.start()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _fill(self, source):
        try:
            for item in source:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as error:  # handed to the consumer, which raises it with its traceback
            self._put(error)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)


# --- progress ----------------------------------------------------------------------------------


def _clock(seconds):
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Samples done, rate and ETA, printed to ``stream`` (stderr by default).

    Args:
        unit: what is counted (``"windows"``, ``"sequences"``, ``"images"`` ...).
        total: the number of samples, when known (ETA from it).
        fraction: otherwise a callable giving the fraction of the input read (ETA from it).
        every: seconds between lines when ``stream`` is not a terminal (a terminal gets a
            refreshed line every second).
        stream: where to print.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> progress = Progress("windows", total=10, every=0, stream=out)
        >>> progress.update(5); progress.close(10)
        >>> print(out.getvalue().splitlines()[-1].split(",")[0])
        predicted 10 windows in 0:00:00
    """

    def __init__(self, unit, total=None, fraction=None, every=10.0, stream=None):
        self.unit, self.total, self.fraction = unit, total, fraction
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = 1.0 if self.terminal else float(every)
        self.start = time.perf_counter()
        self._last = self.start

    def _share(self, done):
        if self.total:
            return min(1.0, done / self.total)
        if self.fraction is not None:
            return self.fraction()
        return None

    def update(self, done):
        """Print a line if ``every`` seconds have passed since the last one."""
        now = time.perf_counter()
        if now - self._last < self.every:
            return
        self._last = now
        elapsed = now - self.start
        share = self._share(done)
        text = f"predict: {done:,} {self.unit}, {done / max(elapsed, 1e-9):,.0f}/s"
        if share:
            text += f", {100 * share:.1f}% of the input, ETA {_clock(elapsed * (1 - share) / share)}"
        if self.terminal:
            print("\r" + text + " " * 8, end="", file=self.stream, flush=True)
        else:
            print(text, file=self.stream, flush=True)

    def close(self, done):
        """The final line: samples, time and rate."""
        elapsed = time.perf_counter() - self.start
        end = "\n" if self.terminal else ""
        print(f"{end}predicted {done:,} {self.unit} in {_clock(elapsed)}, {done / max(elapsed, 1e-9):,.0f}/s",
              file=self.stream, flush=True)


# --- atomic writers -----------------------------------------------------------------------------


def _temporary(path):
    path = os.path.abspath(os.fspath(path))
    folder, base = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    os.close(handle)
    return path, tmp


def _publish(tmp, path):
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; predictions are meant to be shared
    os.replace(tmp, path)


class CsvWriter:
    """Predictions as CSV rows appended batch by batch; renamed into place by :meth:`commit`.

    Args:
        path: the CSV to write.
        key_columns: the names of the columns of each sample's key (``["id"]``, or
            ``["chrom", "start", "end"]``).
        class_names: the export's classes (``probability_<class>`` columns).
        predicted: add a ``predicted`` column (the class of highest probability).

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/p.csv"
        >>> writer = CsvWriter(path, ["id"], ["a", "b"])
        >>> writer.write([("r1",)], np.array([[0.25, 0.75]], np.float32)); writer.commit()
        >>> print(open(path).read().strip())
        id,predicted,probability_a,probability_b
        r1,b,0.25,0.75
    """

    def __init__(self, path, key_columns, class_names, predicted=True):
        self.path, self._tmp = _temporary(path)
        self.key_columns, self.class_names, self.predicted = list(key_columns), list(class_names), predicted
        self._handle = open(self._tmp, "w", newline="")
        self._header = True
        self.rows = 0

    def write(self, keys, probabilities):
        table = pd.DataFrame(list(keys), columns=self.key_columns)
        if self.predicted:
            table["predicted"] = np.asarray(self.class_names, dtype=object)[probabilities.argmax(axis=1)]
        for c, name in enumerate(self.class_names):
            table[f"probability_{name}"] = probabilities[:, c]
        table.to_csv(self._handle, header=self._header, index=False)
        self._handle.flush()  # on disk batch by batch: a long run's rows survive in the temporary file
        self._header = False
        self.rows += len(table)

    def commit(self):
        if self._header:  # no rows: still a valid CSV with its header
            self.write([], np.zeros((0, len(self.class_names)), np.float32))
        self._handle.close()
        _publish(self._tmp, self.path)

    def abort(self):
        self._handle.close()
        if os.path.exists(self._tmp):
            os.remove(self._tmp)


class BedGraphWriter:
    """A genome scan as bedGraph: one track per class in ``classes``, in one file.

    Each window ``[start, end)`` scores the ``min(stride, end - start)`` bases at its centre,
    clipped so a track's intervals never overlap. Tracks are written to one temporary file
    each and joined at :meth:`commit`.

    Args:
        path: the bedGraph file.
        class_names: the export's classes.
        classes: the classes to write, one track each.
        stride: the scan's stride.
        name: the track name prefix (e.g. the export's folder name).

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/scan.bedgraph"
        >>> writer = BedGraphWriter(path, ["neg", "pos"], ["pos"], stride=2, name="m")
        >>> writer.write([("chr1", 0, 4), ("chr1", 2, 6)], np.array([[0.9, 0.1], [0.4, 0.6]], np.float32))
        >>> writer.commit()
        >>> print(open(path).read().strip())
        track type=bedGraph name="m pos" description="P(pos), each window's score on the 2 bases at its centre"
        chr1	1	3	0.1
        chr1	3	5	0.6
    """

    def __init__(self, path, class_names, classes, stride, name="biocnn"):
        self.path, self._tmp = _temporary(path)
        self.class_names = list(class_names)
        unknown = [c for c in classes if c not in self.class_names]
        if unknown or not classes:
            raise ValueError(f"bedGraph classes {list(classes)}: choose among the export's classes {self.class_names}.")
        self.columns = [self.class_names.index(c) for c in classes]
        self.stride = int(stride)
        self._parts = [_temporary(path)[1] for _ in self.columns]
        self._handles = [open(p, "w") for p in self._parts]
        for handle, c in zip(self._handles, classes):
            handle.write(f'track type=bedGraph name="{name} {c}" description="P({c}), each window\'s score on the '
                         f'{self.stride} bases at its centre"\n')
        self._chrom, self._end = None, 0

    def write(self, keys, probabilities):
        lines = [[] for _ in self.columns]
        for (chrom, start, end), row in zip(keys, probabilities):
            size = min(self.stride, end - start)
            left = start + (end - start - size) // 2
            if chrom != self._chrom:
                self._chrom, self._end = chrom, 0
            left = max(left, self._end)
            right = max(left, start + (end - start - size) // 2 + size)
            if right <= left:
                continue
            self._end = right
            for out, c in zip(lines, self.columns):
                out.append(f"{chrom}\t{left}\t{right}\t{float(row[c]):.6g}\n")
        for handle, out in zip(self._handles, lines):
            handle.writelines(out)
            handle.flush()

    def commit(self):
        for handle in self._handles:
            handle.close()
        with open(self._tmp, "w") as out:
            for part in self._parts:
                with open(part) as f:
                    while block := f.read(1 << 20):
                        out.write(block)
        self._remove_parts()
        _publish(self._tmp, self.path)

    def _remove_parts(self):
        for part in self._parts:
            if os.path.exists(part):
                os.remove(part)

    def abort(self):
        for handle in self._handles:
            handle.close()
        self._remove_parts()
        if os.path.exists(self._tmp):
            os.remove(self._tmp)


# --- the loop -----------------------------------------------------------------------------------


def _signature_call(exported, inputs, names, check):
    if check:
        inputs = exported.check(inputs, names)
    if exported.modality == "sequence":
        tensor = tf.constant(inputs, tf.string)
    else:
        tensor = tf.constant(np.asarray(inputs, np.float32) if not check else inputs)
    # The readers have done the reader steps: images and volumes go to the ``prepared`` signature
    # (float32 at the model's input shape), sequences to ``serving_default`` (raw strings).
    prepared = exported.modality != "sequence" and "prepared" in exported.signatures
    function = exported.saved_model.signatures["prepared" if prepared else "serving_default"]
    return function(**{exported.input_name: tensor})["probabilities"].numpy()


def stream_predict(exported, samples, writers, *, batch_size=256, prefetch=4, progress=None, check=True):
    """Predict every sample of an iterable with an export, writing each batch as it comes.

    Args:
        exported: an :class:`biocnn.export.ExportedModel`.
        samples: an iterable of ``(key, input, name)``: ``key`` a tuple written as the row's
            first columns, ``input`` a sequence string or a sample array ``(*spatial, C)``,
            ``name`` what an error message calls the sample.
        writers: objects with ``write(keys, probabilities)``, ``commit()`` and ``abort()``
            (:class:`CsvWriter`, :class:`BedGraphWriter`); all are committed at the end, or
            all aborted on any error.
        batch_size: samples per SavedModel call.
        prefetch: batches the reader thread may prepare ahead of the model (memory bound:
            about ``prefetch + 2`` batches).
        progress: an optional :class:`Progress`.
        check: check each batch with :meth:`ExportedModel.check` (letters, shapes, finite
            values); pass False only when the reader has checked them.

    Returns:
        int: the number of samples predicted.

    Raises:
        ValueError: a sample the export refuses (named), or no samples at all.

    Example:
        >>> table = stream_predict(model, [(("r1",), "ACGT", "r1")], [writer])  # doctest: +SKIP
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"stream_predict: batch_size must be a positive integer, got {batch_size!r}.")
    reader = _ReadAhead(batches(samples, batch_size), depth=max(1, int(prefetch)))
    done = 0
    try:
        for keys, inputs, names in reader:
            probabilities = _signature_call(exported, inputs, names, check)
            for writer in writers:
                writer.write(keys, probabilities)
            done += len(keys)
            if progress is not None:
                progress.update(done)
        if not done:
            raise ValueError("No inputs to predict on.")
    except BaseException:
        reader.close()
        for writer in writers:
            writer.abort()
        raise
    reader.close()
    for writer in writers:
        writer.commit()
    if progress is not None:
        progress.close(done)
    return done
