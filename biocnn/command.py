"""The ``biocnn`` command: one entry point for every pipeline (installed by ``pip install``).

    biocnn images --csv cells.csv --group-column group --augment --out runs/cells
    biocnn sequences --fasta reads.fa --labels labels.csv --out runs/reads
    biocnn cv --csv cells.csv --group-column group --folds 5 --out runs/cv_cells
    biocnn <command> --help

Parsing needs no TensorFlow: ``biocnn --help`` and ``biocnn <command> --help`` answer at once;
TensorFlow is imported when a command runs.
"""

import importlib
import sys

from biocnn import cli
from biocnn.commands import COMMANDS

USAGE = "usage: biocnn <command> [options]   (biocnn <command> --help for its options)"


def overview():
    """The list of commands, one line each."""
    width = max(map(len, COMMANDS))
    lines = [USAGE, "", __doc__.split("\n\n")[0].strip(), "", "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None):
    """``biocnn <command> [options]``: run one command; a user error ends with one ``error:`` line (exit 2)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(overview())
        return 0
    if argv[0] in ("-V", "--version"):
        import biocnn

        print(f"biocnn {biocnn.__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        from difflib import get_close_matches

        close = get_close_matches(name, COMMANDS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        print(f"error: unknown command {name!r}.{hint} Commands: {', '.join(COMMANDS)}.", file=sys.stderr)
        return 2
    module = COMMANDS[name][0]
    sys.argv[0] = f"biocnn {name}"  # argparse's usage line names the sub-command
    run = importlib.import_module(module).main
    cli.run_main(run, rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
