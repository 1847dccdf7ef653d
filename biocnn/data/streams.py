"""Readers that yield one record at a time, for inputs too large to hold in memory.

Each reader is an iterable object with ``fraction_read()`` (the share of its file's bytes
read so far, for progress and ETA) and holds at most one record (or one ``chunk_rows`` block
of a table) at a time:

* :class:`FastaRecords`: ``(id, sequence, where)`` from a FASTA file (gzip by content);
* :class:`TableRows`: the rows of a CSV/TSV read ``chunk_rows`` at a time;
* :class:`BedSequences`: BED intervals cut from a reference through its FASTA index
  (minus-strand intervals reverse-complemented), as :func:`biocnn.data.read_bed` cuts them;
* :func:`bed_lines`: the parsed lines of a BED file, shared with :mod:`biocnn.data.genome`.

Letters are not checked here: the caller checks them against its alphabet with the
``where`` each record carries.
"""

import gzip
import io
import os

import pandas as pd
from Bio.Seq import reverse_complement
from Bio.SeqIO.FastaIO import SimpleFastaParser

from biocnn.data.sequences import FastaIndex, bed_records

__all__ = ["BedSequences", "FastaRecords", "TableRows", "bed_lines", "open_text"]

_GZIP_MAGIC = b"\x1f\x8b"


def open_text(path):
    """Open a text file, gzip-compressed or not (by content).

    Returns:
        (text handle, raw binary file): close the handle, then the raw file; ``raw.tell()``
        is the position in the file on disk (compressed bytes for gzip), for progress.

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/a.txt"
        >>> _ = open(path, "w").write("hello\\n")
        >>> handle, raw = open_text(path)
        >>> handle.read(), handle.close(), raw.close()
        ('hello\\n', None, None)
    """
    path = os.fspath(path)
    raw = open(path, "rb")
    compressed = raw.read(2) == _GZIP_MAGIC
    raw.seek(0)
    binary = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
    return io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline=None), raw


class _Progressive:
    """Base: remembers the open raw file so fraction_read() can ask where it is."""

    path = ""
    _raw = None
    _done = False

    def fraction_read(self):
        """The fraction of the file's bytes read so far."""
        if self._done:
            return 1.0
        raw = self._raw
        if raw is None or raw.closed:
            return 0.0
        size = os.path.getsize(self.path)
        return min(1.0, raw.tell() / size) if size else 1.0

    def _open(self, what):
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"No such {what} file: '{self.path}'.")
        self._done = False
        handle, self._raw = open_text(self.path)
        return handle


class FastaRecords(_Progressive):
    """The records of a FASTA file, one at a time: ``(id, sequence, where)``.

    Args:
        path: the FASTA file (gzip or not). The id is the first word of the header.

    Raises:
        FileNotFoundError: no such file.
        ValueError: (while iterating) a header without an id, or no records.

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/r.fa"
        >>> _ = open(path, "w").write(">r1 x\\nAC\\nGT\\n>r2\\nTT\\n")
        >>> [record[:2] for record in FastaRecords(path)]
        [('r1', 'ACGT'), ('r2', 'TT')]
    """

    def __init__(self, path):
        self.path = os.fspath(path)

    def __iter__(self):
        handle = self._open("FASTA")
        count = 0
        with handle, self._raw:
            for count, (title, sequence) in enumerate(SimpleFastaParser(handle), start=1):
                words = title.split(None, 1)
                if not words:
                    raise ValueError(f"{self.path}, record {count}: the header has no id.")
                yield words[0], sequence, f"{self.path}, record {count} ({words[0]!r})"
        self._done = True
        if not count:
            raise ValueError(f"{self.path}: no FASTA records found (expected lines starting with '>').")


class TableRows(_Progressive):
    """The rows of a CSV/TSV (tab for ``.tsv``/``.tab``/``.txt``), read ``chunk_rows`` at a time.

    Args:
        path: the table (gzip or not); every cell is read as text.
        columns: the columns wanted, as ``{flag: column}`` (the flag names the column in
            messages), e.g. ``{"--sequence-column": "sequence"}``.
        chunk_rows: rows parsed per block.

    Yields:
        ``(line number, {column: value})`` with the file's line numbers (header = line 1).

    Raises:
        FileNotFoundError: no such file.
        ValueError: (while iterating) a missing column (the message lists the columns) or no
            rows.

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/t.csv"
        >>> _ = open(path, "w").write("id,sequence\\na,ACGT\\nb,GG\\n")
        >>> [row for row in TableRows(path, {"--sequence-column": "sequence"})]
        [(2, {'sequence': 'ACGT'}), (3, {'sequence': 'GG'})]
    """

    def __init__(self, path, columns, chunk_rows=10000):
        self.path, self.columns, self.chunk_rows = os.fspath(path), dict(columns), int(chunk_rows)

    def header(self):
        """The table's column names (reads only the first line)."""
        handle = self._open("table")
        with handle, self._raw:
            return [str(c).strip() for c in pd.read_csv(handle, sep=self._sep(), dtype=str, nrows=0).columns]

    def _sep(self):
        return "\t" if self.path.lower().removesuffix(".gz").endswith((".tsv", ".tab", ".txt")) else ","

    def __iter__(self):
        handle = self._open("table")
        line = 2
        with handle, self._raw:
            reader = pd.read_csv(handle, sep=self._sep(), dtype=str, keep_default_na=False, chunksize=self.chunk_rows)
            for block in reader:
                block.columns = [str(c).strip() for c in block.columns]
                for flag, column in self.columns.items():
                    if column not in block.columns:
                        raise ValueError(f"{self.path}: no column {column!r} ({flag}); the columns are "
                                         f"{list(block.columns)}.")
                wanted = [block[c].tolist() for c in self.columns.values()]
                for values in zip(*wanted):
                    yield line, dict(zip(self.columns.values(), values))
                    line += 1
        self._done = True
        if line == 2:
            raise ValueError(f"{self.path}: the table has no rows.")


def bed_lines(path):
    """The intervals of a BED file, one at a time: ``(chrom, start, end, name, strand, where)``.

    Comment (``#``), ``track`` and ``browser`` lines and blank lines are skipped; ``name``
    is ``""`` and ``strand`` ``"."`` when the columns are absent.

    Raises:
        FileNotFoundError: no such file.
        ValueError: fewer than 3 columns, non-integer or reversed coordinates, or a strand
            other than ``+``, ``-``, ``.`` (naming the file and line).

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/r.bed"
        >>> _ = open(path, "w").write("chr1\\t5\\t9\\tpeak\\t0\\t-\\n")
        >>> [line[:5] for line in bed_lines(path)]
        [('chr1', 5, 9, 'peak', '-')]
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such BED file: '{path}'.")
    handle, raw = open_text(path)
    with handle, raw:
        yield from bed_records(handle, path)


class BedSequences(_Progressive):
    """BED intervals cut from an uncompressed reference, one at a time, in the BED's order.

    Yields ``(chrom, start, end, strand, name, sequence, where)``; a ``-`` interval is
    reverse-complemented, as :func:`biocnn.data.read_bed` does. The reference is read through
    its ``.fai`` (or an index built by one pass), so only each interval's bytes are read.

    Args:
        path: the BED file.
        reference: the genome FASTA, uncompressed (a gzip file cannot be sought; decompress it
            or use ``bgzip`` + ``samtools faidx``'s plain output).

    Raises:
        FileNotFoundError: a missing file.
        ValueError: a gzip reference; (while iterating) a malformed BED line, a chromosome the
            reference lacks, or an interval past a chromosome's end (naming the BED line).

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> _ = open(os.path.join(folder, "g.fa"), "w").write(">chr1\\nAACCGGTTAC\\n")
        >>> _ = open(os.path.join(folder, "p.bed"), "w").write("chr1\\t2\\t6\\ta\\t0\\t-\\n")
        >>> [r[5] for r in BedSequences(os.path.join(folder, "p.bed"), os.path.join(folder, "g.fa"))]
        ['CCGG']
    """

    def __init__(self, path, reference):
        self.path, self.reference = os.fspath(path), os.fspath(reference)
        if not os.path.isfile(self.reference):
            raise FileNotFoundError(f"No such reference FASTA: '{self.reference}'.")
        with open(self.reference, "rb") as f:
            if f.read(2) == _GZIP_MAGIC:
                raise ValueError(
                    f"{self.reference}: a gzip-compressed reference cannot be read interval by interval. "
                    "Decompress it (gunzip -k), or predict the BED with biocnn.data.read_bed in memory."
                )

    def __iter__(self):
        index = FastaIndex(self.reference)
        handle = self._open("BED")
        with handle, self._raw, open(self.reference, "rb") as genome:
            for chrom, start, end, name, strand, where in bed_records(handle, self.path):
                if chrom not in index.entries:
                    names = sorted(index.entries)
                    raise ValueError(f"{where}: chromosome {chrom!r} is not in the reference {self.reference} "
                                     f"(it has {', '.join(names[:10])}). Check the genome build and the naming.")
                length = index.entries[chrom][0]
                if end > length:
                    raise ValueError(f"{where}: the interval ends at {end}, past the end of {chrom!r} ({length} bp) "
                                     f"in {self.reference}. Check that the BED file and the reference match.")
                piece = index.fetch(genome, chrom, start, end)
                yield chrom, start, end, strand, name, reverse_complement(piece) if strand == "-" else piece, where
        self._done = True
