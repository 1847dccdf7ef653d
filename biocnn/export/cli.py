"""``--export DIR`` for the training pipelines: one flag, one early check, one call.

In a pipeline::

    biocnn.export.add_export_argument(parser)        # in parse_args, next to the output flags
    biocnn.export.check_export_argument(args)        # at the top of main: fail before training
    biocnn.export.export_run(args, run.path)         # at the end of main

``--overwrite`` (the run directory's flag) also allows replacing a previous export in DIR.
"""

from biocnn.export.savedmodel import check_target, from_run

__all__ = ["add_export_argument", "add_trust_export_argument", "check_export_argument", "export_run"]


def add_export_argument(parser):
    """Add ``--export DIR`` to an ``argparse`` parser (in an "export" group).

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> _ = add_export_argument(parser)
        >>> parser.parse_args(["--export", "exports/cells"]).export
        'exports/cells'
    """
    group = parser.add_argument_group("export")
    group.add_argument(
        "--export", metavar="DIR",
        help="also write a TensorFlow SavedModel of the selected model to DIR (raw inputs, no augmentation or "
             "dropout, class names and metrics in DIR/biocnn_export.json); --overwrite replaces a previous export",
    )
    return parser


def add_trust_export_argument(parser):
    """Add ``--trust-export`` (skip the graph allowlist check of a SavedModel) to a parser.

    Pass ``args.trust_export`` to :func:`biocnn.export.load` (``trust_export=...``).

    Example:
        >>> import argparse
        >>> add_trust_export_argument(argparse.ArgumentParser()).parse_args(["--trust-export"]).trust_export
        True
    """
    parser.add_argument(
        "--trust-export", action="store_true",
        help="load the SavedModel even if its graph holds operations biocnn exports never use (file I/O, "
             "Python calls): only for exports from a source you trust",
    )
    return parser


def check_export_argument(args):
    """Fail now, before training, if ``--export DIR`` could not be written at the end.

    Raises:
        FileExistsError: DIR holds an export and ``--overwrite`` was not given, or DIR is a
            non-empty folder that is not a biocnn export.
    """
    if getattr(args, "export", None):
        check_target(args.export, overwrite=bool(getattr(args, "overwrite", False)))


def export_run(args, run_dir):
    """Export the finished run in ``run_dir`` to ``--export DIR`` if it was given; print where.

    Returns:
        the export's metadata, or None without ``--export``.
    """
    if not getattr(args, "export", None):
        return None
    metadata = from_run(run_dir, args.export, overwrite=bool(getattr(args, "overwrite", False)))
    print(f"export: {args.export} (signatures {', '.join(metadata['signatures'])}; input "
          f"'{metadata['input']['name']}' {metadata['input']['dtype']} {metadata['input']['shape']})", flush=True)
    return metadata
