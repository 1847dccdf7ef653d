"""Train and evaluate a 1D CNN on labelled DNA, RNA or protein sequences.

Input, one of:

    --fasta seqs.fa --labels labels.csv        FASTA (or --fastq) + a table: id, label[, group]
    --class bound=pos.fa --class unbound=neg.fa one FASTA file per class
    --csv table.csv --sequence-column sequence --label-column label [--id-column ID]
    --bed peaks.bed --reference genome.fa       intervals (label in the name column, or
                                                 --labels keyed by name); minus strand
                                                 reverse-complemented

Default: the bundled UCI primate splice-junction sequences (3190 x 60 bp; exon-intron,
intron-exon or neither). Files may be gzip-compressed. Sequences are one-hot encoded (IUPAC
ambiguity codes as fractions, N = 0.25 each; lowercase accepted) and cropped or padded to one
length around their centre; the encoding goes into config.json. A test split is held out
(stratified, or by group when the data have a group column; identical sequences are always kept
on one side), "val" chooses the learning-rate drops, early stopping and the epoch kept, and the
test split is evaluated once at the end.

Writes the run directory (config.json, history.csv, metrics.json with per-class AUROC and
AUPRC, model.keras, training_curves.png, predictions.csv, per_class.csv, confusion_matrix.csv
and .png, roc.png, checkpoints/) and the sequence interpretation: motifs.meme (first-layer
filters as PWMs, for TomTom) and mutagenesis.png/.npz (every single-base substitution of one
test sequence per class).

    python pipelines/classify_sequences.py --out runs/splice_deepbind

The default model, DeepBind, max-pools its motif detectors over the whole sequence: right for
binding sites, which may sit anywhere. Splice junctions sit at the centre of the window, and a
network that keeps positions does better; the recorded result (pipelines/results/splice/,
test accuracy 0.953, macro AUROC 0.994, about 80 s on 2 CPU cores):

    python pipelines/classify_sequences.py --csv datasets/splice/splice.csv --sequence-column sequence \
        --label-column label --id-column instance_name --model lenet5:dropout=0.5,width_multiplier=4 \
        --lr 0.05 --seed 0 --out runs/splice_lenet5

Splice sites are strand-specific, so --rc-augment and --rc-average are for data that are not
(binding sites, open chromatin).
"""

import argparse
import contextlib
import os
import sys
import warnings

import numpy as np

import biocnn
from biocnn import augment, cli, evaluation, interpret, losses
from biocnn.data import (
    Encoding,
    class_indices,
    identical_sequence_groups,
    read_bed,
    read_fasta_per_class,
    read_fasta_with_labels,
    read_sequence_csv,
    reverse_complement,
)
from biocnn.experiment import train_and_evaluate, write_test_report
from biocnn.rundir import RunDirectory, atomic_path
from biocnn.splits import check_stratifiable, train_val_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
SPLICE_CSV = os.path.normpath(os.path.join(HERE, "..", "datasets", "splice", "splice.csv"))
SPLICE_ID_COLUMN = "instance_name"
MOTIF_SEQUENCES = 5000  # training sequences scanned for the filters' sites


def class_file(text):
    name, equals, path = text.partition("=")
    if not equals or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (e.g. bound=pos.fa), got {text!r}")
    return name.strip(), path.strip()


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("input (one of; default: the bundled splice junctions)")
    data.add_argument("--fasta", help="FASTA file; labels come from --labels")
    data.add_argument("--fastq", help="FASTQ file; labels come from --labels")
    data.add_argument("--class", dest="classes", action="append", type=class_file, metavar="NAME=PATH",
                      help="one FASTA file per class (repeat for each class)")
    data.add_argument("--csv", help="CSV/TSV with one sequence per row")
    data.add_argument("--bed", help="BED intervals (chrom, start, end, name, score, strand)")
    data.add_argument("--reference", help="reference genome FASTA for --bed (a .fai next to it is used)")
    data.add_argument("--labels", help="label table (CSV/TSV: id, label, optional group) for --fasta/--fastq/--bed")
    data.add_argument("--id-column", help="id column of --labels (default id) or --csv (default: id if present, "
                                          "else line numbers)")
    data.add_argument("--label-column", default="label", help="label column (default %(default)s)")
    data.add_argument("--sequence-column", default="sequence", help="sequence column of --csv (default %(default)s)")
    data.add_argument("--group-column", help="groups kept on one side of the splits (default: a column named group)")
    data.add_argument("--group-by-chromosome", action="store_true", help="--bed: hold out whole chromosomes")
    data.add_argument("--drop-unlabelled", action="store_true", help="leave out records missing from --labels")
    enc = parser.add_argument_group("encoding")
    enc.add_argument("--alphabet", default="dna", choices=("dna", "rna", "protein"))
    enc.add_argument("--length", type=int, help="crop/pad every sequence to this length (default: the longest)")
    enc.add_argument("--align", default="center", choices=("center", "start", "end"),
                     help="part kept when cropping, and where padding goes (default %(default)s)")
    enc.add_argument("--ambiguity", default="fractions", choices=("fractions", "zeros"),
                     help="IUPAC codes such as R: split over their bases or zeros (default %(default)s)")
    enc.add_argument("--unknown", default="uniform", choices=("uniform", "zeros"),
                     help="N (X for protein): uniform or zeros (default %(default)s)")
    model = parser.add_argument_group("model and strands")
    model.add_argument("--model", default="deepbind",
                       help="a name, with options: deepbind:filters=32,kernel_size=11 (default %(default)s); "
                            f"one of {', '.join(n for n, r in biocnn.models.available().items() if 1 in r)}")
    model.add_argument("--rc-augment", action="store_true",
                       help="train on the reverse complement of half the sequences (not for strand-specific data)")
    model.add_argument("--augment", default="none", help="a biocnn.augment policy or spec, e.g. 'shift=3'")
    model.add_argument("--rc-average", action="store_true",
                       help="test on the average of the forward and reverse-complement predictions")
    model.add_argument("--test-size", type=float, default=0.2, help="fraction held out for test (default %(default)s)")
    model.add_argument("--val-size", type=float, default=0.1, help="fraction for validation (default %(default)s)")
    model.add_argument("--motif-threshold", type=float, default=0.5,
                       help="a window is a filter's site above this fraction of its top activation")
    cli.add_training_arguments(parser)
    biocnn.export.add_export_argument(parser)
    parser.set_defaults(epochs=60, batch_size=64, lr=0.01, patience=12)
    return parser.parse_args(argv)


@contextlib.contextmanager
def warnings_as_notes():
    """Library warnings (repeated rows, filters without sites) become one-line notes on stdout."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        print(f"note: {warning.message}", flush=True)


def read_records(args):
    """The labelled sequences of whichever input was given."""
    flags = {"fasta": "--fasta", "fastq": "--fastq", "classes": "--class", "csv": "--csv", "bed": "--bed"}
    given = [flag for attribute, flag in flags.items() if getattr(args, attribute)]
    if len(given) > 1:
        raise ValueError(f"Give one input, not {' and '.join(given)}.")
    missing = "drop" if args.drop_unlabelled else "error"
    id_column = args.id_column or "id"
    if args.fasta or args.fastq:
        if not args.labels:
            raise ValueError(f"--{'fasta' if args.fasta else 'fastq'} needs --labels (a table: id, label[, group]); "
                             "or give one FASTA per class with --class NAME=PATH.")
        return read_fasta_with_labels(args.fasta or args.fastq, args.labels, id_column, args.label_column,
                                      args.group_column, args.alphabet, missing, fastq=bool(args.fastq))
    if args.classes:
        classes = dict(args.classes)
        if len(classes) != len(args.classes):
            raise ValueError("--class: each class name may be given once.")
        return read_fasta_per_class(classes, args.alphabet)
    if args.bed:
        if not args.reference:
            raise ValueError("--bed needs --reference (the genome FASTA the intervals are on).")
        return read_bed(args.bed, args.reference, args.labels, id_column, args.label_column, args.group_column,
                        args.group_by_chromosome, args.alphabet)
    csv = args.csv or SPLICE_CSV
    id_column = args.id_column or (SPLICE_ID_COLUMN if not args.csv else None)
    return read_sequence_csv(csv, args.sequence_column, args.label_column, id_column, args.group_column,
                             args.alphabet)


def augmentation(args, encoding):
    """The training-time augmentation: a policy or spec, with reverse complement for --rc-augment."""
    spec = augment.POLICIES[args.augment][0] if args.augment in augment.POLICIES else args.augment
    if args.rc_augment and "revcomp" not in spec:
        spec = ",".join(entry for entry in ("revcomp", spec) if entry)
    return augment.policy(spec, rank=1, seed=args.seed, channels=encoding.channels) if spec else None


def split_groups(records):
    """Groups for the held-out splits: the data's own, else identical sequences kept together."""
    if "group" in records:
        return records["group"].to_numpy(), "the group column"
    groups = identical_sequence_groups(records["sequence"])
    if len(np.unique(groups)) == len(groups):
        return None, None
    repeats = len(groups) - len(np.unique(groups))
    print(f"note: {repeats} sequences repeat another one; identical sequences stay on one side of the splits",
          flush=True)
    return groups, "identical sequences"


def both_strands(model, x):
    """The mean of the predictions for the forward and the reverse-complement strand."""
    forward = model.predict(x, batch_size=256, verbose=0)
    return (forward + model.predict(reverse_complement(x), batch_size=256, verbose=0)) / 2.0


def report_rc_average(run, model, splits, config, class_names, ids, metrics):
    """Re-score val and test on both strands; the forward-only numbers are kept alongside."""
    loss_fn = losses.get(config.loss)
    for split in ("val", "test"):
        x, y = splits[split]
        scores = both_strands(model, x)
        metrics[f"{split}_forward_strand_only"] = metrics[split]
        metrics[split] = {**evaluation.classification_metrics(y, scores), "loss": float(loss_fn(y, scores))}
    per_class = write_test_report(run, splits["test"][1], scores, class_names, ids=ids["test"])
    metrics["test"]["per_class"] = per_class.set_index("class").to_dict(orient="index")
    run.write_json("metrics.json", metrics)


def interpret_model(run, model, splits, encoding, class_names, ids, test_sequences, threshold):
    """motifs.meme from the first convolution; mutagenesis of one confident test sequence per class."""
    try:
        motifs = interpret.filter_pwms(model, splits["train"][0][:MOTIF_SEQUENCES], threshold=threshold)
    except ValueError as error:  # a model without Conv1D (mlp): no motifs
        print(f"note: no motifs.meme ({error})", flush=True)
    else:
        with warnings_as_notes():
            written = interpret.write_meme(run.file("motifs.meme"), motifs, alphabet=encoding.alphabet)
        print(f"motifs.meme: {written} first-layer filters as PWMs", flush=True)
    x, y = splits["test"]
    scores = evaluation.class_scores(model.predict(x, batch_size=256, verbose=0))
    chosen = []
    for c in range(len(class_names)):
        right = np.flatnonzero((y == c) & (scores.argmax(1) == c))
        if len(right):
            chosen.append(right[np.argmax(scores[right, c])])
    if not chosen:
        return
    chosen = np.array(chosen)
    # Probabilities (a softmax head) are compared as logs, so confident predictions still show
    # the positions they rest on.
    log = bool(np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3))
    effects = interpret.in_silico_mutagenesis(model, x[chosen], target=y[chosen], log=log)
    sequences = [encoding.fit_length(test_sequences[i]).replace("\0", "-") for i in chosen]
    titles = [f"{ids['test'][i]}: class {class_names[y[i]]} (score {scores[i, y[i]]:.3f})" for i in chosen]
    interpret.plot_mutagenesis(effects, sequences, run.file("mutagenesis.png"), encoding.letters, titles,
                               colorbar_label="change of log probability" if log else "score change")
    with atomic_path(run.file("mutagenesis.npz")) as tmp:
        np.savez(tmp, effects=effects, ids=np.array([ids["test"][i] for i in chosen]), sequences=np.array(sequences),
                 targets=np.array([class_names[y[i]] for i in chosen]), letters=np.array(encoding.letters))


def main(argv=None):
    args = parse_args(argv)
    config = cli.training_config(args)
    biocnn.export.check_export_argument(args)
    if args.alphabet == "protein" and (args.rc_augment or args.rc_average):
        raise ValueError("--rc-augment and --rc-average need DNA or RNA: proteins have no reverse complement.")
    with warnings_as_notes():
        records = read_records(args)
    source = records.attrs.get("path", "the input")

    lengths = records["sequence"].str.len()
    encoding = Encoding(args.alphabet, args.length or int(lengths.max()), args.align, args.ambiguity, args.unknown)
    if args.length is None and lengths.min() != lengths.max():
        print(f"note: lengths {lengths.min()}-{lengths.max()}; padded to {encoding.length} (--length to choose)")
    x = encoding.encode(records["sequence"], names=records["source"])
    y, class_names = class_indices(records["label"])
    groups, grouping = split_groups(records)
    try:
        check_stratifiable(y, 3, "train/validation/test split", class_names)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None
    parts = train_val_test_split(y, args.test_size, args.val_size, groups, args.seed, class_names)
    splits = {name: (x[index], y[index]) for name, index in parts.items()}
    ids = {name: records["id"].to_numpy()[index] for name, index in parts.items()}
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=args.resume)

    biocnn.training.set_seed(args.seed)
    name, options = biocnn.models.parse_spec(args.model)
    model = biocnn.models.create(name, x.shape[1:], len(class_names), **options)
    train_augmentation = augmentation(args, encoding)
    print(f"{args.model}: {model.count_params():,} parameters; {len(records)} sequences of {encoding.length} "
          f"({', '.join(f'{c} {n}' for c, n in zip(class_names, np.bincount(y)))}); "
          + ", ".join(f"{s} {len(i)}" for s, i in parts.items()), flush=True)

    extra = {
        "encoding": encoding.to_dict(),
        "input": {"source": source, "records": len(records), "split_groups": grouping},
        "test_time": {"rc_average": bool(args.rc_average)},
    }
    result = train_and_evaluate(run, model, splits, config, vars(args), class_names, ids,
                                augmentation=train_augmentation, extra_config=extra)
    metrics = result.metrics
    if args.rc_average:
        report_rc_average(run, model, splits, config, class_names, ids, metrics)
    test_sequences = records["sequence"].to_numpy()[parts["test"]]
    interpret_model(run, model, splits, encoding, class_names, ids, test_sequences, args.motif_threshold)

    test = metrics["test"]
    print(
        f"test{' (both strands)' if args.rc_average else ''}: accuracy {test['accuracy']:.3f}, "
        f"AUROC {test['auroc']:.3f}, AUPRC {test['auprc']:.3f} (best epoch {metrics['best_epoch']}); "
        f"run directory: {run.path}"
    )
    biocnn.export.export_run(args, run.path)


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
