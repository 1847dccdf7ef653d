"""Streaming prediction and genome scans: windows against NumPy, streams against in-memory prediction,
bedGraph format, atomic outputs and bounded memory, on tiny exports and hand-made files."""

import gzip
import importlib.util
import io
import os

import h5py
import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from biocnn.data import Encoding, read_bed
from biocnn.data.genome import GenomeWindows, count_windows, read_regions
from biocnn.data.streams import FastaRecords, TableRows
from biocnn.export import load, predict_files, predict_stream, save
from biocnn.export.stream import CsvWriter, Progress, stream_predict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENCODING = Encoding("dna", length=8, align="center", unknown="uniform")


def _network(shape, classes, seed):
    keras.utils.set_random_seed(seed)
    conv = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}[len(shape) - 1]
    return keras.Sequential([keras.Input(shape), conv(3, 3, padding="same", activation="relu"), keras.layers.Flatten(),
                             keras.layers.Dense(classes, activation="softmax")])


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    models = {"seq": _network((8, 4), 2, 1), "image": _network((6, 6, 1), 3, 2), "volume": _network((4, 4, 4, 1), 2, 3)}
    save(models["seq"], root / "seq", encoding=ENCODING, class_names=["neg", "pos"], rc_average=True, embeddings=False)
    save(models["seq"], root / "fixed", encoding=Encoding("dna"), class_names=["neg", "pos"], embeddings=False)
    save(models["image"], root / "image", class_names=["a", "b", "c"], embeddings=False)
    save(models["volume"], root / "volume", class_names=["x", "y"], embeddings=False)
    return root, models, {name: load(root / name) for name in ("seq", "fixed", "image", "volume")}


def _fasta(path, records, width=7, compress=False):
    text = "".join(f">{name} description\n" + "".join(seq[i:i + width] + "\n" for i in range(0, len(seq), width))
                   for name, seq in records.items())
    if compress:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


# --- windows of a reference ---------------------------------------------------------------------


def test_windows_hand_worked():
    assert [w[1:3] for w in _scan(">c\nACGTACGTAC\n", 4, 3)] == [(0, 4), (3, 7), (6, 10)]
    assert [w[1:3] for w in _scan(">c\nACGTACGTAC\n", 4, 4)] == [(0, 4), (4, 8)]
    assert [w[1:] for w in _scan(">c\nACGTACGTAC\n", 4, 4, last="shift")] == [(0, 4, "ACGT"), (4, 8, "ACGT"), (6, 10, "GTAC")]
    assert [w[1:] for w in _scan(">c\nACGTACGTAC\n", 4, 4, last="pad")] == [(0, 4, "ACGT"), (4, 8, "ACGT"), (8, 10, "AC")]
    assert _scan(">c\nACG\n", 4, 1) == [] and _scan(">c\nACG\n", 4, 1, last="pad") == [("c", 0, 3, "ACG")]


def _scan(text, window, stride, **options):
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), "g.fa")
    with open(path, "w") as f:
        f.write(text)
    return list(GenomeWindows(path, window, stride, **options))


def _numpy_windows(chroms, window, stride, regions, last):
    """Independent reference: window starts as NumPy ranges, the tail policy by hand."""
    out = []
    for chrom, seq in chroms.items():
        for a, b in ([(0, len(seq))] if regions is None else regions.get(chrom, [])):
            starts = np.arange(a, b - window + 1, stride)
            ends = starts + window
            tail_covered = len(ends) and ends[-1] >= b
            if last == "shift" and b - a >= window and not tail_covered:
                starts, ends = np.append(starts, b - window), np.append(ends, b)
            elif last == "pad" and not tail_covered and a + len(starts) * stride < b:
                starts, ends = np.append(starts, a + len(starts) * stride), np.append(ends, b)
            out += [(chrom, int(s), int(e), seq[s:e]) for s, e in zip(starts, ends)]
    return out


@pytest.mark.parametrize("last", ["drop", "shift", "pad"])
@pytest.mark.parametrize("compress", [False, True])
def test_windows_equal_numpy_reference(tmp_path, last, compress):
    rng = np.random.default_rng(3)
    chroms = {f"chr{i}": "".join(rng.choice(list("ACGTNacgt"), n)) for i, n in enumerate((97, 3, 250))}
    path = _fasta(tmp_path / ("g.fa.gz" if compress else "g.fa"), chroms, width=11, compress=compress)
    bed = tmp_path / "regions.bed"
    bed.write_text("track name=x\nchr2\t100\t180\nchr0\t5\t40\tx\t0\t+\nchr2\t150\t200\nchr0\t60\t97\n")
    regions = read_regions(bed)
    assert regions == {"chr0": [(5, 40), (60, 97)], "chr2": [(100, 200)]}  # sorted, merged
    for window, stride, chunk in ((10, 3, 16), (7, 7, 5), (5, 9, 1000)):
        for reg in (None, regions):
            got = list(GenomeWindows(path, window, stride, regions=reg, last=last, chunk_size=chunk))
            assert got == _numpy_windows(chroms, window, stride, reg, last)
            assert count_windows({c: len(s) for c, s in chroms.items()}, window, stride, reg, last) == len(got)


def test_windows_refuse_bad_letters_and_regions(tmp_path):
    path = _fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 5 + "ACXT", "chr2": "ACGT"})
    with pytest.raises(ValueError, match=r"chromosome 'chr1' has the letter 'X' at position 23, outside the dna"):
        list(GenomeWindows(path, 4, 2))
    good = _fasta(tmp_path / "h.fa", {"chr1": "ACGT" * 5})
    (tmp_path / "r.bed").write_text("chr9\t0\t5\n")
    with pytest.raises(ValueError, match=r"regions: chromosome 'chr9' is not in the reference .*h.fa \(it has chr1\)"):
        list(GenomeWindows(good, 4, 2, regions=tmp_path / "r.bed"))
    (tmp_path / "r.bed").write_text("chr1\t0\t50\n")
    with pytest.raises(ValueError, match=r"chr1:0-50 ends past the end of 'chr1' \(20 bp\)"):
        list(GenomeWindows(good, 4, 2, regions=tmp_path / "r.bed"))
    (tmp_path / "r.bed").write_text("chr1\t9\t5\n")
    with pytest.raises(ValueError, match=r"r.bed, line 1: expected 0 <= start < end"):
        read_regions(tmp_path / "r.bed")
    with pytest.raises(ValueError, match="last must be one of"):
        GenomeWindows(good, 4, 2, last="keep")


def test_windows_memory_is_a_chunk_not_a_chromosome(tmp_path):
    path = _fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 5000}, width=60)
    scan = GenomeWindows(path, 200, 50, chunk_size=1000)
    assert sum(1 for _ in scan) == scan.windows == (20000 - 200) // 50 + 1
    # The buffer holds about one chunk plus two windows (and a line), never the 20 kbp chromosome.
    assert 1000 <= scan.max_buffered <= 1000 + 2 * 200 + 60
    assert scan.chromosomes == {"chr1": 20000}


# --- streams equal in-memory prediction ------------------------------------------------------------


def _rc(seq):
    return seq[::-1].translate(str.maketrans("ACGTNacgtn", "TGCANtgcan"))


def test_genome_scan_csv_and_bedgraph(exports, tmp_path):
    root, models, loaded = exports
    rng = np.random.default_rng(4)
    chroms = {"chrA": "".join(rng.choice(list("ACGTN"), 41)), "chrB": "".join(rng.choice(list("acgt"), 23))}
    genome = _fasta(tmp_path / "g.fa.gz", chroms, compress=True)
    summary = predict_stream(loaded["seq"], tmp_path / "scan.csv", genome=genome, window=10, stride=4, last="shift",
                             bedgraph=tmp_path / "scan.bedgraph", batch_size=3, progress_every=0)
    windows = _numpy_windows(chroms, 10, 4, None, "shift")
    # rc_average: the mean of both strands; windows of 10 are centre-cropped to the model's 8.
    x = [w[3] for w in windows]
    expected = (models["seq"](ENCODING.encode(x)).numpy() + models["seq"](ENCODING.encode([_rc(s) for s in x])).numpy()) / 2
    table = pd.read_csv(tmp_path / "scan.csv")
    assert list(table.columns) == ["chrom", "start", "end", "predicted", "probability_neg", "probability_pos"]
    assert table[["chrom", "start", "end"]].values.tolist() == [[c, s, e] for c, s, e, _ in windows]
    np.testing.assert_allclose(table[["probability_neg", "probability_pos"]], expected, rtol=1e-5, atol=1e-6)
    assert summary["cropped"] == len(windows) and summary["strands"].startswith("both strands")

    lines = (tmp_path / "scan.bedgraph").read_text().splitlines()
    assert lines[0].startswith('track type=bedGraph name="seq pos"') and len(lines) == len(windows) + 1
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(r) == 4 for r in rows)
    for (chrom, start, end, _), row, p in zip(windows, rows, expected[:, 1]):
        assert row[0] == chrom and float(row[3]) == pytest.approx(p, rel=1e-5)
    # Each window's centre 4 bases, clipped to never overlap the previous interval of its chromosome.
    previous = {}
    for (chrom, start, end, _), row in zip(windows, rows):
        left, right = int(row[1]), int(row[2])
        centre = start + (end - start - 4) // 2
        assert right == centre + 4 and left == max(centre, previous.get(chrom, 0)) and left < right
        previous[chrom] = right


def test_genome_scan_refuses_a_window_the_model_cannot_take(exports, tmp_path):
    _, _, loaded = exports
    genome = _fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 10})
    with pytest.raises(ValueError, match=r"--window 10: this model takes sequences of exactly 8 letters"):
        predict_stream(loaded["fixed"], tmp_path / "p.csv", genome=genome, window=10, stride=4)
    assert predict_stream(loaded["fixed"], tmp_path / "p.csv", genome=genome, window=8, stride=4)["samples"] == 9


def test_sequence_streams_equal_in_memory_prediction(exports, tmp_path):
    root, models, loaded = exports
    records = {"r1": "ACGTACGTAC", "r2": "acgtnRYk", "r3": "ACG", "r4": "TTTTTTTTTTTTTTTT", "r5": "GATTACA"}
    fasta = _fasta(tmp_path / "reads.fa.gz", records, compress=True)
    summary = predict_stream(loaded["seq"], tmp_path / "s.csv", fasta=fasta, batch_size=2)
    memory = predict_files(loaded["seq"], fasta=fasta)
    streamed = pd.read_csv(tmp_path / "s.csv")
    assert streamed["id"].tolist() == list(records)
    np.testing.assert_allclose(streamed.iloc[:, 2:], memory.iloc[:, 2:], rtol=1e-6)
    assert (summary["cropped"], summary["padded"]) == (2, 2)

    csv = tmp_path / "lab.tsv"
    csv.write_text("name\tseq\n" + "".join(f"{k}\t{v}\n" for k, v in records.items()))
    predict_stream(loaded["seq"], tmp_path / "c.csv", csv=csv, sequence_column="seq", id_column="name", batch_size=2)
    np.testing.assert_allclose(pd.read_csv(tmp_path / "c.csv").iloc[:, 2:], memory.iloc[:, 2:], rtol=1e-6)
    assert [r[0] for r in TableRows(csv, {"s": "seq"}, chunk_rows=2)] == [2, 3, 4, 5, 6]

    reference = _fasta(tmp_path / "genome.fa", {"chr1": "ACGTTGCAAGGCTTAACCGGTACG", "chr2": "TTTTGGGGCCCCAAAA"})
    bed = tmp_path / "peaks.bed"
    bed.write_text("chr1\t2\t12\tp1\t0\t+\nchr2\t0\t8\tp2\t0\t-\nchr1\t10\t20\tp3\t0\t-\n")
    predict_stream(loaded["seq"], tmp_path / "b.csv", bed=bed, reference=reference, batch_size=2)
    cut = read_bed(bed, reference)  # biocnn's in-memory BED reader: same cuts, minus strand reverse-complemented
    table = pd.read_csv(tmp_path / "b.csv")
    assert table[["chrom", "start", "end", "strand", "name"]].values.tolist() == \
        cut[["chrom", "start", "end", "strand", "label"]].values.tolist()
    np.testing.assert_allclose(table.iloc[:, 6:], loaded["seq"](cut["sequence"].tolist())["probabilities"], rtol=1e-6)


def test_image_volume_and_stack_streams_equal_in_memory_prediction(exports, tmp_path):
    root, models, loaded = exports
    rng = np.random.default_rng(5)
    for i in range(5):
        (tmp_path / "tiles" / f"s{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8)).save(tmp_path / "tiles" / f"s{i % 2}" / f"{i}.png")
    predict_stream(loaded["image"], tmp_path / "i.csv", folder=tmp_path / "tiles", batch_size=2)
    memory = predict_files(loaded["image"], folder=tmp_path / "tiles")
    streamed = pd.read_csv(tmp_path / "i.csv")
    assert streamed["id"].tolist() == memory["id"].tolist()
    np.testing.assert_allclose(streamed.iloc[:, 2:], memory.iloc[:, 2:], rtol=1e-6)

    (tmp_path / "tiles.csv").write_text("path,note\n" + "".join(f"tiles/{i},x\n" for i in memory["id"]))
    predict_stream(loaded["image"], tmp_path / "t.csv", csv=tmp_path / "tiles.csv", batch_size=2)
    listed = pd.read_csv(tmp_path / "t.csv")
    assert listed["id"].tolist() == [f"tiles/{i}" for i in memory["id"]]
    np.testing.assert_allclose(listed.iloc[:, 2:], memory.iloc[:, 2:], rtol=1e-6)
    (tmp_path / "missing.csv").write_text("path\ntiles/none.png\n")
    with pytest.raises(FileNotFoundError, match=r"missing.csv, line 2: no such file .*tiles/none.png' \(column 'path'"):
        predict_stream(loaded["image"], tmp_path / "m.csv", csv=tmp_path / "missing.csv")

    stack = rng.integers(0, 65535, (7, 6, 6), dtype=np.uint16)
    with h5py.File(tmp_path / "tiles.h5", "w") as f:
        f["tiles"] = stack
    np.savez(tmp_path / "tiles.npz", tiles=stack)
    predict_stream(loaded["image"], tmp_path / "h.csv", h5=tmp_path / "tiles.h5", batch_size=3)
    predict_stream(loaded["image"], tmp_path / "n.csv", npz=tmp_path / "tiles.npz", batch_size=3)
    expected = models["image"]((stack / 65535.0).astype(np.float32)[..., None]).numpy()
    for name in ("h.csv", "n.csv"):
        table = pd.read_csv(tmp_path / name)
        assert table["id"].tolist() == [f"tiles[{i}]" for i in range(7)]
        np.testing.assert_allclose(table.iloc[:, 2:], expected, rtol=1e-5, atol=1e-6)

    (tmp_path / "vols").mkdir()
    volumes = rng.random((3, 4, 4, 4)).astype(np.float32)
    for i, v in enumerate(volumes):
        np.save(tmp_path / "vols" / f"v{i}.npy", v)
    predict_stream(loaded["volume"], tmp_path / "v.csv", folder=tmp_path / "vols", batch_size=2)
    np.testing.assert_allclose(pd.read_csv(tmp_path / "v.csv").iloc[:, 2:], models["volume"](volumes[..., None]).numpy(),
                               rtol=1e-5, atol=1e-6)
    with h5py.File(tmp_path / "vols.h5", "w") as f:
        f["ct"] = volumes
    predict_stream(loaded["volume"], tmp_path / "vh.csv", h5=tmp_path / "vols.h5", batch_size=2)
    np.testing.assert_allclose(pd.read_csv(tmp_path / "vh.csv").iloc[:, 2:], pd.read_csv(tmp_path / "v.csv").iloc[:, 2:])


# --- atomic, incremental, bounded ---------------------------------------------------------------


def test_a_failed_run_leaves_no_file_and_keeps_the_old_one(exports, tmp_path):
    _, _, loaded = exports
    records = {f"r{i}": "ACGTACGT" for i in range(9)}
    records["bad"] = "ACGTZ"
    fasta = _fasta(tmp_path / "reads.fa", records)
    with pytest.raises(ValueError, match=r"record 10 \('bad'\): invalid letter 'Z' at position 5"):
        predict_stream(loaded["seq"], tmp_path / "p.csv", fasta=fasta, batch_size=2)
    assert sorted(os.listdir(tmp_path)) == ["reads.fa"]  # no output, no temporary file left

    (tmp_path / "p.csv").write_text("precious\n")
    with pytest.raises(FileExistsError, match="already exists. Pass --overwrite"):
        predict_stream(loaded["seq"], tmp_path / "p.csv", fasta=fasta)
    with pytest.raises(ValueError, match="invalid letter"):
        predict_stream(loaded["seq"], tmp_path / "p.csv", fasta=fasta, overwrite=True)
    assert (tmp_path / "p.csv").read_text() == "precious\n"


def test_output_is_incremental_and_memory_is_a_few_batches(exports, tmp_path):
    _, _, loaded = exports
    batch, prefetch, total = 4, 2, 200
    pulled, written, seen_partial = [0], [0], []
    out = tmp_path / "p.csv"

    def samples():
        for i in range(total):
            pulled[0] += 1
            # What was read but not yet predicted is at most the queue plus the batches in hand.
            assert pulled[0] - written[0] <= (prefetch + 3) * batch
            if i == total // 2:
                temporary = [f for f in os.listdir(tmp_path) if f.startswith(".p.csv.")]
                seen_partial.append((out.exists(), len(temporary), os.path.getsize(tmp_path / temporary[0])))
            yield (f"s{i}",), "ACGTACGT", f"s{i}"

    class Counting(CsvWriter):
        def write(self, keys, probabilities):
            super().write(keys, probabilities)
            written[0] += len(keys)

    assert stream_predict(loaded["seq"], samples(), [Counting(out, ["id"], ["neg", "pos"])], batch_size=batch,
                          prefetch=prefetch) == total
    exists, temporaries, size = seen_partial[0]
    assert not exists and temporaries == 1 and size > 0  # rows already on disk, under a hidden name
    assert len(pd.read_csv(out)) == total and not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_progress_lines():
    stream = io.StringIO()
    progress = Progress("windows", total=100, every=0, stream=stream)
    progress.update(25)
    progress.close(100)
    first, last = stream.getvalue().splitlines()
    assert first.startswith("predict: 25 windows, ") and "25.0% of the input, ETA " in first
    assert last.startswith("predicted 100 windows in 0:00:0")


def test_pipeline_scans_a_genome(exports, tmp_path, capsys):
    root, _, _ = exports
    spec = importlib.util.spec_from_file_location("predict_pipeline", os.path.join(ROOT, "pipelines", "predict.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    genome = _fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 12, "chr2": "ACG"})
    (tmp_path / "r.bed").write_text("chr1\t0\t30\n")
    module.main(["--model", str(root / "seq"), "--genome", str(genome), "--window", "8", "--stride", "5",
                 "--regions", str(tmp_path / "r.bed"), "--bedgraph", str(tmp_path / "s.bg"), "--progress-every", "0"])
    out, err = capsys.readouterr()
    assert "strands: both strands averaged (the export's rc_average)." in out
    assert "bedGraph tracks: P(pos)" in out and "5 predictions" in out and "predicted 5 windows" in err
    assert [line.split("\t")[1:3] for line in (tmp_path / "s.bg").read_text().splitlines()[1:]] == \
        [["1", "6"], ["6", "11"], ["11", "16"], ["16", "21"], ["21", "26"]]
    with pytest.raises(ValueError, match="--bedgraph is written for genome scans only"):
        module.main(["--model", str(root / "seq"), "--fasta", str(genome), "--bedgraph", str(tmp_path / "x.bg")])
    assert FastaRecords(genome).fraction_read() == 0.0
