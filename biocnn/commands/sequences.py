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
on one side; --split-seed), "val" chooses the learning-rate drops, early stopping and the epoch
kept, and the test split is evaluated once at the end.

Writes the run directory (config.json, history.csv, metrics.json with per-class AUROC and
AUPRC, model.keras, training_curves.png, predictions.csv, per_class.csv, confusion_matrix.csv
and .png, roc.png; checkpoints/ while training) and the sequence interpretation: motifs.meme (first-layer
filters as PWMs, for TomTom) and mutagenesis.png/.npz (every single-base substitution of one
test sequence per class).

    biocnn sequences --out runs/splice_deepbind

The default model, DeepBind, max-pools its motif detectors over the whole sequence: right for
binding sites, which may sit anywhere. Splice junctions sit at the centre of the window, and a
network that keeps positions does better; the recorded result (pipelines/results/splice/,
test accuracy 0.953, macro AUROC 0.994, about 80 s on 2 CPU cores):

    biocnn sequences --csv datasets/splice/splice.csv --sequence-column sequence \\
        --label-column label --id-column instance_name --model lenet5:dropout=0.5,width_multiplier=4 \\
        --lr 0.05 --seed 0 --out runs/splice_lenet5

Splice sites are strand-specific, so --rc-augment and --rc-average (--tta rc: val and test
scored on both strands, the export serving both) are for data that are not (binding sites,
open chromatin).
"""

import contextlib
import os
import sys
import warnings

from biocnn import cli

DATASETS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "datasets")
SPLICE_CSV = os.path.join(DATASETS, "splice", "splice.csv")
SPLICE_ID_COLUMN = "instance_name"
MOTIF_SEQUENCES = 5000  # training sequences scanned for the filters' sites


def build_parser():
    parser = cli.parser(__doc__)
    cli.add_source_arguments(parser, ("sequences",), stream=False)
    cli.add_split_arguments(parser)
    model = cli.add_model_arguments(parser, "sequences")
    model.add_argument("--rc-augment", action="store_true",
                       help="train on the reverse complement of half the sequences (not for strand-specific data)")
    model.add_argument("--rc-average", action="store_true",
                       help="test on the average of the forward and reverse-complement predictions (the same as "
                            "--tta rc; the export averages both strands too)")
    model.add_argument("--motif-threshold", type=float, default=0.5,
                       help="a window is a filter's site above this fraction of its top activation")
    cli.add_training_arguments(parser, "sequences")
    parser.set_defaults(biocnn_command="sequences")
    return parser


def parse_args(argv):
    return build_parser().parse_args(argv)


@contextlib.contextmanager
def warnings_as_notes():
    """Library warnings (repeated rows, filters without sites) become one-line notes on stdout."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        if not issubclass(warning.category, DeprecationWarning):
            print(f"note: {warning.message}", flush=True)


def interpret_model(run, model, splits, source, parts, threshold):
    """motifs.meme from the first convolution; mutagenesis of one confident test sequence per class."""
    import numpy as np

    from biocnn import evaluation, interpret
    from biocnn.data import Encoding
    from biocnn.rundir import atomic_path

    encoding = Encoding.from_dict(source.inputs["encoding"])
    class_names, ids = source.class_names, source.ids[parts["test"]]
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
    test_sequences = source.records["sequence"].to_numpy()[parts["test"]]
    sequences = [encoding.fit_length(test_sequences[i]).replace("\0", "-") for i in chosen]
    titles = [f"{ids[i]}: class {class_names[y[i]]} (score {scores[i, y[i]]:.3f})" for i in chosen]
    interpret.plot_mutagenesis(effects, sequences, run.file("mutagenesis.png"), encoding.letters, titles,
                               colorbar_label="change of log probability" if log else "score change")
    with atomic_path(run.file("mutagenesis.npz")) as tmp:
        np.savez(tmp, effects=effects, ids=np.array([ids[i] for i in chosen]), sequences=np.array(sequences),
                 targets=np.array([class_names[y[i]] for i in chosen]), letters=np.array(encoding.letters))


def main(argv=None):
    args = parse_args(argv)
    from biocnn.commands import steps

    return steps.each_seed(args, train)  # --seeds: one run per seed, then mean +- sd


def train(args):
    """One run of the parsed arguments (one seed, into ``args.out``)."""
    from biocnn.commands import steps

    steps.check_export(args)
    if args.alphabet == "protein" and (args.rc_augment or args.rc_average or args.tta == "rc"):
        raise ValueError("--rc-augment and --rc-average need DNA or RNA: proteins have no reverse complement.")
    if not (args.fasta or args.fastq or args.classes or args.csv or args.bed) and args.id_column is None:
        args.id_column = SPLICE_ID_COLUMN  # the bundled default
    with warnings_as_notes():
        source = cli.open_source(args, "sequences", default=("sequence_csv", SPLICE_CSV))
    if source.grouping == "identical sequences":
        repeats = len(source) - len(set(source.groups.tolist()))
        print(f"note: {repeats} sequences repeat another one; identical sequences stay on one side of the splits",
              flush=True)
    if args.rc_average:
        if args.tta not in (None, "auto", "rc"):
            raise ValueError(f"--rc-average is --tta rc; it cannot go with --tta {args.tta}. Give one of them.")
        args.tta = "rc"
    extra = {"test_time": {"rc_average": bool(args.rc_average)}}
    run, model, splits, parts, result = steps.train_source(
        args, source, normalize=False, augment_extra="revcomp" if args.rc_augment else None, extra_config=extra)
    interpret_model(run, model, splits, source, parts, args.motif_threshold)
    both = bool(args.tta) and args.tta != "none"
    steps.report(result, run, split=f"test ({'both strands' if args.tta in ('rc', 'auto') else 'TTA'})" if both else "test")
    steps.export(args, run)
    return result


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
