"""Command-line plumbing shared by the pipelines: training flags, and one-line errors."""

import argparse
import sys

from biocnn import distribute
from biocnn.training import TrainingConfig

_DEFAULTS = TrainingConfig()


def add_training_arguments(parser):
    """Add the flags of :class:`biocnn.training.TrainingConfig` and of the run directory."""
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, default=_DEFAULTS.epochs, help="most epochs (default %(default)s)")
    group.add_argument("--batch-size", type=int, default=_DEFAULTS.batch_size, help="mini-batch size (default %(default)s)")
    group.add_argument("--lr", type=float, default=_DEFAULTS.learning_rate, help="initial learning rate (default %(default)s)")
    group.add_argument("--momentum", type=float, default=_DEFAULTS.momentum, help="SGD momentum (default %(default)s)")
    group.add_argument(
        "--weight-decay", type=float, default=_DEFAULTS.weight_decay, help="weight decay inside the velocity (default %(default)s)"
    )
    group.add_argument("--loss", default=_DEFAULTS.loss, help="cross_entropy, multiclass_hinge or mse (default %(default)s)")
    group.add_argument(
        "--lr-patience", type=int, default=_DEFAULTS.lr_drop_patience,
        help="epochs without validation improvement before the learning rate is divided by 10 (default %(default)s)",
    )
    group.add_argument(
        "--patience", type=int, default=_DEFAULTS.early_stopping_patience,
        help="epochs without validation improvement before stopping (default %(default)s)",
    )
    group.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="seed for initialisation and data order (default %(default)s)")
    group.add_argument(
        "--strategy", choices=distribute.STRATEGIES, default=_DEFAULTS.strategy,
        help="default: one device; mirrored: every GPU of this machine; multiworker: the machines in "
             "TF_CONFIG (run the same command on each). --batch-size is the global batch, split over "
             "all devices (default %(default)s)",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, help="run directory to write")
    mode = out.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    mode.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    return parser


def training_config(args):
    """A :class:`TrainingConfig` from parsed :func:`add_training_arguments` flags.

    It also creates the distribution strategy named by ``--strategy`` now: TensorFlow accepts a
    multi-worker strategy only before its first operation, so call this before building a model.
    """
    strategy = getattr(args, "strategy", _DEFAULTS.strategy)
    distribute.get_strategy(strategy)
    return TrainingConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        loss=args.loss,
        lr_drop_patience=args.lr_patience,
        early_stopping_patience=args.patience,
        seed=args.seed,
        strategy=strategy,
    )


def run_main(main, argv=None):
    """Run ``main(argv)``: a user error ends with one ``error:`` line and exit code 2.

    User errors are :class:`biocnn.errors.UserError`, environment ``OSError``s (disk full, no
    permission, a path below a regular file) and ValueErrors raised by biocnn or the calling
    script (see :func:`biocnn.errors.is_user_error`); anything else is a bug and keeps its
    traceback. SIGTERM is handled like Ctrl-C. Either way, a run directory this process created
    that has not finished one epoch is removed (:func:`biocnn.rundir.discard_unstarted`), so the
    corrected rerun is not refused.
    """
    import os
    import signal

    from biocnn import errors, rundir

    def terminate(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    own_code = [os.path.dirname(os.path.abspath(path)) for path in (
        getattr(sys.modules.get("__main__"), "__file__", None),
        getattr(getattr(main, "__code__", None), "co_filename", None)) if path]
    opened = rundir.open_runs()
    try:
        main(argv)
    except KeyboardInterrupt:
        rundir.discard_unstarted(keep=opened)
        print("interrupted: rerun with --resume to continue from the last checkpoint", file=sys.stderr)
        sys.exit(130)
    except argparse.ArgumentTypeError as error:
        rundir.discard_unstarted(keep=opened)
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except (ValueError, OSError) as error:
        rundir.discard_unstarted(keep=opened)
        if not errors.is_user_error(error, own_code=own_code):
            raise
        print(f"error: {errors.one_line(error)}", file=sys.stderr)
        sys.exit(2)
    except Exception as error:
        rundir.discard_unstarted(keep=opened)
        message = errors.embedded_user_error(error, own_code=own_code)  # raised inside tf.data
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    except BaseException:
        rundir.discard_unstarted(keep=opened)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
