"""Sequence readers: FASTA/FASTQ with label tables, one FASTA per class, CSV, BED on a genome."""

import gzip
import os
import re

import numpy as np
import pandas as pd
import pytest

from biocnn.data import (
    class_indices,
    identical_sequence_groups,
    read_bed,
    read_fasta,
    read_fasta_per_class,
    read_fasta_with_labels,
    read_fastq,
    read_label_table,
    read_sequence_csv,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write(path, text, compress=False):
    data = text.encode() if isinstance(text, str) else text
    if compress:
        data = gzip.compress(data)
    path.write_bytes(data)
    return str(path)


FASTA = ">r1 first record\nACGT\nacgt\n>r2\nNNRYAC\n>r3\nTTTT\n"


# --------------------------------------------------------------------------------------------
# FASTA and FASTQ
# --------------------------------------------------------------------------------------------


def test_fasta_ids_sequences_and_sources(tmp_path):
    path = _write(tmp_path / "s.fa", FASTA)
    records = read_fasta(path)
    assert records["id"].tolist() == ["r1", "r2", "r3"]
    assert records["sequence"].tolist() == ["ACGTacgt", "NNRYAC", "TTTT"]  # case kept
    assert records["source"].tolist() == [f"{path}, record {i}" for i in (1, 2, 3)]


def test_gzip_is_read_by_content_not_by_name(tmp_path):
    plain = read_fasta(_write(tmp_path / "s.fa", FASTA))
    hidden = read_fasta(_write(tmp_path / "s_compressed.fa", FASTA, compress=True))
    assert hidden[["id", "sequence"]].equals(plain[["id", "sequence"]])


def test_fastq(tmp_path):
    path = _write(tmp_path / "r.fq.gz", "@q1 lane 1\nACGTN\n+\nIIIII\n@q2\nGG\n+q2\n##\n", compress=True)
    records = read_fastq(path)
    assert records[["id", "sequence"]].values.tolist() == [["q1", "ACGTN"], ["q2", "GG"]]


def test_fastq_with_a_bad_quality_line_names_the_file(tmp_path):
    path = _write(tmp_path / "r.fq", "@q1\nACGT\n+\nII\n")
    with pytest.raises(ValueError, match=r"r.fq: not a valid FASTQ file"):
        read_fastq(path)


def test_invalid_letter_names_file_record_id_and_position(tmp_path):
    path = _write(tmp_path / "s.fa", ">r1\nACGT\n>r2\nAC\nGTXA\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}, record 2 ('r2'): invalid letter 'X' at position 5 for the dna alphabet")):
        read_fasta(path)


def test_protein_fasta(tmp_path):
    path = _write(tmp_path / "p.fa", ">p1\nMKVLAx\n")
    assert read_fasta(path, alphabet="protein")["sequence"].tolist() == ["MKVLAx"]
    with pytest.raises(ValueError, match=r"record 1 \('p1'\): invalid letter 'L'.*use the 'protein' alphabet"):
        read_fasta(path)


def test_empty_sequence_names_the_record(tmp_path):
    path = _write(tmp_path / "s.fa", ">r1\nACGT\n>r2\n>r3\nAC\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}, record 2 ('r2'): the sequence is empty")):
        read_fasta(path)


def test_duplicate_ids_name_both_records(tmp_path):
    path = _write(tmp_path / "s.fa", ">r1\nACGT\n>r2\nAC\n>r1 again\nGG\n")
    with pytest.raises(ValueError, match=re.escape(f"Duplicate id 'r1' at {path}, record 1 and {path}, record 3")):
        read_fasta(path)


def test_a_fasta_that_is_really_fastq(tmp_path):
    path = _write(tmp_path / "reads.fa", "@q1\nACGT\n+\nIIII\n")
    with pytest.raises(ValueError, match=r"reads.fa: this looks like a FASTQ file \(line 1 starts with '@'\).*--fastq"):
        read_fasta(path)
    fasta = _write(tmp_path / "reads.fq", FASTA)
    with pytest.raises(ValueError, match=r"reads.fq: this looks like a FASTA file.*--fasta"):
        read_fastq(fasta)


def test_binary_files_are_refused(tmp_path):
    png = _write(tmp_path / "image.fa", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ValueError, match=r"image.fa: not a text FASTA file \(it holds binary data, e.g. a NUL byte at byte 9\)"):
        read_fasta(png)
    latin = _write(tmp_path / "latin.fa", b">r1\n\xff\xfeACGT\n")
    with pytest.raises(ValueError, match=r"latin.fa: not a text FASTA file \(byte 5 is not UTF-8 text\)"):
        read_fasta(latin)
    broken = _write(tmp_path / "cut.fa.gz", gzip.compress(FASTA.encode())[:-12])
    with pytest.raises(ValueError, match=r"cut.fa.gz: cannot be decompressed"):
        read_fasta(broken)


def test_other_text_empty_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match=r"notes.fa: not a FASTA file: expected the first line to start with '>', found 'hello'"):
        read_fasta(_write(tmp_path / "notes.fa", "hello\n>r1\nAC\n"))
    with pytest.raises(ValueError, match=r"empty.fa: the FASTA file is empty"):
        read_fasta(_write(tmp_path / "empty.fa", "\n\n"))
    with pytest.raises(FileNotFoundError, match=r"No such FASTA file: '.*nothing.fa'"):
        read_fasta(tmp_path / "nothing.fa")


# --------------------------------------------------------------------------------------------
# Label tables
# --------------------------------------------------------------------------------------------


def test_label_table_join_csv_and_tsv_with_groups(tmp_path):
    fasta = _write(tmp_path / "s.fa", FASTA)
    csv = _write(tmp_path / "labels.csv", "id,label,group\nr3,neg,d2\nr1,pos,d1\n\nr2,pos,d1\nunused,neg,d3\n")
    tsv = _write(tmp_path / "labels.tsv", "id\tlabel\tgroup\nr3\tneg\td2\nr1\tpos\td1\nr2\tpos\td1\n")
    for table in (csv, tsv):
        records = read_fasta_with_labels(fasta, table)
        assert records[["id", "label", "group"]].values.tolist() == [
            ["r1", "pos", "d1"], ["r2", "pos", "d1"], ["r3", "neg", "d2"]]
    table = read_label_table(csv)
    assert table["source"].tolist()[-1] == f"{csv}, line 6"  # the blank line still counts


def test_label_table_other_column_names(tmp_path):
    fasta = _write(tmp_path / "s.fa", FASTA)
    table = _write(tmp_path / "t.csv", "name,cls\nr1,a\nr2,b\nr3,a\n")
    records = read_fasta_with_labels(fasta, table, id_column="name", label_column="cls")
    assert records["label"].tolist() == ["a", "b", "a"] and "group" not in records
    with pytest.raises(ValueError, match=r"t.csv: no column 'label'; the columns are: name, cls. Pass label_column=... \(--label-column\)"):
        read_label_table(table, id_column="name")


def test_ids_missing_from_the_label_table_are_counted_and_shown(tmp_path):
    fasta = _write(tmp_path / "s.fa", "".join(f">r{i}\nACGT\n" for i in range(1, 11)))
    table = _write(tmp_path / "labels.csv", "id,label\nr1,a\nr2,b\nr3,a\n")
    message = (f"{fasta}: 7 of 10 records have no label in {table}: 'r4', 'r5', 'r6', 'r7', 'r8' and 2 more. "
               "Ids are the first word of each header (the table has ids such as 'r1').")
    with pytest.raises(ValueError, match=re.escape(message)):
        read_fasta_with_labels(fasta, table)
    with pytest.warns(UserWarning, match=r"7 of 10 records have no label.*They are left out"):
        records = read_fasta_with_labels(fasta, table, missing="drop")
    assert records["id"].tolist() == ["r1", "r2", "r3"]


def test_label_table_errors_name_the_line(tmp_path):
    duplicate = _write(tmp_path / "dup.csv", "id,label\nr1,a\nr2,b\nr1,b\n")
    with pytest.raises(ValueError, match=re.escape(f"Duplicate id 'r1' at {duplicate}, line 2 and {duplicate}, line 4")):
        read_label_table(duplicate)
    empty = _write(tmp_path / "empty.csv", "id,label\nr1,a\nr2, \n")
    with pytest.raises(ValueError, match=re.escape(f"{empty}, line 3: empty label")):
        read_label_table(empty)
    with pytest.raises(ValueError, match=r"no column 'donor'"):
        read_label_table(_write(tmp_path / "g.csv", "id,label\nr1,a\n"), group_column="donor")


# --------------------------------------------------------------------------------------------
# One FASTA per class, CSV with a sequence column
# --------------------------------------------------------------------------------------------


def test_one_fasta_per_class(tmp_path):
    pos = _write(tmp_path / "pos.fa", ">p1\nACGT\n>p2\nAAAA\n")
    neg = _write(tmp_path / "neg.fa.gz", ">n1\nCCCC\n", compress=True)
    records = read_fasta_per_class({"bound": pos, "unbound": neg})
    assert records[["id", "label"]].values.tolist() == [["p1", "bound"], ["p2", "bound"], ["n1", "unbound"]]
    clash = _write(tmp_path / "clash.fa", ">p2\nGGGG\n")
    with pytest.raises(ValueError, match=re.escape(f"Duplicate id 'p2' at {pos}, record 2 and {clash}, record 1")):
        read_fasta_per_class({"bound": pos, "other": clash})
    with pytest.raises(ValueError, match=r"at least two classes, got 1 \(bound\)"):
        read_fasta_per_class({"bound": pos})


def test_csv_with_padded_cells_like_the_uci_file(tmp_path):
    path = _write(tmp_path / "s.csv", "label,name,sequence\nEI,   a-1,     ACGTN\nIE,  a-2,  acgtr\n")
    records = read_sequence_csv(path, id_column="name")
    assert records.columns.tolist() == ["id", "sequence", "label", "source"]
    assert records[["id", "sequence", "label"]].values.tolist() == [["a-1", "ACGTN", "EI"], ["a-2", "acgtr", "IE"]]


def test_csv_errors_name_file_and_line(tmp_path):
    bad = _write(tmp_path / "bad.csv", "label,sequence\nEI,ACGT\nIE,ACXT\n")
    with pytest.raises(ValueError, match=re.escape(f"{bad}, line 3 ('line 3'): invalid letter 'X' at position 3")):
        read_sequence_csv(bad)
    with pytest.raises(ValueError, match=r"no column 'seq'; the columns are: label, sequence. Pass sequence_column=\.\.\. \(--sequence-column\)"):
        read_sequence_csv(bad, sequence_column="seq")
    empty = _write(tmp_path / "empty.csv", "label,sequence\nEI,ACGT\nIE,\n")
    with pytest.raises(ValueError, match=re.escape(f"{empty}, line 3: empty sequence")):
        read_sequence_csv(empty)


def test_csv_exact_repeats_are_kept_once_and_conflicts_refused(tmp_path):
    # The columns 'id' and 'group' are found without being named.
    path = _write(tmp_path / "r.csv", "id,label,sequence,group\nx,EI,ACGT,g1\ny,IE,GGGG,g2\nx,EI,ACGT,g1\n")
    with pytest.warns(UserWarning, match=r"r.csv: 1 rows repeat an earlier row exactly \('x'\)"):
        records = read_sequence_csv(path)
    assert records[["id", "group"]].values.tolist() == [["x", "g1"], ["y", "g2"]]
    conflict = _write(tmp_path / "c.csv", "id,label,sequence\nx,EI,ACGT\ny,IE,GGGG\nx,IE,ACGT\n")
    with pytest.raises(ValueError, match=re.escape(f"Duplicate id 'x' at {conflict}, line 2 and {conflict}, line 4")):
        read_sequence_csv(conflict)


def test_bundled_splice_junctions():
    path = os.path.join(ROOT, "datasets", "splice", "splice.csv")
    with pytest.warns(UserWarning, match=r"12 rows repeat an earlier row exactly"):
        records = read_sequence_csv(path, id_column="instance_name")
    assert len(records) == 3190 - 12
    assert set(records["sequence"].str.len()) == {60}
    assert records["label"].value_counts().to_dict() == {"N": 1655, "IE": 768 - 6, "EI": 767 - 6}  # 6 repeats each
    assert records["id"].iloc[0] == "ATRINS-DONOR-521"


def test_identical_sequences_share_a_group_and_labels_become_indices():
    assert identical_sequence_groups(["ACG", "TTT", "acg", "TTT", "G"]).tolist() == [0, 1, 0, 1, 2]
    y, names = class_indices(["N", "EI", "IE", "N"])
    assert y.tolist() == [2, 0, 1, 2] and names == ["EI", "IE", "N"]
    with pytest.raises(ValueError, match=r"Labels 'X' are not among the classes 'a', 'b'"):
        class_indices(["a", "X"], class_names=["a", "b"])


# --------------------------------------------------------------------------------------------
# BED on a reference genome
# --------------------------------------------------------------------------------------------

# chr1 = ACGTAC gtttga CCA (15 bp, the middle line soft-masked), wrapped at 6 bases per line.
GENOME = ">chr1 test chromosome\nACGTAC\ngtttga\nCCA\n>chr2\nGGGAAACCCT\n"
# samtools faidx by hand: name, length, offset of the first base, bases per line, bytes per line.
FAI = "chr1\t15\t22\t6\t7\nchr2\t10\t46\t10\t11\n"
BED = (
    "track name=test\n"
    "# a comment\n"
    "chr1\t4\t9\tpos\t0\t+\n"
    "chr1\t4\t9\tneg\t0\t-\n"
    "chr1\t10\t15\tpos\t0\t-\n"
    "chr2\t0\t3\tneg\n"
)
# Cut by hand: chr1[4:9] = ACgtt; its reverse complement aacGT; chr1[10:15] = gaCCA -> TGGtc.
EXPECTED = [
    ("chr1:4-9(+)", "ACgtt", "pos"),
    ("chr1:4-9(-)", "aacGT", "neg"),
    ("chr1:10-15(-)", "TGGtc", "pos"),
    ("chr2:0-3(.)", "GGG", "neg"),
]


@pytest.fixture
def bed(tmp_path):
    return _write(tmp_path / "peaks.bed", BED)


@pytest.mark.parametrize("layout", ["fai", "no_fai", "gzip"])
def test_bed_minus_strand_is_reverse_complemented(tmp_path, bed, layout):
    genome = _write(tmp_path / "genome.fa", GENOME, compress=layout == "gzip")
    if layout == "fai":
        _write(tmp_path / "genome.fa.fai", FAI)
    records = read_bed(bed, genome)
    assert list(zip(records["id"], records["sequence"], records["label"])) == EXPECTED
    assert records["source"].iloc[0] == f"{bed}, line 3"
    assert records["strand"].tolist() == ["+", "-", "-", "."]


def test_bed_uses_an_existing_fai_index(tmp_path, bed):
    genome = _write(tmp_path / "genome.fa", GENOME)
    _write(tmp_path / "genome.fa.fai", "chrX\t15\t22\t6\t7\n")
    with pytest.raises(ValueError, match=r"line 3: chromosome 'chr1' is not in the reference .*genome.fa \(it has chrX\)"):
        read_bed(bed, genome)


def test_bed_with_a_label_table_and_chromosome_groups(tmp_path):
    genome = _write(tmp_path / "genome.fa", GENOME)
    bed = _write(tmp_path / "named.bed", "chr1\t0\t4\tpeak1\t0\t-\nchr2\t5\t10\tpeak2\t0\t+\n")
    labels = _write(tmp_path / "labels.csv", "id,label\npeak2,open\npeak1,closed\n")
    records = read_bed(bed, genome, labels=labels, group_by_chromosome=True)
    assert records[["id", "sequence", "label", "group"]].values.tolist() == [
        ["peak1", "ACGT", "closed", "chr1"], ["peak2", "ACCCT", "open", "chr2"]]


def test_bed_errors_name_the_line(tmp_path):
    genome = _write(tmp_path / "genome.fa", GENOME)
    for text, message in [
        ("chr1\t4\t40\tpos\n", r"bad.bed, line 1: the interval ends at 40, past the end of 'chr1' \(15 bp\)"),
        ("chr1\t4\t9\tpos\nchr7\t0\t3\tneg\n", r"bad.bed, line 2: chromosome 'chr7' is not in the reference .* \(it has chr1, chr2\)"),
        ("chr1\t9\t4\tpos\n", r"bad.bed, line 1: expected 0 <= start < end"),
        ("chr1\tfour\t9\tpos\n", r"bad.bed, line 1: start and end must be integers, found 'four'"),
        ("chr1\t4\t9\n", r"bad.bed, line 1: no name \(column 4\), which holds the label"),
        ("chr1\t4\t9\tpos\t0\tplus\n", r"bad.bed, line 1: strand \(column 6\) must be"),
        ("chr1\t4\t9\tpos\nchr1\t4\t9\tneg\n", r"Duplicate id 'chr1:4-9\(.\)' at .*bad.bed, line 1 and .*bad.bed, line 2"),
    ]:
        with pytest.raises(ValueError, match=message):
            read_bed(_write(tmp_path / "bad.bed", text), genome)


def test_bed_reference_with_ragged_lines_needs_reformatting(tmp_path, bed):
    genome = _write(tmp_path / "ragged.fa", ">chr1\nACGTAC\nGTT\nTGACCA\n>chr2\nGGG\n")
    with pytest.raises(ValueError, match=r"ragged.fa, line 3: record 'chr1' has lines of different lengths.*samtools faidx"):
        read_bed(bed, genome)


def test_gzip_reference_errors_too(tmp_path):
    genome = _write(tmp_path / "genome.fa.gz", GENOME, compress=True)
    bed = _write(tmp_path / "b.bed", "chr1\t4\t9\tpos\nchr9\t0\t3\tneg\n")
    with pytest.raises(ValueError, match=r"b.bed, line 2: chromosome 'chr9' is not in the reference"):
        read_bed(bed, genome)
    bed = _write(tmp_path / "c.bed", "chr2\t4\t19\tpos\n")
    with pytest.raises(ValueError, match=r"c.bed, line 1: the interval ends at 19, past the end of 'chr2' \(10 bp\)"):
        read_bed(bed, genome)


def test_bed_sequences_one_hot_encode(tmp_path, bed):
    from biocnn.data import one_hot, reverse_complement

    records = read_bed(bed, _write(tmp_path / "genome.fa", GENOME))
    x = one_hot(records["sequence"], length=5)
    np.testing.assert_array_equal(x[1], reverse_complement(x[0]))  # + and - of one interval
    assert isinstance(records, pd.DataFrame)


# --------------------------------------------------------------------------------------------
# Hints that name the real problem (issue 18, item 8)
# --------------------------------------------------------------------------------------------


def test_a_semicolon_separated_table_is_named_not_sent_to_id_column(tmp_path):
    fasta = _write(tmp_path / "s.fa", FASTA)
    labels = _write(tmp_path / "l.csv", "id;label\nr1;pos\nr2;neg\nr3;pos\n")
    with pytest.raises(ValueError, match=r"l\.csv: no column 'id'; the columns are: id;label\. The header is one "
                                         r"column, 'id;label': the table seems separated by semicolons \(';'\)\. "
                                         r"Save it comma- or tab-separated") as error:
        read_fasta_with_labels(fasta, labels)
    assert "--id-column" not in str(error.value)


def test_a_cp1252_table_is_named_as_cp1252(tmp_path):
    fasta = _write(tmp_path / "s.fa", FASTA)
    labels = _write(tmp_path / "l.csv", "id,label\nr1,Zelltyp ä\nr2,Zelltyp ö\nr3,ä\n".encode("cp1252"))
    with pytest.raises(ValueError, match=r"l\.csv: not UTF-8 text \(byte 21\)\. It looks like Windows-1252 \(cp1252\) "
                                         r"text \('\.\.\.1,Zelltyp ä'\): save it as UTF-8") as error:
        read_fasta_with_labels(fasta, labels)
    assert "not a text" not in str(error.value)


def test_labels_without_a_sequence_are_reported(tmp_path):
    fasta = _write(tmp_path / "s.fa", FASTA)
    labels = _write(tmp_path / "l.csv", "id,label\nr1,pos\nr2,neg\nr3,pos\nr4,neg\nr_5,pos\n")
    with pytest.warns(UserWarning, match=r"l\.csv: 2 of 5 labelled ids have no sequence in .*s\.fa: 'r4', 'r_5'\. "
                                         r"They are left out\."):
        records = read_fasta_with_labels(fasta, labels)
    assert records["id"].tolist() == ["r1", "r2", "r3"]
