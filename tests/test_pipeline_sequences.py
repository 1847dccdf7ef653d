"""The sequence pipeline, run as a user runs it, on tiny hand-made files."""

import gzip
import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest
from Bio import motifs as bio_motifs

from biocnn.data import one_hot, reverse_complement

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "pipelines", "classify_sequences.py")
TINY_MODEL = "deepbind:filters=4,kernel_size=6,hidden_units=8"
LENGTH = 40


def _pipeline():
    spec = importlib.util.spec_from_file_location("classify_sequences", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_in_process(capsys, *args):
    """``main`` as the script runs it; returns (exit code, stdout, stderr)."""
    code = 0
    try:
        _pipeline().cli.run_main(_pipeline().main, list(args))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _sequences(n, seed):
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(list("ACGT"), LENGTH)) for _ in range(n)]
    # Half carry an NF-kB-like site; a few letters are soft-masked or ambiguous.
    texts = [t[:15] + "GGGACTTTCC" + t[25:] if i % 2 == 0 else t for i, t in enumerate(texts)]
    texts = [t[:3].lower() + t[3:] if i % 5 == 0 else t for i, t in enumerate(texts)]
    return [t[:-1] + "N" if i % 7 == 0 else t for i, t in enumerate(texts)]


@pytest.fixture(scope="module")
def labelled_fasta(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    texts = _sequences(72, seed=0)
    fasta = "".join(f">s{i} sample {i}\n{t[:20]}\n{t[20:]}\n" for i, t in enumerate(texts))
    (folder / "seqs.fa.gz").write_bytes(gzip.compress(fasta.encode()))
    table = pd.DataFrame({
        "id": [f"s{i}" for i in range(72)],
        "label": ["bound" if i % 2 == 0 else "unbound" for i in range(72)],
        "group": [f"donor{i // 6}" for i in range(72)],
    })
    table.sample(frac=1.0, random_state=0).to_csv(folder / "labels.tsv", sep="\t", index=False)
    return str(folder / "seqs.fa.gz"), str(folder / "labels.tsv"), dict(zip(table["id"], texts)), table


@pytest.fixture(scope="module")
def both_strands_run(labelled_fasta, tmp_path_factory):
    fasta, labels, _, _ = labelled_fasta
    out = str(tmp_path_factory.mktemp("runs") / "run")
    result = subprocess.run(
        [sys.executable, SCRIPT, "--fasta", fasta, "--labels", labels, "--model", TINY_MODEL, "--epochs", "2",
         "--batch-size", "16", "--rc-augment", "--rc-average", "--seed", "3", "--out", out,
         "--export", out + "_export"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return out, result


def test_run_directory_of_a_fasta_with_a_label_table(both_strands_run):
    out, result = both_strands_run
    assert "test (both strands): accuracy" in result.stdout
    assert result.stderr.strip() == ""
    assert {"config.json", "history.csv", "metrics.json", "model.keras", "training_curves.png", "predictions.csv",
            "per_class.csv", "confusion_matrix.csv", "confusion_matrix.png", "roc.png", "motifs.meme",
            "mutagenesis.png", "mutagenesis.npz"} <= set(os.listdir(out))
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["encoding"] == {"alphabet": "dna", "length": LENGTH, "align": "center",
                                  "ambiguity": "fractions", "unknown": "uniform", "letters": "ACGT"}
    assert config["test_time"] == {"rc_average": True, "tta": {"spec": "rc", "views": [[], [1, 2]]}}
    assert config["inputs"]["groups"] == "the group column"
    assert "ReverseComplement" in json.dumps(config["augmentation"])
    assert config["class_names"] == ["bound", "unbound"]
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert set(metrics["test"]["per_class"]) == {"bound", "unbound"}
    for row in metrics["test"]["per_class"].values():
        assert {"auroc", "auprc", "precision", "recall"} <= set(row)
    assert {"accuracy", "auroc", "auprc"} <= set(metrics["test_without_tta"])
    matrix = pd.read_csv(os.path.join(out, "confusion_matrix.csv"), index_col=0)
    assert matrix.to_numpy().sum() == metrics["test"]["num_samples"]


def test_reported_scores_are_the_mean_of_both_strands_of_the_saved_model(both_strands_run, labelled_fasta):
    out, _ = both_strands_run
    _, _, texts, table = labelled_fasta
    predictions = pd.read_csv(os.path.join(out, "predictions.csv"))
    x = one_hot([texts[i] for i in predictions["id"]], length=LENGTH)
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    expected = (model.predict(x, verbose=0) + model.predict(reverse_complement(x), verbose=0)) / 2
    np.testing.assert_allclose(predictions[["probability_bound", "probability_unbound"]], expected, atol=1e-5)
    truth = table.set_index("id").loc[predictions["id"], "label"].to_numpy()
    assert (predictions["label"].to_numpy() == truth).all()
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    accuracy = np.mean(np.array(["bound", "unbound"])[expected.argmax(1)] == truth)
    assert metrics["test"]["accuracy"] == pytest.approx(accuracy)


def test_no_group_is_split_between_test_and_training(both_strands_run, labelled_fasta):
    out, _ = both_strands_run
    table = labelled_fasta[3]
    tested = set(pd.read_csv(os.path.join(out, "predictions.csv"))["id"])
    for _, members in table.groupby("group")["id"]:
        assert set(members) <= tested or not set(members) & tested


def test_motifs_and_mutagenesis_files(both_strands_run):
    out, _ = both_strands_run
    with open(os.path.join(out, "motifs.meme")) as handle:
        record = bio_motifs.parse(handle, "minimal")
    assert record.alphabet == "ACGT" and 1 <= len(record) <= 4
    assert all(motif.length == 6 and motif.name.startswith("deepbind_conv1_filter") for motif in record)
    saved = np.load(os.path.join(out, "mutagenesis.npz"), allow_pickle=False)
    effects, sequences = saved["effects"], saved["sequences"]
    assert effects.shape == (len(sequences), LENGTH, 4) and 1 <= len(sequences) <= 2
    for effect, text in zip(effects, sequences):  # substituting a base by itself changes nothing
        for position, letter in enumerate(text.upper()):
            if letter in "ACGT":
                assert effect[position, "ACGT".index(letter)] == 0.0
    with open(os.path.join(out, "mutagenesis.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_one_fasta_per_class_in_process(tmp_path, capsys):
    texts = _sequences(40, seed=1)
    (tmp_path / "pos.fa").write_text("".join(f">p{i}\n{t}\n" for i, t in enumerate(texts[:20])))
    (tmp_path / "neg.fa").write_text("".join(f">n{i}\n{t[:30]}\n" for i, t in enumerate(texts[20:])))
    code, out, err = _run_in_process(
        capsys, "--class", f"pos={tmp_path / 'pos.fa'}", "--class", f"neg={tmp_path / 'neg.fa'}", "--model", TINY_MODEL,
        "--epochs", "1", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "note: lengths 30-40; padded to 40" in out and "test: accuracy" in out
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert set(predictions["label"]) == {"pos", "neg"}
    assert all(i[0] == {"pos": "p", "neg": "n"}[label] for i, label in zip(predictions["id"], predictions["label"]))
    metrics = json.load(open(tmp_path / "run" / "metrics.json"))
    assert "test_without_tta" not in metrics


def test_help_names_the_inputs_and_the_default_data(capsys):
    with pytest.raises(SystemExit) as exit_:
        _pipeline().parse_args(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--fasta", "--labels", "--class NAME=PATH", "--csv", "--sequence-column", "--label-column", "--bed",
                 "--reference", "--model", "--rc-augment", "--rc-average", "--epochs", "--seed", "--out"):
        assert flag in text
    assert "splice-junction" in text


def test_bad_input_from_a_user_is_one_line_naming_the_file(tmp_path, capsys):
    fasta = tmp_path / "reads.fa"
    fasta.write_text(">r1\nACGT\n>r2\nACGQ\n")
    (tmp_path / "labels.csv").write_text("id,label\nr1,a\nr2,b\n")
    code, _, err = _run_in_process(capsys, "--fasta", str(fasta), "--labels", str(tmp_path / "labels.csv"),
                                   "--out", str(tmp_path / "run"))
    assert code == 2
    assert err == (f"error: {fasta}, record 2 ('r2'): invalid letter 'Q' at position 4 for the dna alphabet. "
                             "Valid letters: ACGT, ambiguity codes RYSWKMBDHV, unknown N, in either case. "
                             "If these are proteins, use the 'protein' alphabet (--alphabet protein).\n")
    assert not os.path.exists(tmp_path / "run")


@pytest.mark.parametrize("files, arguments, message", [
    ({"t.csv": "label,sequence\n" + "a,ACGT\n" * 5 + "rare,ACGG\nrare,ACGA\n"}, ["--csv", "{t.csv}"],
     "error: {t.csv}: Too few samples to stratify the train/validation/test split: each class needs at least 3, "
     "but 'rare' has 2."),
    ({"s.fa": ">r1\nACGT\n>r2\nACGG\n>r3\nAAAA\n", "l.csv": "id,label\nr1,a\n"}, ["--fasta", "{s.fa}", "--labels", "{l.csv}"],
     "error: {s.fa}: 2 of 3 records have no label in {l.csv}: 'r2', 'r3'."),
    ({"s.fa": "@r1\nACGT\n+\nIIII\n", "l.csv": "id,label\nr1,a\n"}, ["--fasta", "{s.fa}", "--labels", "{l.csv}"],
     "error: {s.fa}: this looks like a FASTQ file (line 1 starts with '@'), not FASTA."),
    ({"s.fa": ">r1\nACGT\n"}, ["--fasta", "{s.fa}"], "error: --fasta needs --labels"),
    ({"s.fa": ">r1\nACGT\n", "t.csv": "label,sequence\n"}, ["--fasta", "{s.fa}", "--csv", "{t.csv}"],
     "error: Give one input, not --fasta and --csv."),
    ({"p.bed": "chr1\t0\t4\ta\n"}, ["--bed", "{p.bed}"], "error: --bed needs --reference"),
])
def test_bad_input_errors(tmp_path, capsys, files, arguments, message):
    def fill(text):  # "{s.fa}" -> the file's path
        for name in files:
            text = text.replace("{" + name + "}", str(tmp_path / name))
        return text

    for name, text in files.items():
        (tmp_path / name).write_text(text)
    code, _, err = _run_in_process(capsys, *map(fill, arguments), "--out", str(tmp_path / "run"))
    assert code == 2
    assert err.startswith(fill(message)) and err.count("\n") == 1
    assert not os.path.exists(tmp_path / "run")


def test_a_class_flag_without_a_path_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        _pipeline().parse_args(["--class", "bound", "--out", "x"])
    assert exit_.value.code == 2
    assert "argument --class: expected NAME=PATH (e.g. bound=pos.fa), got 'bound'" in capsys.readouterr().err


def test_export_serves_the_reported_test_scores_from_raw_strings(both_strands_run, labelled_fasta):
    import biocnn

    out, result = both_strands_run
    _, _, texts, _ = labelled_fasta
    assert f"export: {out}_export" in result.stdout
    served = biocnn.export.load(out + "_export")
    table = pd.read_csv(os.path.join(out, "predictions.csv"))
    got = served([texts[i] for i in table["id"]])
    expected = table[[f"probability_{c}" for c in served.class_names]].to_numpy()
    np.testing.assert_allclose(np.asarray(got["probabilities"]), expected, atol=1e-5)
