"""List the registered models: name, the ranks it builds (1D sequences, 2D images, 3D volumes), options.

    biocnn models
    biocnn models --rank 3
"""

import sys

from biocnn import cli


def build_parser():
    parser = cli.parser(__doc__)
    parser.add_argument("--rank", type=int, choices=(1, 2, 3), help="only the models of this rank")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    import biocnn

    for name, ranks in biocnn.models.available().items():
        if args.rank is None or args.rank in ranks:
            options = ", ".join(biocnn.models.options(name))
            print(f"{name:<16} {'/'.join(f'{r}D' for r in ranks):<9} {options}")


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
