"""Readers for labelled sequences: FASTA/FASTQ with a label table, one FASTA per class, a CSV
with a sequence column, and BED intervals cut from a reference genome.

Every reader returns a :class:`pandas.DataFrame` with one row per sequence and the columns
``id``, ``sequence`` (as in the file, case kept), ``label`` (str), ``group`` (only when the
data name groups) and ``source`` (file and record or line, for messages). Files may be
gzip-compressed whatever their name. Records are parsed with Biopython's fast SeqIO parsers
(``SimpleFastaParser``, ``FastqGeneralIterator``) and checked against the alphabet while the
file and record are still known, so a bad letter is reported as
``reads.fa, record 3 ('r3'): invalid letter 'Z' at position 17 ...``.

BED intervals are cut from the reference through a FASTA index (the ``.fai`` of
``samtools faidx``, or one built in memory by a single pass when there is none): only the bytes
of each interval are read, never a whole chromosome. A gzip-compressed reference cannot be
indexed; it is read in one pass holding one chromosome at a time.
"""

import codecs
import contextlib
import gzip
import io
import os
import warnings
import zlib

import numpy as np
import pandas as pd
from Bio.Seq import reverse_complement as _bio_reverse_complement
from Bio.SeqIO.FastaIO import SimpleFastaParser
from Bio.SeqIO.QualityIO import FastqGeneralIterator

from biocnn.data.encoding import validate_sequence
from biocnn.data.table_hints import encoding_hint, separator_hint
from biocnn.data.labels import class_indices

__all__ = [
    "read_fasta",
    "read_fastq",
    "read_label_table",
    "attach_labels",
    "read_fasta_with_labels",
    "read_fasta_per_class",
    "read_sequence_csv",
    "read_bed",
    "identical_sequence_groups",
    "class_indices",
]

_GZIP_MAGIC = b"\x1f\x8b"
_SHOW = 5  # how many ids an error message lists


# ---------------------------------------------------------------------------------------------
# Opening files: gzip by content, binary refused with a clear message
# ---------------------------------------------------------------------------------------------


def _is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _check_exists(path, what):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such {what} file: '{path}'.")


def _head(path, size=8192):
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as f:
            return f.read(size)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: cannot be decompressed ({error}); is the .gz file complete?") from error


def _check_text(path, head, what):
    if b"\0" in head:
        first_nul = head.index(b"\0") + 1
        raise ValueError(
            f"{path}: not a text {what} file (it holds binary data, e.g. a NUL byte at byte "
            f"{first_nul}). Expected plain or gzip-compressed text; a BAM, zip or "
            "other archive must be converted first."
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as error:
        hint = encoding_hint(head, error.start) if "table" in what else ""  # spreadsheets write cp1252
        raise ValueError(
            f"{path}: not UTF-8 text (byte {error.start + 1}).{hint}" if hint else
            f"{path}: not a text {what} file (byte {error.start + 1} is not UTF-8 text). Expected "
            "plain or gzip-compressed text."
        ) from error


@contextlib.contextmanager
def _text_file(path, what):
    """Open ``path`` as text (gzip by content), turning decoding failures into ValueErrors."""
    path = os.fspath(path)
    _check_exists(path, what)
    _check_text(path, _head(path), what)
    raw = gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")
    try:
        with io.TextIOWrapper(raw, encoding="utf-8") as handle:
            yield handle
    except UnicodeDecodeError as error:
        hint = encoding_hint(error.object, error.start) if "table" in what else ""
        raise ValueError(f"{path}: not UTF-8 text further in ({error.reason} at a byte {error.object[error.start:error.start + 1]!r})."
                         f"{hint}" if hint else
                         f"{path}: not a text {what} file (invalid UTF-8 further in: {error}).") from error
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ValueError(f"{path}: cannot be decompressed ({error}); is the .gz file complete?") from error


def _first_line(path, what):
    for line in _head(path).decode("utf-8", errors="replace").splitlines():
        if line.strip():
            return line.strip()
    raise ValueError(f"{path}: the {what} file is empty.")


def _check_format(path, expected):
    """FASTA starts with '>', FASTQ with '@': say which one a misnamed file really is."""
    what = expected.upper()
    _check_text(path, _head(path), what)
    line = _first_line(path, what)
    marker = {"fasta": ">", "fastq": "@"}[expected]
    if line.startswith(marker):
        return
    if expected == "fasta" and line.startswith("@"):
        raise ValueError(
            f"{path}: this looks like a FASTQ file (line 1 starts with '@'), not FASTA. Read it "
            "with read_fastq (--fastq), or convert it to FASTA."
        )
    if expected == "fastq" and line.startswith(">"):
        raise ValueError(
            f"{path}: this looks like a FASTA file (line 1 starts with '>'), not FASTQ. Read it "
            "with read_fasta (--fasta)."
        )
    raise ValueError(
        f"{path}: not a {what} file: expected the first line to start with '{marker}', found "
        f"{line[:40]!r}."
    )


# ---------------------------------------------------------------------------------------------
# FASTA and FASTQ
# ---------------------------------------------------------------------------------------------


def _records_frame(path, rows):
    frame = pd.DataFrame(rows, columns=["id", "sequence", "source"])
    frame.attrs["path"] = path
    return frame


def _check_unique(frame, what="records"):
    duplicated = frame["id"].duplicated(keep=False)
    if duplicated.any():
        first = frame.loc[duplicated, "id"].iloc[0]
        where = frame.loc[frame["id"] == first, "source"].tolist()
        raise ValueError(
            f"Duplicate id {first!r} at {' and '.join(where)} ({int(duplicated.sum())} {what} "
            "share an id). Ids must be unique to join labels and report predictions: rename or "
            "remove the repeats."
        )


def _read_records(path, fmt, alphabet):
    path = os.fspath(path)
    _check_exists(path, fmt.upper())
    _check_format(path, fmt)
    rows = []
    with _text_file(path, fmt.upper()) as handle:
        try:
            if fmt == "fasta":
                parsed = ((title, seq) for title, seq in SimpleFastaParser(handle))
            else:
                parsed = ((title, seq) for title, seq, _ in FastqGeneralIterator(handle))
            for number, (title, sequence) in enumerate(parsed, start=1):
                words = title.split(None, 1)
                if not words:
                    raise ValueError(f"{path}, record {number}: the header has no id.")
                where = f"{path}, record {number} ({words[0]!r})"
                validate_sequence(sequence, alphabet, where)
                rows.append((words[0], sequence, f"{path}, record {number}"))
        except ValueError as error:
            if str(error).startswith(path):
                raise
            raise ValueError(f"{path}: not a valid {fmt.upper()} file ({error}).") from error
    if not rows:
        raise ValueError(f"{path}: no {fmt.upper()} records found.")
    frame = _records_frame(path, rows)
    _check_unique(frame)
    return frame


def read_fasta(path, alphabet="dna"):
    """Read a FASTA file (gzip or not) into a table of ``id``, ``sequence``, ``source``.

    The id is the first word of the header. Sequences keep their case (soft-masking).

    Args:
        path: the FASTA file.
        alphabet: ``"dna"``, ``"rna"`` or ``"protein"``: the letters accepted.

    Returns:
        A DataFrame with columns ``id``, ``sequence`` and ``source``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a binary or FASTQ file, an empty file, a header without id, an empty
            sequence, an invalid letter, or a duplicate id; each names the file and record.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.fa")
        >>> _ = open(path, "w").write(">r1 first\\nACGT\\nac\\n>r2\\nNNRY\\n")
        >>> read_fasta(path)[["id", "sequence"]].values.tolist()
        [['r1', 'ACGTac'], ['r2', 'NNRY']]
    """
    return _read_records(path, "fasta", alphabet)


def read_fastq(path, alphabet="dna"):
    """Read a FASTQ file (gzip or not) like :func:`read_fasta`; qualities are not kept.

    Raises:
        FileNotFoundError: no such file.
        ValueError: as :func:`read_fasta`, and a FASTA file given as FASTQ or a malformed record.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.fq")
        >>> _ = open(path, "w").write("@r1\\nACGT\\n+\\nIIII\\n")
        >>> read_fastq(path)["sequence"].tolist()
        ['ACGT']
    """
    return _read_records(path, "fastq", alphabet)


# ---------------------------------------------------------------------------------------------
# Tables: labels, CSV with a sequence column
# ---------------------------------------------------------------------------------------------


def _read_table(path, what):
    """A CSV or TSV (tab if the header has a tab) as str cells, stripped, with source lines."""
    path = os.fspath(path)
    _check_exists(path, what)
    header = _first_line(path, what)
    sep = "\t" if "\t" in header else ","
    with _text_file(path, what) as handle:
        try:
            # Blank lines are kept as empty rows so that row i is line i + 2 of the file.
            table = pd.read_csv(handle, sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise ValueError(f"{path}: not a readable {what} ({error}).") from error
    table.columns = [str(c).strip() for c in table.columns]
    table = table.apply(lambda column: column.str.strip())
    table["source"] = [f"{path}, line {i + 2}" for i in range(len(table))]
    blank = (table.drop(columns="source") == "").all(axis=1)
    table = table.loc[~blank].reset_index(drop=True)
    table.attrs["path"] = path
    return table


def _require_columns(table, path, **columns):
    for flag, column in columns.items():
        if column is not None and column not in table.columns:
            listing = ", ".join(c for c in table.columns if c != "source")
            hint = separator_hint(table.columns)
            raise ValueError(
                f"{path}: no column {column!r}; the columns are: {listing}.{hint}" if hint else
                f"{path}: no column {column!r}; the columns are: {listing}. Pass "
                f"{flag}=... (--{flag.replace('_', '-')}) to name the right one."
            )


def _check_cells(table, columns, what):
    for column in columns:
        empty = table[column] == ""
        if empty.any():
            row = table.loc[empty].iloc[0]
            raise ValueError(
                f"{row['source']}: empty {what.get(column, column)} ({int(empty.sum())} rows have "
                f"an empty '{column}' cell). Fill it in or remove the row."
            )


def read_label_table(path, id_column="id", label_column="label", group_column=None):
    """Read a label table (CSV, or TSV when the header has tabs; gzip or not).

    Args:
        path: the table; one row per sequence, with a header.
        id_column: the column holding the record ids (the first word of a FASTA header).
        label_column: the column holding the class of each record.
        group_column: a column of groups (patient, donor, chromosome, ...) to keep together in
            splits. None: the column ``group`` if there is one.

    Returns:
        A DataFrame with columns ``id``, ``label``, ``source`` and, with groups, ``group``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a missing column (listing the columns there are), an empty cell, or an id
            on two rows (naming both lines).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "labels.tsv")
        >>> _ = open(path, "w").write("id\\tlabel\\tgroup\\nr1\\tbound\\tdonor1\\nr2\\tunbound\\tdonor2\\n")
        >>> read_label_table(path)[["id", "label", "group"]].values.tolist()
        [['r1', 'bound', 'donor1'], ['r2', 'unbound', 'donor2']]
    """
    path = os.fspath(path)
    table = _read_table(path, "label table")
    if group_column is None and "group" in table.columns:
        group_column = "group"
    _require_columns(table, path, id_column=id_column, label_column=label_column, group_column=group_column)
    keep = {id_column: "id", label_column: "label"}
    if group_column is not None:
        keep[group_column] = "group"
    out = table[[*keep, "source"]].rename(columns=keep)
    out.attrs["path"] = path
    _check_cells(out, list(keep.values()), {"id": "id", "label": "label", "group": "group"})
    _check_unique(out, what="rows")
    return out


def attach_labels(records, table, missing="error"):
    """Join a label table onto sequence records by id.

    Args:
        records: a reader's DataFrame (``id``, ``sequence``, ``source``).
        table: :func:`read_label_table`'s DataFrame.
        missing: ``"error"``: every record needs a label; ``"drop"``: records without one are
            left out, with a warning saying how many.

    Returns:
        ``records`` with ``label`` (and ``group``) columns, in the records' order. Rows of the
        table without a record are left out, with a warning saying how many and which.

    Raises:
        ValueError: records without a label (saying how many and listing a few), or an
            unknown ``missing`` option.

    Example:
        >>> records = pd.DataFrame({"id": ["a", "b"], "sequence": ["AC", "GT"], "source": ["x", "y"]})
        >>> table = pd.DataFrame({"id": ["b", "a"], "label": ["neg", "pos"], "source": ["l2", "l1"]})
        >>> attach_labels(records, table)["label"].tolist()
        ['pos', 'neg']
    """
    if missing not in ("error", "drop"):
        raise ValueError(f"attach_labels: missing must be 'error' or 'drop', got {missing!r}.")
    columns = [c for c in ("id", "label", "group") if c in table.columns]
    merged = records.drop(columns=[c for c in ("label", "group") if c in records.columns])
    merged = merged.merge(table[columns], on="id", how="left", validate="one_to_one")
    unlabelled = merged["label"].isna()
    records_path = records.attrs.get("path", "the sequences")
    table_path = table.attrs.get("path", "the label table")
    orphans = table.loc[~table["id"].isin(set(records["id"])), "id"].tolist()
    if orphans:  # labels without a sequence: say so, a typo or another file is likely
        shown = ", ".join(repr(i) for i in orphans[:_SHOW]) + (f" and {len(orphans) - _SHOW} more"
                                                               if len(orphans) > _SHOW else "")
        warnings.warn(f"{table_path}: {len(orphans)} of {len(table)} labelled ids have no sequence in "
                      f"{records_path}: {shown}. They are left out.", UserWarning, stacklevel=2)
    if unlabelled.any():
        ids = merged.loc[unlabelled, "id"].tolist()
        shown = ", ".join(repr(i) for i in ids[:_SHOW]) + (f" and {len(ids) - _SHOW} more" if len(ids) > _SHOW else "")
        message = (
            f"{records_path}: {len(ids)} of {len(merged)} records have no label in {table_path}: "
            f"{shown}."
        )
        if missing == "error":
            example = table["id"].iloc[0] if len(table) else None
            raise ValueError(
                f"{message} Ids are the first word of each header (the table has ids such as "
                f"{example!r}). Add rows for them, or pass missing='drop' (--drop-unlabelled) to "
                "leave them out."
            )
        warnings.warn(f"{message} They are left out.", UserWarning, stacklevel=2)
        merged = merged.loc[~unlabelled].reset_index(drop=True)
    merged.attrs["path"] = records_path
    return merged


def read_fasta_with_labels(path, labels, id_column="id", label_column="label", group_column=None,
                           alphabet="dna", missing="error", fastq=False):
    """Read a FASTA (or FASTQ) file and join its label table on the record ids.

    Args:
        path: the FASTA or FASTQ file.
        labels: the label table; see :func:`read_label_table` for the column arguments.
        alphabet: the letters accepted.
        missing: what to do with records missing from the table; see :func:`attach_labels`.
        fastq: read ``path`` as FASTQ.

    Returns:
        A DataFrame with ``id``, ``sequence``, ``source``, ``label`` and perhaps ``group``.

    Raises:
        FileNotFoundError: a missing file.
        ValueError: see :func:`read_fasta`, :func:`read_label_table` and :func:`attach_labels`.

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> _ = open(os.path.join(folder, "s.fa"), "w").write(">a\\nACGT\\n>b\\nTTTT\\n")
        >>> _ = open(os.path.join(folder, "l.csv"), "w").write("id,label\\nb,neg\\na,pos\\n")
        >>> read_fasta_with_labels(os.path.join(folder, "s.fa"), os.path.join(folder, "l.csv")).shape
        (2, 4)
    """
    records = (read_fastq if fastq else read_fasta)(path, alphabet)
    table = read_label_table(labels, id_column, label_column, group_column)
    return attach_labels(records, table, missing)


def read_fasta_per_class(classes, alphabet="dna"):
    """Read one FASTA file per class; the class name is the label.

    Args:
        classes: dict class name -> FASTA path (e.g. ``{"bound": "pos.fa", "unbound": "neg.fa"}``).
        alphabet: the letters accepted.

    Returns:
        A DataFrame with ``id``, ``sequence``, ``source`` and ``label``, the files in order.

    Raises:
        ValueError: fewer than two classes, an id in two files (naming both), or any error of
            :func:`read_fasta`.

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> _ = open(os.path.join(folder, "p.fa"), "w").write(">p1\\nACGT\\n")
        >>> _ = open(os.path.join(folder, "n.fa"), "w").write(">n1\\nTTTT\\n>n2\\nGGGG\\n")
        >>> read_fasta_per_class({"pos": os.path.join(folder, "p.fa"), "neg": os.path.join(folder, "n.fa")})["label"].tolist()
        ['pos', 'neg', 'neg']
    """
    if len(classes) < 2:
        raise ValueError(
            f"read_fasta_per_class: a classifier needs at least two classes, got {len(classes)} "
            f"({', '.join(classes) or 'none'}). Give one FASTA file per class (--class NAME=PATH)."
        )
    frames = [read_fasta(path, alphabet).assign(label=str(name)) for name, path in classes.items()]
    records = pd.concat(frames, ignore_index=True)
    _check_unique(records)
    records.attrs["path"] = ", ".join(os.fspath(p) for p in classes.values())
    return records


def read_sequence_csv(path, sequence_column="sequence", label_column="label", id_column=None,
                      group_column=None, alphabet="dna"):
    """Read a CSV/TSV table with one sequence per row (cells may be padded with spaces).

    Rows that repeat an earlier row exactly (the same id, sequence, label and group) are left
    out with a warning, since they are one sample counted twice; an id that comes back with
    another sequence or label is an error.

    Args:
        path: the table (gzip or not).
        sequence_column: the column holding the sequences.
        label_column: the column holding the classes.
        id_column: a column of record ids; None: the column ``id`` if there is one, else the
            line numbers (``"line 2"``, ...).
        group_column: a column of groups to keep together in splits; None: the column
            ``group`` if there is one, else no groups.
        alphabet: the letters accepted.

    Returns:
        A DataFrame with ``id``, ``sequence``, ``label``, ``source`` and perhaps ``group``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a missing column, an empty cell, an invalid letter, or an id that names two
            different rows; each names the file and line.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "s.csv")
        >>> _ = open(path, "w").write("label,sequence\\nEI,   ACGTN\\nN,  acgtt\\n")
        >>> read_sequence_csv(path)[["id", "sequence", "label"]].values.tolist()
        [['line 2', 'ACGTN', 'EI'], ['line 3', 'acgtt', 'N']]
    """
    path = os.fspath(path)
    table = _read_table(path, "sequence table")
    if id_column is None and "id" in table.columns:
        id_column = "id"
    if group_column is None and "group" in table.columns:
        group_column = "group"
    _require_columns(table, path, sequence_column=sequence_column, label_column=label_column,
                     id_column=id_column, group_column=group_column)
    names = {sequence_column: "sequence", label_column: "label"}
    if id_column is not None:
        names[id_column] = "id"
    if group_column is not None:
        names[group_column] = "group"
    out = table[[*names, "source"]].rename(columns=names)
    if id_column is None:
        out["id"] = [s.rsplit(", ", 1)[1] for s in out["source"]]
    out = out[[c for c in ("id", "sequence", "label", "group", "source") if c in out.columns]]
    _check_cells(out, list(names.values()), {})
    for sequence, identifier, source in zip(out["sequence"], out["id"], out["source"]):
        validate_sequence(sequence, alphabet, f"{source} ({identifier!r})")
    content = [c for c in ("id", "sequence", "label", "group") if c in out.columns]
    repeated = out.duplicated(subset=content, keep="first")
    if repeated.any():
        ids = out.loc[repeated, "id"].tolist()
        shown = ", ".join(map(repr, ids[:_SHOW])) + (f" and {len(ids) - _SHOW} more" if len(ids) > _SHOW else "")
        warnings.warn(
            f"{path}: {len(ids)} rows repeat an earlier row exactly ({shown}); each is kept once.",
            UserWarning,
            stacklevel=2,
        )
        out = out.loc[~repeated].reset_index(drop=True)
    _check_unique(out, what="rows")
    out.attrs["path"] = path
    return out


# ---------------------------------------------------------------------------------------------
# BED intervals on a reference genome
# ---------------------------------------------------------------------------------------------


def bed_records(handle, path):
    """Check and yield every interval of an open BED file: ``(chrom, start, end, name, strand, where)``.

    Blank, ``#``, ``track`` and ``browser`` lines are skipped; ``where`` names the file and line
    for later messages. Used by :func:`read_bed` and by streaming prediction.

    Raises:
        ValueError: fewer than 3 columns, non-integer or inverted coordinates, or a strand
            other than ``+``, ``-`` or ``.`` (naming the file and line).

    Example:
        >>> import io
        >>> list(bed_records(io.StringIO("chr1 10 20 site 0 -"), "x.bed"))
        [('chr1', 10, 20, 'site', '-', 'x.bed, line 1')]
    """
    for number, line in enumerate(handle, start=1):
        text = line.rstrip("\r\n")
        if not text.strip() or text.startswith(("#", "track", "browser")):
            continue
        fields = text.split("\t") if "\t" in text else text.split()
        where = f"{path}, line {number}"
        if len(fields) < 3:
            raise ValueError(
                f"{where}: expected at least 3 columns (chrom, start, end), found {len(fields)}: {text[:60]!r}."
            )
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise ValueError(
                f"{where}: start and end must be integers, found {fields[1]!r} and {fields[2]!r}."
            ) from None
        if not 0 <= start < end:
            raise ValueError(
                f"{where}: expected 0 <= start < end (0-based, end exclusive), found start "
                f"{start} and end {end}."
            )
        strand = fields[5].strip() if len(fields) > 5 else "."
        if strand not in ("+", "-", "."):
            raise ValueError(f"{where}: strand (column 6) must be '+', '-' or '.', found {strand!r}.")
        yield fields[0], start, end, fields[3].strip() if len(fields) > 3 else "", strand, where


def _parse_bed(path, need_name):
    rows = []
    with _text_file(path, "BED") as handle:
        for chrom, start, end, name, strand, where in bed_records(handle, path):
            if need_name and not name:
                raise ValueError(
                    f"{where}: no name (column 4), which holds the {need_name}. Add a name column, "
                    "or pass a label table."
                )
            rows.append((chrom, start, end, name, strand, where))
    if not rows:
        raise ValueError(f"{path}: no intervals found in the BED file.")
    return rows


class FastaIndex:
    """Random access to an uncompressed FASTA through samtools' ``.fai`` layout.

    Each entry is (length, offset of the first base, bases per line, bytes per line). The
    ``.fai`` next to the file is used when present; otherwise the index is built in memory by
    one pass over the file (nothing is written next to the user's genome).
    """

    def __init__(self, path):
        self.path = path
        fai = path + ".fai"
        self.entries = self._read_fai(fai) if os.path.isfile(fai) else self._scan()

    def _read_fai(self, fai):
        entries = {}
        with open(fai) as f:
            for number, line in enumerate(f, start=1):
                fields = line.rstrip("\n").split("\t")
                if len(fields) < 5:
                    raise ValueError(f"{fai}, line {number}: expected 5 tab-separated columns of a .fai index.")
                entries[fields[0]] = tuple(int(v) for v in fields[1:5])
        return entries

    def _scan(self):
        entries, name, offset, start = {}, None, 0, 0
        length = line_bases = line_bytes = 0
        short_line = None  # number of a line shorter than the first, allowed only at the end
        with open(self.path, "rb") as f:
            for number, line in enumerate(f, start=1):
                if line.startswith(b">"):
                    if name is not None:
                        entries[name] = (length, start, line_bases, line_bytes)
                    words = line[1:].split()
                    name = words[0].decode("utf-8", errors="replace") if words else ""
                    start, length, line_bases, line_bytes, short_line = offset + len(line), 0, 0, 0, None
                elif name is None:
                    if line.strip():
                        raise ValueError(f"{self.path}, line {number}: sequence before the first '>' header.")
                else:
                    bases = len(line.rstrip(b"\r\n"))
                    if line_bases == 0:
                        line_bases, line_bytes = bases, len(line)
                    elif short_line is not None and bases:
                        raise ValueError(
                            f"{self.path}, line {short_line}: record {name!r} has lines of different "
                            "lengths, which a FASTA index cannot address. Rewrap it to one line "
                            "width (e.g. `seqkit seq -w 60`) or index it with `samtools faidx`."
                        )
                    elif bases != line_bases:
                        short_line = number
                    length += bases
                offset += len(line)
        if name is not None:
            entries[name] = (length, start, line_bases, line_bytes)
        return entries

    def fetch(self, handle, chrom, start, end):
        length, first_base, line_bases, line_bytes = self.entries[chrom]

        def position(i):
            return first_base + (i // line_bases) * line_bytes + i % line_bases

        handle.seek(position(start))
        raw = handle.read(position(end - 1) + 1 - position(start))
        return raw.replace(b"\n", b"").replace(b"\r", b"").decode("ascii", errors="replace")


def _missing_chromosome(path, where, chrom, known):
    names = sorted(known)
    listing = ", ".join(names[:10]) + (f" ... ({len(names)} in all)" if len(names) > 10 else "")
    return ValueError(
        f"{where}: chromosome {chrom!r} is not in the reference {path} (it has {listing}). "
        "Check the genome build and the naming ('chr1' or '1')."
    )


def _past_end(path, where, chrom, end, length):
    return ValueError(
        f"{where}: the interval ends at {end}, past the end of {chrom!r} ({length} bp) in "
        f"{path}. Check that the BED file and the reference are the same genome build."
    )


def _cut_indexed(reference, intervals):
    index = FastaIndex(reference)
    out = []
    with open(reference, "rb") as handle:
        for chrom, start, end, where in intervals:
            if chrom not in index.entries:
                raise _missing_chromosome(reference, where, chrom, index.entries)
            if end > index.entries[chrom][0]:
                raise _past_end(reference, where, chrom, end, index.entries[chrom][0])
            out.append(index.fetch(handle, chrom, start, end))
    return out


def _cut_streaming(reference, intervals):
    # A gzip file cannot be sought: one pass, one chromosome in memory at a time.
    wanted = {}
    for i, (chrom, start, end, where) in enumerate(intervals):
        wanted.setdefault(chrom, []).append((i, start, end, where))
    out, seen = [None] * len(intervals), set()
    with _text_file(reference, "reference FASTA") as handle:
        for title, sequence in SimpleFastaParser(handle):
            chrom = title.split(None, 1)[0] if title.strip() else ""
            seen.add(chrom)
            for i, start, end, where in wanted.pop(chrom, ()):
                if end > len(sequence):
                    raise _past_end(reference, where, chrom, end, len(sequence))
                out[i] = sequence[start:end]
    for chrom, items in wanted.items():
        raise _missing_chromosome(reference, items[0][3], chrom, seen)
    return out


def read_bed(path, reference, labels=None, id_column="id", label_column="label", group_column=None,
             group_by_chromosome=False, alphabet="dna"):
    """Cut BED intervals from a reference FASTA; minus-strand intervals are reverse-complemented.

    BED columns: chrom, start (0-based), end (exclusive), then optionally name, score, strand.
    Without ``labels`` the name column is the label and the id is ``chrom:start-end(strand)``;
    with ``labels`` the name column is the id, joined to the table as in
    :func:`read_fasta_with_labels`.

    The reference is read through its ``.fai`` index (``samtools faidx genome.fa``), or an
    index built in memory by one pass when there is none: only each interval's bytes are read.
    A gzip-compressed reference is read in one pass, one chromosome in memory at a time.

    Args:
        path: the BED file (gzip or not).
        reference: the genome FASTA.
        labels: an optional label table keyed by the BED name column.
        id_column, label_column, group_column: the label table's columns.
        group_by_chromosome: use the chromosome as the group (hold out whole chromosomes).
        alphabet: ``"dna"`` or ``"rna"``.

    Returns:
        A DataFrame with ``id``, ``sequence``, ``label``, ``source``, ``chrom``, ``start``,
        ``end``, ``strand`` and perhaps ``group``.

    Raises:
        FileNotFoundError: a missing file.
        ValueError: a malformed BED line, a chromosome not in the reference, an interval past
            the chromosome's end, a duplicate interval or an invalid letter, each naming the
            BED line.

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> _ = open(os.path.join(folder, "g.fa"), "w").write(">chr1\\nAACCGGTTAC\\n")
        >>> _ = open(os.path.join(folder, "p.bed"), "w").write("chr1\\t2\\t6\\tpos\\t0\\t+\\nchr1\\t2\\t6\\tneg\\t0\\t-\\n")
        >>> read_bed(os.path.join(folder, "p.bed"), os.path.join(folder, "g.fa"))["sequence"].tolist()
        ['CCGG', 'CCGG']
    """
    path, reference = os.fspath(path), os.fspath(reference)
    _check_exists(path, "BED")
    _check_exists(reference, "reference FASTA")
    _check_format(reference, "fasta")
    rows = _parse_bed(path, need_name="label" if labels is None else "id")
    intervals = [(chrom, start, end, where) for chrom, start, end, _, _, where in rows]
    cut = _cut_streaming if _is_gzip(reference) else _cut_indexed
    pieces = cut(reference, intervals)
    records = []
    for (chrom, start, end, name, strand, where), piece in zip(rows, pieces):
        sequence = _bio_reverse_complement(piece) if strand == "-" else piece
        validate_sequence(sequence, alphabet, f"{where} ({chrom}:{start}-{end})")
        coordinates = f"{chrom}:{start}-{end}({strand})"
        records.append({
            "id": coordinates if labels is None else name,
            "sequence": sequence,
            "label": name,
            "source": where,
            "chrom": chrom,
            "start": start,
            "end": end,
            "strand": strand,
        })
    frame = pd.DataFrame(records)
    frame.attrs["path"] = path
    _check_unique(frame, what="intervals")
    if labels is not None:
        frame = attach_labels(frame, read_label_table(labels, id_column, label_column, group_column))
    if group_by_chromosome:
        frame["group"] = frame["chrom"]
    return frame


# ---------------------------------------------------------------------------------------------
# From records to arrays
# ---------------------------------------------------------------------------------------------


def identical_sequence_groups(sequences):
    """Group ids that put identical sequences (ignoring case) in one group.

    Used as split groups, they keep a sequence that occurs twice from being both trained on
    and tested on.

    Example:
        >>> identical_sequence_groups(["ACG", "TTT", "acg"]).tolist()
        [0, 1, 0]
    """
    _, groups = np.unique([str(s).upper() for s in sequences], return_inverse=True)
    first = {}
    return np.array([first.setdefault(g, len(first)) for g in groups], dtype=np.int64)
