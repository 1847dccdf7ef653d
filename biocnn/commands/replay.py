"""Run again what a run's config.json records: the same command, data, model and settings, into a new --out.

    biocnn replay runs/bccd/config.json --out runs/bccd_again
    biocnn replay runs/bccd --out runs/bccd_seed1 --set seed=1 epochs=60

The recorded arguments are turned back into the sub-command's flags (`--dry-run` prints them);
--set KEY=VALUE changes one (an argument's name as config.json writes it, e.g. seed, lr, epochs).
"""

import os
import sys

from biocnn import cli

SKIP = {"out", "overwrite", "resume", "export", "biocnn_command", "fold", "collect"}


def build_parser():
    parser = cli.parser(__doc__)
    parser.add_argument("config", help="a run's config.json, or its run directory")
    parser.add_argument("--out", required=True, help="the new run directory")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="change recorded arguments")
    parser.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    return parser


def read_config(path):
    from biocnn import rundir

    if not os.path.exists(path):
        raise FileNotFoundError(f"No such run directory or config.json: '{path}'.")
    config = rundir.read_config(path)
    arguments = config.get("arguments") or {}
    if "biocnn_command" not in arguments:
        raise ValueError(f"{path}: records no biocnn command (written before replay existed, or not by a biocnn "
                         "training command); rerun its 'command' line instead.")
    return arguments


def to_argv(parser, arguments):
    """The flags that make ``parser`` parse to ``arguments`` (a ``vars(args)`` as config.json stores it)."""
    argv = []
    for action in parser._actions:  # argparse keeps no public list of its actions
        if not action.option_strings or action.dest in SKIP or action.dest not in arguments:
            continue
        value, flag = arguments[action.dest], action.option_strings[-1]
        if value is None or value == action.default:
            continue
        if action.nargs == 0:  # store_true / store_false
            if bool(value) != bool(action.default):
                argv.append(flag)
        elif isinstance(value, list) and action.nargs in (None, "?") and not isinstance(action.default, list):
            argv += [token for item in value for token in (flag, str(item))]  # append
        elif isinstance(value, list):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


def main(argv=None):
    args = build_parser().parse_args(argv)
    import importlib

    from biocnn.commands import COMMANDS

    arguments = read_config(args.config)
    for item in args.set:
        key, equals, value = item.partition("=")
        if not equals or key not in arguments:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of the recorded arguments "
                             f"({', '.join(sorted(k for k in arguments if k not in SKIP))}).")
        arguments[key] = value
    name = arguments["biocnn_command"]
    module = importlib.import_module(COMMANDS[name][0])
    command = to_argv(module.build_parser(), arguments) + ["--out", args.out] + (["--overwrite"] if args.overwrite else [])
    print("biocnn " + name + " " + " ".join(command), flush=True)
    if not args.dry_run:
        return module.main(command)


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
