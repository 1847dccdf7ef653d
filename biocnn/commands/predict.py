"""Predict new lab data with an exported biocnn model, streaming: inputs of any size, bounded memory.

The model is an export directory (biocnn.export.save, biocnn.export.from_run, or a training
pipeline's --export DIR): a TensorFlow SavedModel plus biocnn_export.json, which says what
the model takes. The input must match that modality:

    sequences   --fasta reads.fa | --csv table.csv --sequence-column sequence [--id-column id]
                | --bed peaks.bed --reference genome.fa
    genome scan --genome genome.fa[.gz] --window 200 --stride 50 [--regions regions.bed]
                [--last drop|shift|pad] [--bedgraph scan.bedgraph]
    images      --folder DIR (searched recursively) | --images a.tif b.png ... | --csv tiles.csv [--path-column path]
                | --npz F | --h5 F [--key K]
    volumes     --folder DIR | --volumes a.nii.gz b.npy ... | --csv scans.csv | --npz F | --h5 F [--key K]

Samples are read in a thread a few batches ahead of the model and written batch by batch, so
memory stays the same for 10^3 or 10^7 samples; progress, rate and ETA go to stderr (one line
every --progress-every seconds when stderr is not a terminal). Files are read as in training
and checked against the export before the model runs: a letter outside the alphabet names
the record and the letter; a wrong image or volume shape names the file and the expected
shape (--resize resizes to it). Sequences longer or shorter than the model's input are
cropped/padded as its encoding says, and the run reports how many.

A genome scan predicts every window of --window bases every --stride bases (0-based,
end-exclusive, as BED), on every chromosome or only inside --regions (merged). The last
partial window of a chromosome/region: --last drop (default: not scanned), shift (one window
ending at the end) or pad (one shorter window, padded by the model). Both strands are averaged
when the export was saved with rc_average (the export's metadata decides; the run says which).
N is encoded as the export's encoding says; --max-n F skips windows with more than a fraction
F of N. --bedgraph writes one track for the positive class of a two-class model (the second
class; every class's track for more classes, or --bedgraph-class NAME ...), each window's value
on the --stride bases at its centre so the intervals tile without overlap.

Instead of an export, --run takes finished run directories: one run, several, or a parent of
seed_K/ or fold_K/ runs (--seeds, biocnn cv). Several members are an ensemble: the mean of their
probabilities (biocnn.export.from_runs; a member whose classes, inputs or shapes differ is
refused, naming it and the field). The members' recorded test-time views are used; --tta [SPEC]
chooses others (--tta alone: every axis flip of images and volumes, the reverse complement of
DNA; --tta none: no views).

Writes --out (CSV: the key columns -- id; chrom,start,end[,strand,name] for BED and scans --
then predicted, probability_<class> for every class) and --bedgraph atomically: a temporary
file renamed at the end, so an interrupted run leaves nothing under the final names; an
existing file is replaced only with --overwrite.

    biocnn predict --model exports/splice --fasta new_reads.fa --out preds.csv
    biocnn predict --model exports/bccd --folder new_cells/ --out cells.csv
    biocnn predict --run runs/bccd_seeds --folder new_cells/ --out cells.csv   # a seed ensemble
    biocnn predict --model exports/ctcf --genome hg38.fa.gz --window 200 --stride 50 \\
        --out scan.csv --bedgraph scan.bedgraph
"""

import sys

from biocnn import cli

#: ``--last``: biocnn.data.genome.LAST_WINDOW_POLICIES (kept equal by tests/test_pipeline_predict.py).
LAST_WINDOW_POLICIES = ("drop", "shift", "pad")


def build_parser():
    parser = cli.parser(__doc__)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="the export directory (with biocnn_export.json)")
    which.add_argument("--run", nargs="+", metavar="DIR",
                       help="predict with finished run directories instead of an export: one run, several, or a "
                            "parent of seed_K/ or fold_K/ runs (--seeds, biocnn cv); several members are an "
                            "ensemble: the mean of their probabilities (members whose classes, inputs or shapes "
                            "differ are refused)")
    cli.add_tta_argument(parser)
    parser.add_argument("--trust-export", action="store_true",
                        help="load an export whose graph holds operations biocnn exports never use (file I/O, Python calls); only for exports you trust")
    data = parser.add_argument_group("input (one, matching the export's modality)")
    data.add_argument("--fasta", help="FASTA file of sequences (gzip or not)")
    data.add_argument("--csv", help="CSV/TSV table (any size; read in blocks): one sequence per row, or for image/volume "
                                    "exports one file per row (--path-column)")
    data.add_argument("--sequence-column", default="sequence", help="sequence column of --csv (default %(default)s)")
    data.add_argument("--id-column", help="id column of --csv (default: id if present, else line numbers)")
    data.add_argument("--path-column", default="path",
                      help="file column of an image/volume --csv, relative to its folder (default %(default)s)")
    data.add_argument("--bed", help="BED intervals to cut from --reference (minus strand reverse-complemented)")
    data.add_argument("--reference", help="uncompressed reference FASTA for --bed (indexed by its .fai or one pass)")
    data.add_argument("--folder", help="folder of image or volume files, searched recursively")
    data.add_argument("--images", nargs="+", metavar="FILE", help="image files (TIFF, PNG, JPEG)")
    data.add_argument("--volumes", nargs="+", metavar="FILE", help="volume files (NIfTI, TIFF stack, .npy, .h5)")
    data.add_argument("--npz", help=".npz with an array (N, *spatial[, C]) of images, volumes or signals")
    data.add_argument("--h5", help="HDF5 file with a dataset (N, *spatial[, C]), read 64 samples at a time")
    data.add_argument("--key", help="the array of --npz / dataset of --h5 (default: the only one, or test_images)")
    data.add_argument("--resize", action="store_true",
                      help="resize images/volumes to the export's input size (bilinear/trilinear)")
    scan = parser.add_argument_group("genome scan")
    scan.add_argument("--genome", help="reference FASTA (gzip or not) to scan window by window")
    scan.add_argument("--window", type=int, help="window length in bases")
    scan.add_argument("--stride", type=int, help="bases between window starts")
    scan.add_argument("--regions", help="BED file: scan only these intervals (merged)")
    scan.add_argument("--last", choices=LAST_WINDOW_POLICIES, default="drop",
                      help="the last partial window of a chromosome/region (default %(default)s)")
    scan.add_argument("--max-n", type=float, help="skip windows with more than this fraction of N (default: keep all)")
    scan.add_argument("--bedgraph", help="bedGraph file of the scan (one track per --bedgraph-class)")
    scan.add_argument("--bedgraph-class", nargs="+", metavar="CLASS",
                      help="classes to write as tracks (default: the second class of a two-class model, else all)")
    out = parser.add_argument_group("output")
    out.add_argument("--out", help="the predictions CSV to write (optional with --bedgraph)")
    out.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    out.add_argument("--batch-size", type=int, default=256, help="samples per model call (default %(default)s)")
    out.add_argument("--progress-every", type=float, default=10.0,
                     help="seconds between progress lines when stderr is not a terminal (default %(default)s)")
    return parser


def parse_args(argv):
    return build_parser().parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from biocnn import export

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {args.batch_size}.")
    for path in (args.out, args.bedgraph):  # before the slow part
        if path is not None:
            export.check_output(path, overwrite=args.overwrite)
    if args.run:
        return predict_runs(args)
    if args.tta is not None:
        raise ValueError(f"--tta with --model: an export serves the test-time views it was exported with; predict "
                         f"with --run RUN --tta {args.tta} to choose them, or re-export the run.")
    return predict(args, export.load(args.model, trust_export=args.trust_export))


def predict_runs(args):
    """``--run``: the runs exported as one (ensemble) model into a temporary folder, then predicted."""
    import os
    import tempfile

    from biocnn import export

    members = export.ensemble_members(args.run)
    print(f"{len(members)} run(s): " + ", ".join(os.path.relpath(m) for m in members), flush=True)
    with tempfile.TemporaryDirectory(prefix="biocnn_predict_") as work:
        path = os.path.join(work, "export")
        export.from_runs(members, path, tta=args.tta if args.tta is not None else "recorded")
        return predict(args, export.load(path))


def predict(args, model):
    """Stream the inputs through the loaded export ``model`` into the outputs."""
    from biocnn import export

    print(f"{model.path}: {model.modality} model, classes {model.class_names}", flush=True)
    summary = export.predict_stream(
        model, args.out, fasta=args.fasta, csv=args.csv, sequence_column=args.sequence_column,
        id_column=args.id_column, path_column=args.path_column, bed=args.bed, reference=args.reference,
        genome=args.genome, window=args.window, stride=args.stride, regions=args.regions, last=args.last, max_n=args.max_n, bedgraph=args.bedgraph,
        bedgraph_classes=args.bedgraph_class, folder=args.folder, images=args.images, volumes=args.volumes,
        npz=args.npz, h5=args.h5, key=args.key, resize=args.resize, batch_size=args.batch_size,
        progress_every=args.progress_every, overwrite=args.overwrite,
    )
    for line in export.describe_run(model, summary):
        print(line)
    print(f"{summary['samples']:,} predictions: {', '.join(summary['outputs'])}")
    return summary


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
