"""Export a finished run (or a biocnn export) for the tools that open it, in one format.

    savedmodel  TensorFlow SavedModel + biocnn_export.json + MODEL_CARD.md (biocnn predict, TF Serving)
    onnx        an .onnx file (ONNX Runtime, OpenCV, C++/C#/web tools, PyTorch's world), checked in onnxruntime
    bioimageio  a bioimage.io model package folder (rdf.yaml, weights, test tensors, cover, doc.md) for
                Fiji/deepImageJ, ilastik, napari and QuPath; check it with `bioimageio test OUT/rdf.yaml`
    tflite      a .tflite file, checked for parity

What every training command's --export DIR does (savedmodel), for a run trained without it. Licence,
authors and citation of a bioimage.io package come from you (--license, --author, --cite); biocnn
never invents them. onnx needs `pip install "biocnn[onnx]"`, bioimageio `pip install "biocnn[bioimageio]"`.

    biocnn export --run runs/bccd --out exports/bccd
    biocnn predict --model exports/bccd --folder new_cells/ --out cells.csv
    biocnn export --run runs/splice --out splice.onnx --format onnx
    biocnn export --run runs/bccd_seeds --out exports/bccd_ensemble     # seed_0, seed_1, ... averaged
    biocnn export --run runs/bccd --out packages/bccd --format bioimageio --license MIT \\
        --author "Ada Lovelace" --cite 10.5281/zenodo.1234567
"""

import sys

from biocnn import cli

#: The formats of :func:`biocnn.export.export_as` (kept equal by tests/test_command.py).
FORMATS = ("savedmodel", "onnx", "bioimageio", "tflite")


def build_parser():
    parser = cli.parser(__doc__)
    parser.add_argument("--run", required=True, nargs="+", metavar="DIR",
                        help="a finished run directory (a training command's --out) or a biocnn export folder; or an "
                             "ensemble: several run directories, or a parent of seed_K/ or fold_K/ runs (--seeds, "
                             "biocnn cv), exported as one model serving the mean of the members' probabilities")
    parser.add_argument("--out", required=True, help="the folder (savedmodel, bioimageio) or file (onnx, tflite) to write")
    parser.add_argument("--format", choices=FORMATS, default="savedmodel", help="what to write (default %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous export of this kind at --out")
    group = parser.add_argument_group("bioimageio (required there, never filled in by biocnn)")
    group.add_argument("--license", help="SPDX licence id of the model, e.g. MIT or CC-BY-4.0")
    group.add_argument("--author", action="append", dest="authors", metavar="NAME", help="an author (repeat the flag)")
    group.add_argument("--cite", action="append", metavar="DOI_OR_URL", help="a DOI or URL users must cite (repeat)")
    group.add_argument("--test-input", metavar="FILE.npy",
                       help="one input as the model takes it (default: the first sample of the run's test split)")
    parser.add_argument("--opset", type=int, help="onnx: the ONNX opset (default 17)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from biocnn import export

    result = export.export_as(args.run, args.out, format=args.format, overwrite=args.overwrite, license=args.license,
                              authors=args.authors, cite=args.cite, test_input=args.test_input, opset=args.opset)
    where = result.get("path") or args.out
    members = (result.get("source") or {}).get("members")
    if members and members > 1:
        where += f" (the mean of {members} members)"
    extra = ""
    if args.format == "onnx":
        extra = f"; onnxruntime vs TensorFlow max |difference| {result['max_abs_difference']}"
    elif args.format == "bioimageio":
        extra = f"; weights {', '.join(result['weights'])}; bioimageio.spec: {result['validation'] or 'not installed'}"
    print(f"export ({args.format}): {where}{extra}", flush=True)
    return result


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
