"""Every window of a reference genome, streamed in bounded memory.

:class:`GenomeWindows` reads a FASTA reference (plain or gzip-compressed, by content) line by
line and yields ``(chrom, start, end, sequence)`` for windows of ``window`` bases every
``stride`` bases, 0-based and end-exclusive as in BED. It never holds more than about one
chunk of sequence (``chunk_size`` letters plus one window), whatever the size of a chromosome
or of the genome, so a 3 Gbp genome scans in the memory of a 3 Mbp one.

Window policy, the same on every chromosome or region ``[a, b)``:

* windows start at ``a, a + stride, a + 2 * stride, ...`` and are full (``window`` bases);
* the last partial window (``last=``): ``"drop"`` (default) leaves a tail shorter than a
  window unscanned; ``"shift"`` adds one full window ending exactly at ``b`` when the tail is
  not covered yet; ``"pad"`` adds one shorter window ``[next start, b)`` (the model pads it
  as its encoding says, so it needs an encoding with a length);
* a region shorter than ``window`` gives no window under ``"drop"`` and ``"shift"``, one
  short window under ``"pad"``;
* letters are passed as they are: soft-masked lowercase and ``N`` are encoded as the model's
  encoding says (``N`` uniform or zeros); ``max_n`` skips windows with a larger fraction of
  ``N``;
* ``regions`` (a BED file) restricts the scan: overlapping or touching intervals of one
  chromosome are merged first, so no window is scanned twice.

Letters outside the alphabet fail with the chromosome and 1-based position.
"""

import os

from biocnn.data.streams import bed_lines, open_text

__all__ = ["LAST_WINDOW_POLICIES", "GenomeWindows", "count_windows", "read_regions"]

LAST_WINDOW_POLICIES = ("drop", "shift", "pad")
_VALID = {
    "dna": "ACGTRYSWKMBDHVN",
    "rna": "ACGURYSWKMBDHVN",
}


def read_regions(path):
    """The intervals of a BED file, per chromosome, sorted and merged.

    Args:
        path: a BED file (chrom, start, end; further columns ignored; ``#``, ``track`` and
            ``browser`` lines skipped; gzip or not).

    Returns:
        dict chrom -> list of ``(start, end)`` in increasing order, non-overlapping.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line with fewer than 3 columns, non-integer or reversed coordinates, or
            no intervals (naming the file and line).

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/r.bed"
        >>> _ = open(path, "w").write("chr1\\t50\\t90\\nchr1\\t0\\t60\\nchr2\\t5\\t9\\n")
        >>> read_regions(path)
        {'chr1': [(0, 90)], 'chr2': [(5, 9)]}
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such regions BED file: '{path}'.")
    found = {}
    for chrom, start, end, _, _, _ in bed_lines(path):
        found.setdefault(chrom, []).append((start, end))
    if not found:
        raise ValueError(f"{path}: no intervals found in the regions BED file.")
    merged = {}
    for chrom, intervals in found.items():
        out = []
        for start, end in sorted(intervals):
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
        merged[chrom] = out
    return merged


def _window_starts(a, b, window, stride, last):
    """Hand reference for one interval: the (start, end) of its windows (see the module doc)."""
    out = [(s, s + window) for s in range(a, b - window + 1, stride)]
    next_start = a + len(out) * stride
    covered = out[-1][1] if out else a
    if last == "shift" and b - a >= window and covered < b:
        out.append((b - window, b))
    elif last == "pad" and next_start < b and covered < b:
        out.append((next_start, b))
    return out


def count_windows(lengths, window, stride, regions=None, last="drop"):
    """How many windows a scan gives, from chromosome lengths (for progress and planning).

    Args:
        lengths: dict chrom -> length.
        window, stride, regions, last: as :class:`GenomeWindows` (``regions`` as
            :func:`read_regions` returns).

    Returns:
        int.

    Example:
        >>> count_windows({"chr1": 1000}, 200, 50)
        17
    """
    total = 0
    for chrom, length in lengths.items():
        intervals = [(0, length)] if regions is None else [(a, min(b, length)) for a, b in regions.get(chrom, ())]
        for a, b in intervals:
            n = max(0, (b - a - window) // stride + 1)
            covered = a + (n - 1) * stride + window if n else a
            extra = (last == "shift" and b - a >= window and covered < b) or (
                last == "pad" and a + n * stride < b and covered < b)
            total += n + int(bool(extra))
    return total


class GenomeWindows:
    """Iterate over the windows of a reference FASTA in bounded memory.

    Args:
        reference: the genome FASTA (plain or gzip-compressed).
        window: window length in bases (positive).
        stride: bases between window starts (positive).
        regions: optional BED file (or the dict of :func:`read_regions`) restricting the scan.
        last: ``"drop"``, ``"shift"`` or ``"pad"``: the last partial window (module doc).
        alphabet: ``"dna"`` or ``"rna"``: the letters accepted.
        max_n: skip windows whose fraction of ``N``/``n`` exceeds this (None: keep all).
        chunk_size: letters read before windows are cut (memory ~ this + one window).

    Attributes (filled while iterating):
        windows: windows yielded so far.
        skipped_n: windows skipped by ``max_n``.
        short_regions: regions (or chromosomes) shorter than a window that gave no window.
        chromosomes: dict chrom -> length of the chromosomes read so far.
        max_buffered: the most letters held at once (at most ``chunk_size`` + two windows + a line).

    Raises:
        FileNotFoundError: no reference.
        ValueError: bad arguments; (while iterating) a letter outside the alphabet (naming the
            chromosome and 1-based position), a region on a chromosome the reference lacks or
            past its end, or no sequence in the file.

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/g.fa"
        >>> _ = open(path, "w").write(">chr1 test\\nACGTAC\\nGTNN\\n")
        >>> [w[:3] for w in GenomeWindows(path, window=4, stride=3)]
        [('chr1', 0, 4), ('chr1', 3, 7), ('chr1', 6, 10)]
    """

    def __init__(self, reference, window, stride, *, regions=None, last="drop", alphabet="dna", max_n=None,
                 chunk_size=1 << 20):
        self.reference = os.fspath(reference)
        if not os.path.isfile(self.reference):
            raise FileNotFoundError(f"No such reference FASTA: '{self.reference}'.")
        for name, value in (("window", window), ("stride", stride), ("chunk_size", chunk_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GenomeWindows: {name} must be a positive integer, got {value!r}.")
        if last not in LAST_WINDOW_POLICIES:
            raise ValueError(f"GenomeWindows: last must be one of {LAST_WINDOW_POLICIES}, got {last!r}.")
        if alphabet not in _VALID:
            raise ValueError(f"GenomeWindows: a genome scan needs a 'dna' or 'rna' alphabet, got {alphabet!r}.")
        if max_n is not None and not 0 <= max_n <= 1:
            raise ValueError(f"GenomeWindows: max_n is a fraction in [0, 1], got {max_n!r}.")
        self.window, self.stride, self.last, self.alphabet = window, stride, last, alphabet
        self.max_n, self.chunk_size = max_n, max(chunk_size, window)
        self.regions = read_regions(regions) if isinstance(regions, (str, os.PathLike)) else regions
        valid = _VALID[alphabet] + _VALID[alphabet].lower()
        self._strip_valid = str.maketrans("", "", valid)
        self._raw = None
        self.windows = self.skipped_n = self.short_regions = self.max_buffered = 0
        self.chromosomes = {}

    def fraction_read(self):
        """The fraction of the reference file's bytes read so far (0 before, 1 after)."""
        raw = self._raw
        if raw is None or raw.closed:
            return 1.0 if self.chromosomes else 0.0
        size = os.path.getsize(self.reference)
        return min(1.0, raw.tell() / size) if size else 1.0

    def __iter__(self):
        handle, self._raw = open_text(self.reference)
        self.windows = self.skipped_n = self.short_regions = self.max_buffered = 0
        self.chromosomes = {}
        with handle, self._raw:
            yield from self._scan(handle)
        missing = sorted(set(self.regions or ()) - set(self.chromosomes))
        if missing:
            known = ", ".join(list(self.chromosomes)[:10])
            raise ValueError(
                f"regions: chromosome {missing[0]!r} is not in the reference {self.reference} (it has {known}). "
                "Check the genome build and the naming ('chr1' or '1')."
            )
        if not self.chromosomes:
            raise ValueError(f"{self.reference}: no FASTA records found (expected lines starting with '>').")

    def _scan(self, handle):
        chrom, pieces, size = None, [], 0
        state = None
        for number, line in enumerate(handle, start=1):
            if line.startswith(">"):
                if chrom is not None:
                    yield from state.feed("".join(pieces), final=True)
                    self.chromosomes[chrom] = state.length
                words = line[1:].split()
                if not words:
                    raise ValueError(f"{self.reference}, line {number}: a '>' header without a name.")
                chrom, pieces, size = words[0], [], 0
                if chrom in self.chromosomes:
                    raise ValueError(f"{self.reference}, line {number}: chromosome {chrom!r} appears twice.")
                state = _Chromosome(self, chrom)
                continue
            text = line.strip()
            if not text:
                continue
            if chrom is None:
                raise ValueError(f"{self.reference}, line {number}: sequence before the first '>' header.")
            pieces.append(text)
            size += len(text)
            if size >= self.chunk_size:
                yield from state.feed("".join(pieces), final=False)
                pieces, size = [], 0
        if chrom is not None:
            yield from state.feed("".join(pieces), final=True)
            self.chromosomes[chrom] = state.length

    def _check_letters(self, chrom, text, offset):
        leftover = text.translate(self._strip_valid)
        if leftover:
            position = text.index(leftover[0])
            raise ValueError(
                f"{self.reference}: chromosome {chrom!r} has the letter {leftover[0]!r} at position "
                f"{offset + position + 1:,}, outside the {self.alphabet} alphabet "
                f"({_VALID[self.alphabet]}, either case). Fix or mask the reference (N)."
            )


class _Chromosome:
    """One chromosome's scan state: a buffer of its tail and the next window to cut."""

    def __init__(self, scan, chrom):
        self.scan, self.chrom = scan, chrom
        regions = scan.regions
        self.intervals = [(0, None)] if regions is None else list(regions.get(chrom, ()))
        self.buffer, self.buffer_start, self.length = "", 0, 0
        self.index = 0
        self.next_start = self.intervals[0][0] if self.intervals else None
        self.covered = self.next_start

    def feed(self, text, final):
        scan = self.scan
        scan._check_letters(self.chrom, text, self.length)
        self.length += len(text)
        self.buffer += text
        scan.max_buffered = max(scan.max_buffered, len(self.buffer))
        end_known = self.length
        window, stride = scan.window, scan.stride
        while self.index < len(self.intervals):
            a, b = self.intervals[self.index]
            if b is not None and final and b > end_known:
                raise ValueError(
                    f"regions: the interval {self.chrom}:{a}-{b} ends past the end of {self.chrom!r} "
                    f"({end_known:,} bp) in {scan.reference}. Check that the BED file and the reference are "
                    "the same genome build."
                )
            limit = end_known if b is None else min(b, end_known)
            start = self.next_start
            while start + window <= limit:
                yield from self._emit(start, start + window)
                start += stride
            self.next_start = start
            closes = final if b is None else b <= end_known
            if not closes:
                break
            yield from self._close(a, end_known if b is None else b)
            self.index += 1
            if self.index < len(self.intervals):
                self.next_start = self.covered = self.intervals[self.index][0]
        keep = max(0, min(self.next_start if self.next_start is not None else end_known, end_known) - window)
        if keep > self.buffer_start:
            self.buffer = self.buffer[keep - self.buffer_start:]
            self.buffer_start = keep

    def _close(self, a, b):
        window, last = self.scan.window, self.scan.last
        if b - a < window and last != "pad":
            self.scan.short_regions += 1
        if self.covered is not None and self.covered < b:
            if last == "shift" and b - a >= window:
                yield from self._emit(b - window, b)
            elif last == "pad" and self.next_start < b:
                yield from self._emit(self.next_start, b)

    def _emit(self, start, end):
        sequence = self.buffer[start - self.buffer_start:end - self.buffer_start]
        self.covered = end
        scan = self.scan
        if scan.max_n is not None and (sequence.count("N") + sequence.count("n")) > scan.max_n * len(sequence):
            scan.skipped_n += 1
            return
        scan.windows += 1
        yield self.chrom, start, end, sequence
