"""Export a finished run's model as a TensorFlow SavedModel (with its class names, encoding and metrics).

What every training command's --export DIR does, for a run trained without it:

    biocnn export --run runs/bccd --out exports/bccd
    biocnn predict --model exports/bccd --folder new_cells/ --out cells.csv
"""

import sys

from biocnn import cli


def build_parser():
    parser = cli.parser(__doc__)
    parser.add_argument("--run", required=True, help="a finished run directory (config.json, model.keras)")
    parser.add_argument("--out", required=True, help="the export directory to write")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous biocnn export in --out")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from biocnn import export

    metadata = export.from_run(args.run, args.out, overwrite=args.overwrite)
    print(f"export: {args.out} ({metadata['input']['name']} {metadata['input']['shape']} -> "
          f"{len(metadata.get('class_names') or [])} classes)")
    return metadata


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
