"""Predict new lab data with an exported biocnn model; write one CSV row per sample.

The model is an export directory (biocnn.export.save, biocnn.export.from_run, or a training
pipeline's --export DIR): a TensorFlow SavedModel plus biocnn_export.json, which says what
the model takes. The input must match that modality:

    sequences   --fasta reads.fa | --csv table.csv --sequence-column sequence [--id-column id]
    images      --folder DIR (searched recursively) | --images a.tif b.png ... | --npz F [--key K]
    volumes     --folder DIR | --volumes a.nii.gz b.npy ... | --npz F [--key K]

Files are read as in training (integer intensities divided by the dtype maximum, the
training channel choice, resizing/resampling when the training run did it, a volume's NaN
policy and CT window) and checked against the export before the model runs: a letter outside
the alphabet names the record and the letter; a wrong image or volume shape names the file
and the expected shape (--resize resizes to it).

Writes --out (CSV: id, predicted, probability_<class> for every class), atomically; an
existing file is replaced only with --overwrite.

    python pipelines/predict.py --model exports/splice --fasta new_reads.fa --out preds.csv
    python pipelines/predict.py --model exports/bccd --folder new_cells/ --out cells.csv
"""

import argparse
import sys

from biocnn import cli, export


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the export directory (with biocnn_export.json)")
    data = parser.add_argument_group("input (one, matching the export's modality)")
    data.add_argument("--fasta", help="FASTA file of sequences (gzip or not)")
    data.add_argument("--csv", help="CSV/TSV table with one sequence per row")
    data.add_argument("--sequence-column", default="sequence", help="sequence column of --csv (default %(default)s)")
    data.add_argument("--id-column", help="id column of --csv (default: id if present, else line numbers)")
    data.add_argument("--folder", help="folder of image or volume files, searched recursively")
    data.add_argument("--images", nargs="+", metavar="FILE", help="image files (TIFF, PNG, JPEG)")
    data.add_argument("--volumes", nargs="+", metavar="FILE", help="volume files (NIfTI, TIFF stack, .npy, .h5)")
    data.add_argument("--npz", help=".npz with an array (N, *spatial[, C]) of images, volumes or signals")
    data.add_argument("--key", help="the array of --npz (default: the only one, or test_images)")
    data.add_argument("--resize", action="store_true",
                      help="resize images/volumes to the export's input size (bilinear/trilinear)")
    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, help="the predictions CSV to write")
    out.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    out.add_argument("--batch-size", type=int, default=256, help="samples per model call (default %(default)s)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {args.batch_size}.")
    export.check_output(args.out, overwrite=args.overwrite)  # before the slow part
    model = export.load(args.model)
    print(f"{model.path}: {model.modality} model, classes {model.class_names}", flush=True)
    table = export.predict_files(
        model, fasta=args.fasta, csv=args.csv, sequence_column=args.sequence_column, id_column=args.id_column,
        folder=args.folder, images=args.images, volumes=args.volumes, npz=args.npz, key=args.key,
        resize=args.resize, batch_size=args.batch_size,
    )
    export.write_predictions(table, args.out, overwrite=args.overwrite)
    counts = table["predicted"].value_counts()
    print(f"{len(table)} predictions ({', '.join(f'{c} {counts.get(c, 0)}' for c in model.class_names)}): {args.out}")


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
