"""One command-line vocabulary for every biocnn command and pipeline script.

Every training command (``biocnn sequences|images|volumes|cv|transfer|compare``, and the
``pipelines/*.py`` scripts that call them) builds its parser from these functions, so a flag
means the same everywhere:

    --model NAME[:k=v,...]      a registry model with options (``resnet18:width_multiplier=0.25``);
                                ``--model-option k=v`` and ``--width W`` are old spellings that
                                still work and warn
    --augment [POLICY|SPEC]     a named policy or an augmentation spec (``flip,rotation=15``);
                                ``--augment`` alone: the modality's default policy; absent: none
    --tta [SPEC]                test-time augmentation: ``--tta`` alone: the modality's natural
                                views (flips of images/volumes, reverse complement of DNA);
                                ``flips``, ``flips=2,3``, ``rc``; absent: none
    --seed / --split-seed       initialisation and batch order / which samples land in which split
    --test-size --val-size --group-column --class-names
    --epochs --batch-size --lr  defaults per modality from :data:`MODALITY_DEFAULTS`
    --preset laptop|large       :data:`PRESETS`: overrides of those rows (explicit flags win)
    --seeds 0 1 2               one run per seed in OUT/seed_K/, then mean +- sd (not with --seed)
    --keep-checkpoints          keep OUT/checkpoints of a finished run (default: model.keras only)
    --out --overwrite --resume --export DIR --tensorboard

This module imports neither TensorFlow nor Keras at import time, so ``biocnn --help`` is
instant; the functions that need the library (:func:`training_config`, :func:`model_spec`,
:func:`augmentation`) import it when called.
"""

import argparse
import sys
import warnings

#: TrainingConfig's defaults (``biocnn.training.TrainingConfig()``; a test keeps the two equal).
TRAINING_DEFAULTS = {"epochs": 30, "batch_size": 64, "learning_rate": 0.01, "momentum": 0.9, "weight_decay": 5e-4,
                     "loss": "cross_entropy", "lr_drop_patience": 5, "early_stopping_patience": 10, "seed": 0,
                     "strategy": "default"}

#: Per-modality defaults, the one table: the bare command of each modality runs this recipe
#: (model, epochs, batch, learning rate, patience, schedule, label smoothing, augmentation). The
#: rows for sequences, images and volumes were chosen by the defaults study on validation splits
#: only (``pipelines/study_defaults.py``, ``pipelines/results/defaults_study``) and are measured
#: on the test splits by ``pipelines/benchmark_defaults.py``. ``None`` in the ``cv`` row: the
#: value of the source's own modality (a CV of images trains what ``biocnn images`` trains).
#:
#: ========== ====== ===== ===== ======== =========== ===========================================================
#: modality   epochs batch lr    patience model       reason
#: ========== ====== ===== ===== ======== =========== ===========================================================
#: sequences  60     64    0.05  12       seqnet      reads whether a motif is there and where (splice sites need
#:                                                    where; binding sites whether); lr 0.05 was better than 0.01
#:                                                    on both validation splits (splice, motifs)
#: images     40     32    0.01  0 (off) resnet18    width 0.25 (0.7 M parameters), the microscopy augmentation
#:                                                    policy, warm-up 3 then cosine: best on BreastMNIST
#:                                                    validation; 40 epochs keep ~5,000 28-px images within
#:                                                    15 minutes on 2 cores
#: npz        40     64    0.02  10       lenet5      the README's main job (BreastMNIST LeNet-5 0.821 / 0.811)
#: volumes    40     32    0.01  0 (off) lenet5      + random flips on every axis, warm-up 3 then cosine; a 3D
#:                                                    ResNet-18 even at width
#:                                                    0.125 takes ~100 s per epoch of 1,188 volumes of 28^3 on 2
#:                                                    cores and was worse on validation (AdrenalMNIST3D)
#: transfer   20     32    0.01  10       ResNet50    a pretrained backbone converges in few epochs
#: cv         (source's modality)                     each fold trains what the modality's command trains
#: compare    30     32    0.02  1000     lenet5      AlexNet's Figure 1 protocol: a fixed budget, no early stop
#: ========== ====== ===== ===== ======== =========== ===========================================================
#:
#: A row may also say ``"tta": "auto"`` (or another ``--tta`` spec): ``--tta``'s default for that
#: command (read with ``.get``; absent: off), so test-time augmentation is switched on per
#: modality by one entry.
_RECIPE = {"schedule": "plateau", "warmup_epochs": 0, "label_smoothing": 0.0, "augment": "none"}
MODALITY_DEFAULTS = {
    "sequences": {"epochs": 60, "batch_size": 64, "lr": 0.05, "patience": 12, "model": "seqnet", **_RECIPE},
    "images": {"epochs": 40, "batch_size": 32, "lr": 0.01, "patience": 0, "model": "resnet18:width_multiplier=0.25",
               **_RECIPE, "augment": "microscopy", "schedule": "cosine", "warmup_epochs": 3},
    "npz": {"epochs": 40, "batch_size": 64, "lr": 0.02, "patience": 10, "model": "lenet5", **_RECIPE},
    "volumes": {"epochs": 40, "batch_size": 32, "lr": 0.01, "patience": 0, "model": "lenet5", **_RECIPE,
                "augment": "flip", "schedule": "cosine", "warmup_epochs": 3},
    "transfer": {"epochs": 20, "batch_size": 32, "lr": 0.01, "patience": 10, "model": None, **_RECIPE},
    "cv": {key: None for key in ("epochs", "batch_size", "lr", "patience", "model", *_RECIPE)},
    "compare": {"epochs": 30, "batch_size": 32, "lr": 0.02, "patience": 1000, "model": "lenet5", **_RECIPE},
}

#: The parsed-argument name of each key of a :data:`MODALITY_DEFAULTS` row.
_ARGUMENT = {"lr": "lr", "epochs": "epochs", "batch_size": "batch_size", "patience": "patience", "model": "model",
             "schedule": "schedule", "warmup_epochs": "warmup_epochs", "label_smoothing": "label_smoothing",
             "augment": "augment"}


def fill_defaults(args, modality):
    """Give every flag left at ``None`` (the ``cv`` row) the value of ``modality``'s row.

    Example:
        >>> import argparse
        >>> args = argparse.Namespace(epochs=None, batch_size=8, lr=None, patience=None, model=None,
        ...                           schedule=None, warmup_epochs=None, label_smoothing=None, augment=None)
        >>> fill_defaults(args, "sequences").batch_size, args.model
        (8, 'seqnet')
    """
    row = _defaults(modality)
    for key, name in _ARGUMENT.items():
        if getattr(args, name, 0) is None:
            setattr(args, name, row[key])
    return args


_SOURCE_DEFAULT = "(default: the source modality's, from biocnn.cli.MODALITY_DEFAULTS)"

#: ``--preset NAME``: named overrides of :data:`MODALITY_DEFAULTS` rows (same keys; a key left
#: out keeps the row's value). Explicit flags always win over a preset. ``laptop`` is today's
#: defaults (2 CPU cores); ``large`` is for a GPU: full-width ResNet-18 for images and volumes,
#: larger batches, more epochs and patience (a starting point, not a tuned recipe).
PRESETS = {
    "laptop": {},
    "large": {
        "sequences": {"epochs": 100, "batch_size": 128, "patience": 15},
        "images": {"epochs": 100, "batch_size": 128, "model": "resnet18"},
        "npz": {"epochs": 100, "batch_size": 128, "patience": 15, "model": "resnet18"},
        "volumes": {"epochs": 60, "batch_size": 32, "model": "resnet18"},
        "transfer": {"epochs": 40, "batch_size": 64, "patience": 15},
        "cv": {"epochs": 60, "batch_size": 128},
    },
}

#: ``--augment`` given without a value: the modality's own policy.
DEFAULT_POLICY = {"sequences": "sequence", "images": "microscopy", "npz": "microscopy", "volumes": "volume",
                  "transfer": "microscopy", "cv": None, "compare": "microscopy"}

#: biocnn.augment.POLICIES, biocnn.distribute.STRATEGIES (named here so that --help needs no
#: TensorFlow; a test keeps them equal).
POLICIES = ("none", "microscopy", "volume", "sequence")
STRATEGIES = ("default", "mirrored", "multiworker")


class Parser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` that applies ``--preset NAME`` before parsing: the preset's
    values become the defaults of their flags (:func:`preset_defaults`), so a flag given
    explicitly always wins, whatever its position; ``--preset large --help`` shows them."""

    #: the :data:`MODALITY_DEFAULTS` row whose presets apply (set by :func:`add_training_arguments`).
    preset_modality = None

    def parse_known_args(self, args=None, namespace=None):
        if self.preset_modality is not None:
            args = sys.argv[1:] if args is None else list(args)
            early = argparse.ArgumentParser(add_help=False)
            early.add_argument("--preset")
            name = early.parse_known_args(args)[0].preset
            if name in PRESETS:  # an unknown name is refused by the --preset choices below
                self.set_defaults(**preset_defaults(name, self.preset_modality))
        return super().parse_known_args(args, namespace)


def parser(description, **kwargs):
    """A :class:`Parser` that shows ``description`` (a module docstring) as written."""
    return Parser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def preset_defaults(name, modality):
    """The flag defaults of ``--preset name`` for ``modality``: its row of :data:`MODALITY_DEFAULTS`
    with the preset's overrides.

    Raises:
        ValueError: an unknown preset or modality.

    Example:
        >>> preset_defaults("large", "volumes")["epochs"], preset_defaults("laptop", "volumes")["epochs"]
        (60, 40)
    """
    if name not in PRESETS:
        raise ValueError(f"--preset: unknown preset {name!r}; one of {', '.join(PRESETS)}.")
    return {**_defaults(modality), **PRESETS[name].get(modality, {})}


def _defaults(modality):
    if modality is None:
        return {"epochs": TRAINING_DEFAULTS["epochs"], "batch_size": TRAINING_DEFAULTS["batch_size"],
                "lr": TRAINING_DEFAULTS["learning_rate"], "patience": TRAINING_DEFAULTS["early_stopping_patience"],
                "model": None, **_RECIPE}
    if modality not in MODALITY_DEFAULTS:
        raise ValueError(f"cli: unknown modality {modality!r}; one of {', '.join(MODALITY_DEFAULTS)}.")
    return MODALITY_DEFAULTS[modality]


def add_model_arguments(parser, modality=None, default=None, augment=True):
    """``--model NAME[:k=v,...]`` (with the warned aliases ``--model-option``, ``--width``) and ``--augment``.

    Args:
        parser: an ``argparse`` parser.
        modality: a key of :data:`MODALITY_DEFAULTS` (the default model and augmentation policy).
        default: the default model spec, if not the modality's.
        augment: also add ``--augment``.

    Returns:
        the argument group.
    """
    group = parser.add_argument_group("model")
    default = default or _defaults(modality)["model"]
    group.add_argument("--model", default=default, metavar="NAME[:k=v,...]",
                       help="a registered model with options, e.g. resnet18:width_multiplier=0.25,dropout=0.2 "
                            "(list them: biocnn models) " + (
                            "(default %(default)s)" if default else _SOURCE_DEFAULT if modality == "cv" else ""))
    group.add_argument("--model-option", type=_model_option, action="extend", nargs="+", default=[],
                       metavar="KEY=VALUE", help=argparse.SUPPRESS)  # old spelling of --model NAME:KEY=VALUE
    group.add_argument("--width", type=float, help=argparse.SUPPRESS)  # old spelling of :width_multiplier=W
    if augment:
        add_augment_argument(group, modality)
    return group


def add_augment_argument(parser, modality=None):
    """``--augment [POLICY|SPEC]``: absent: none; alone: the modality's policy (:data:`DEFAULT_POLICY`)."""
    const = DEFAULT_POLICY.get(modality) or "none"
    default = _defaults(modality)["augment"]
    shown = _SOURCE_DEFAULT if default is None else f"(default: {default})"
    parser.add_argument("--augment", nargs="?", const=const, default=default, metavar="POLICY|SPEC",
                        help=f"training augmentation: a policy ({', '.join(POLICIES)}) or a spec such as "
                             f"'flip,rotation=15,contrast=0.2', or none; --augment alone: {const} {shown}")


#: The defaults rows whose commands take ``--tta`` (evaluated through the experiment path) and
#: ``--seeds`` (one run per seed).
TTA_COMMANDS = ("sequences", "images", "npz", "volumes", "transfer", "cv")
SEEDS_COMMANDS = ("sequences", "images", "npz", "volumes", "transfer")

#: ``--tta`` specs (biocnn.tta.SPECS; a test keeps them equal).
TTA_SPECS = ("auto", "flips", "rc", "none")


def add_tta_argument(parser, modality=None):
    """``--tta [SPEC]``: absent: the modality's default (:data:`MODALITY_DEFAULTS` ``"tta"``, today
    none); alone: ``auto``, the modality's natural views (:func:`biocnn.tta.resolve`)."""
    default = _defaults(modality).get("tta")
    parser.add_argument("--tta", nargs="?", const="auto", default=default, metavar="SPEC",
                        help="test-time augmentation: score val/test (and serve the export) as the mean over "
                             "mirrored views; --tta alone: the natural views (every axis flip of images and volumes, "
                             "the reverse complement of one-hot DNA/RNA), best with a model trained on them (--augment); "
                             f"or flips, flips=AXES (e.g. 2,3), rc, none (default: {default or 'none'})")


def _model_option(text):
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--model-option expects KEY=VALUE (e.g. width_multiplier=0.5), got {text!r}.")
    return f"{key.strip()}={value.strip()}"


def model_spec(args, default=None):
    """``(name, options)`` of ``--model`` (and of the old ``--model-option``/``--width``, with a warning).

    Every spelling goes through the one spec parser, :func:`biocnn.models.parse_spec`.

    Example:
        >>> import argparse
        >>> model_spec(argparse.Namespace(model="lenet5:dropout=0.5", model_option=[], width=None))
        ('lenet5', {'dropout': 0.5})
    """
    from biocnn.models import parse_spec

    spec = getattr(args, "model", None) or default
    if spec is None:
        raise ValueError("--model: no model given; name one, e.g. --model lenet5 (list them: biocnn models).")
    extra = list(getattr(args, "model_option", None) or [])
    if extra:
        warnings.warn(f"--model-option is an old spelling; write --model {spec}{':' if ':' not in spec else ','}"
                      f"{','.join(extra)}", DeprecationWarning, stacklevel=2)
    if getattr(args, "width", None) is not None:
        warnings.warn(f"--width is an old spelling; write --model {spec.split(':')[0]}:width_multiplier={args.width}",
                      DeprecationWarning, stacklevel=2)
        extra.append(f"width_multiplier={args.width}")
    name, options = parse_spec(spec)
    if extra and spec in {row["model"] for row in MODALITY_DEFAULTS.values()}:
        # the old spellings override a default spec's own options (e.g. its width) ...
        return name, {**options, **parse_spec(f"{name}:{','.join(extra)}")[1]}
    if extra:  # ... and may not repeat an option of a --model the user wrote
        spec = spec + (":" if ":" not in spec else ",") + ",".join(extra)
    return parse_spec(spec)


def augmentation(args, rank, channels, extra=None):
    """The ``--augment`` layer (or None): a policy name or spec, plus ``extra`` spec entries.

    Args:
        args: parsed arguments with ``augment`` and ``seed``.
        rank: 1, 2 or 3.
        channels: channels of one sample (named policies drop what does not fit).
        extra: spec entries to add, e.g. ``"revcomp"`` for ``--rc-augment``.
    """
    from biocnn import augment

    name = getattr(args, "augment", None) or "none"
    spec = augment.POLICIES[name][0] if name in augment.POLICIES else name
    if extra and extra not in spec:
        name = spec = ",".join(e for e in (extra, spec) if e)
    if not spec:
        return None
    # A policy name is passed as a name: the policy drops the entries the channels do not fit.
    return augment.policy(name, rank=rank, seed=args.seed, channels=channels)


def add_split_arguments(parser, test_size=0.2, val_size=0.1, groups=True, test=True):
    """``--test-size --val-size --split-seed --group-column --class-names``.

    ``--split-seed`` chooses which samples land in which split, apart from ``--seed``
    (initialisation and batch order), so the seed of a model can change on fixed splits.
    """
    group = parser.add_argument_group("splits")
    if test:
        group.add_argument("--test-size", type=float, default=test_size,
                           help="test fraction without a split column or predefined splits (default %(default)s)")
    group.add_argument("--val-size", type=float, default=val_size,
                       help="validation fraction (default %(default)s)")
    group.add_argument("--split-seed", type=int, default=0, help="seed of the split, apart from --seed (default %(default)s)")
    if groups:
        group.add_argument("--group-column", help="column of groups (patient, slide, donor) never split "
                                                  "(default: a column named group, when there is one)")
    group.add_argument("--class-names", nargs="+", metavar="NAME",
                       help="the classes in label order (default: numeric labels in numeric order, else sorted)")
    return group


def add_training_arguments(parser, modality=None, out=True):
    """The flags of :class:`biocnn.training.TrainingConfig`, with ``modality``'s defaults, and the output flags.

    Args:
        parser: an ``argparse`` parser.
        modality: a key of :data:`MODALITY_DEFAULTS`, or None for TrainingConfig's own defaults.
        out: also add ``--out --overwrite --resume --export --tensorboard``.
    """
    d = _defaults(modality)

    def shown(key):
        return _SOURCE_DEFAULT if d[key] is None else "(default %(default)s)"

    group = parser.add_argument_group("training")
    if modality in TTA_COMMANDS and isinstance(parser, Parser):
        parser.preset_modality = modality
        large = ", ".join(f"{k}={v}" for k, v in PRESETS["large"].get(modality, {}).items())
        group.add_argument("--preset", choices=tuple(PRESETS), default="laptop",
                           help=f"defaults for the machine: laptop (2 CPU cores: the defaults shown here) or large (a "
                                f"GPU: {large}); flags given explicitly win (--preset large --help shows its defaults)")
    group.add_argument("--epochs", type=int, default=d["epochs"], help=f"most epochs {shown('epochs')}")
    group.add_argument("--batch-size", type=int, default=d["batch_size"],
                       help=f"mini-batch size {shown('batch_size')}")
    group.add_argument("--lr", type=_learning_rate, default=d["lr"],
                       help="initial (or peak) learning rate, or 'auto': a learning-rate range test picks it before "
                            f"training {shown('lr')}")
    group.add_argument("--schedule", choices=("plateau", "cosine", "onecycle"), default=d["schedule"],
                       help="plateau: divide the rate by 10 when validation stalls; cosine: warm up over "
                            f"--warmup-epochs, then a half cosine to 0; onecycle: Smith's one-cycle {shown('schedule')}")
    group.add_argument("--warmup-epochs", type=int, default=d["warmup_epochs"],
                       help=f"linear warm-up epochs for --schedule cosine {shown('warmup_epochs')}")
    group.add_argument("--label-smoothing", type=float, default=d["label_smoothing"],
                       help=f"cross-entropy label smoothing in [0, 1) {shown('label_smoothing')}")
    group.add_argument("--class-weight", choices=("balanced",),
                       help="balanced: weigh each class by n / (k * n_class) in the loss, for imbalanced labels")
    group.add_argument("--momentum", type=float, default=TRAINING_DEFAULTS["momentum"],
                       help="SGD momentum (default %(default)s)")
    group.add_argument("--weight-decay", type=float, default=TRAINING_DEFAULTS["weight_decay"],
                       help="weight decay inside the velocity (default %(default)s)")
    group.add_argument("--loss", default=TRAINING_DEFAULTS["loss"],
                       help="cross_entropy, multiclass_hinge or mse (default %(default)s)")
    group.add_argument("--lr-patience", type=int, default=TRAINING_DEFAULTS["lr_drop_patience"],
                       help="epochs without validation improvement before the learning rate is divided by 10 "
                            "(default %(default)s)")
    group.add_argument("--patience", type=int, default=d["patience"],
                       help=f"epochs without validation improvement before stopping; 0: never stop early (the "
                            f"best validation epoch is kept either way) {shown('patience')}")
    seeds = group.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=TRAINING_DEFAULTS["seed"],
                       help="seed for initialisation and data order (default %(default)s)")
    if modality in SEEDS_COMMANDS:
        seeds.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                           help="one run per seed in OUT/seed_K/ (each a full run directory), then OUT/summary.json "
                                "and OUT/summary.csv: every val and test metric's mean +- sd over the seeds")
    if modality in TTA_COMMANDS:
        add_tta_argument(group, modality)
        if out:
            group.add_argument("--keep-checkpoints", action="store_true",
                               help="keep OUT/checkpoints when the run finishes (what --resume needs to train a "
                                    "finished run longer); by default a finished run keeps one copy of its weights, "
                                    "model.keras")
    group.add_argument("--strategy", choices=STRATEGIES, default=TRAINING_DEFAULTS["strategy"],
                       help="default: one device; mirrored: every GPU of this machine; multiworker: the machines in "
                            "TF_CONFIG (run the same command on each). --batch-size is the global batch, split over "
                            "all devices (default %(default)s)")
    if out:
        add_output_arguments(parser, seeds=modality in SEEDS_COMMANDS)
    return parser


def add_output_arguments(parser, export=True, seeds=False):
    """``--out --overwrite --resume`` and, for training commands, ``--export DIR --tensorboard``
    (``seeds``: the command takes ``--seeds``, whose export is the seed ensemble)."""
    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, help="run directory to write")
    mode = out.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    mode.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    if export:
        out.add_argument("--export", metavar="DIR",
                         help="also write a TensorFlow SavedModel of the selected model to DIR (raw inputs, no "
                              "augmentation; see biocnn export)" + ("; with --tta its views are averaged in the graph; with "
                              "--seeds: one model averaging the seeds" if seeds else "")
                              + "; --overwrite replaces a previous export")
        out.add_argument("--tensorboard", action="store_true",
                         help="also write TensorBoard logs to OUT/tensorboard (tensorboard --logdir OUT)")
    return out


def _learning_rate(text):
    """``--lr``: a positive number or ``auto``."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', got {text!r}")
    return value


def training_config(args):
    """A :class:`biocnn.training.TrainingConfig` from parsed :func:`add_training_arguments` flags.

    It also creates the distribution strategy named by ``--strategy`` now: TensorFlow accepts a
    multi-worker strategy only before its first operation, so call this before building a model.
    """
    from biocnn import distribute
    from biocnn.training import TrainingConfig

    strategy = getattr(args, "strategy", TRAINING_DEFAULTS["strategy"])
    distribute.get_strategy(strategy)
    return TrainingConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        loss=args.loss,
        lr_drop_patience=args.lr_patience,
        early_stopping_patience=args.patience or None,  # 0: train every epoch (no early stop)
        seed=args.seed,
        strategy=strategy,
        schedule=getattr(args, "schedule", "plateau"),
        warmup_epochs=_warmup(args),
        label_smoothing=getattr(args, "label_smoothing", 0.0),
        class_weight=getattr(args, "class_weight", None),
    )


def _warmup(args):
    """``--warmup-epochs``; a table default that does not fit a short run (``--epochs 2``) shrinks
    to ``epochs - 1``, while a value the user wrote is checked by TrainingConfig as given."""
    warmup = getattr(args, "warmup_epochs", 0) or 0
    defaults = {row.get("warmup_epochs") for row in MODALITY_DEFAULTS.values()} - {None, 0}
    if warmup in defaults and warmup >= args.epochs:
        return max(args.epochs - 1, 0)
    return warmup


def verbosity():
    """Keras's verbosity for a person watching: a progress bar with ETA on a terminal, one line per epoch otherwise."""
    return 1 if sys.stdout.isatty() else 2


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

    from biocnn import errors

    def terminate(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    own_code = [os.path.dirname(os.path.abspath(path)) for path in (
        getattr(sys.modules.get("__main__"), "__file__", None),
        getattr(getattr(main, "__code__", None), "co_filename", None)) if path]
    # rundir (and with it TensorFlow) is imported by the command itself when it opens a run; a
    # --help or an argument error before that has no run to discard and stays TensorFlow-free.
    opened = sys.modules["biocnn.rundir"].open_runs() if "biocnn.rundir" in sys.modules else set()

    def discard():
        if "biocnn.rundir" in sys.modules:
            sys.modules["biocnn.rundir"].discard_unstarted(keep=opened)

    try:
        main(argv)
    except KeyboardInterrupt:
        discard()
        print("interrupted: rerun with --resume to continue from the last checkpoint", file=sys.stderr)
        sys.exit(130)
    except argparse.ArgumentTypeError as error:
        discard()
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except (ValueError, OSError) as error:
        discard()
        if not errors.is_user_error(error, own_code=own_code):
            raise
        print(f"error: {errors.one_line(error)}", file=sys.stderr)
        sys.exit(2)
    except Exception as error:
        discard()
        message = errors.embedded_user_error(error, own_code=own_code)  # raised inside tf.data
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    except BaseException:
        discard()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


# --- data sources ----------------------------------------------------------------------------

#: The source flags of each modality (``--csv`` and ``--npz`` serve several).
SOURCE_FLAGS = {
    "images": ("folder", "csv", "npz"),
    "volumes": ("npz", "hdf5", "csv"),
    "sequences": ("fasta", "fastq", "classes", "csv", "bed"),
}
CT_WINDOW_NAMES = ('brain', 'subdural', 'soft_tissue', 'mediastinum', 'liver', 'lung', 'bone')
NAN_POLICIES = ("raise", "zero", "min")


def _class_file(text):
    name, equals, path = text.partition("=")
    if not equals or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (e.g. bound=pos.fa), got {text!r}")
    return f"{name.strip()}={path.strip()}"


def add_source_arguments(parser, modalities=("images", "volumes", "sequences"), required=False, stream=True):
    """The input flags of ``modalities``: one spelling per input kind for every command.

    Images: ``--folder``, ``--csv`` (path,label[,group][,split]), ``--npz``, ``--root``,
    ``--size``, ``--channels``; volumes: ``--npz``, ``--hdf5 --key``, ``--csv``, ``--shape``,
    ``--window``, ``--nan-policy``; sequences: ``--fasta``/``--fastq`` + ``--labels``,
    ``--class NAME=PATH``, ``--csv``, ``--bed --reference``, and the encoding flags. A ``--csv``'s
    kind is read from its columns (a ``path`` column or a sequence column) unless ``--csv-kind``
    says it.
    """
    modalities = tuple(modalities)
    data = parser.add_argument_group("input (one source)")
    if "images" in modalities or "volumes" in modalities or "sequences" in modalities:
        data.add_argument("--csv", help="a table: path,label[,group][,split] of image or volume files, or one "
                                        "sequence per row (--sequence-column); with --hdf5: the labels")
        data.add_argument("--csv-kind", choices=("images", "volumes", "sequences"),
                          help="what --csv lists (default: read from its columns)")
    if "images" in modalities:
        data.add_argument("--folder", help="images, a folder per class: DIR/<class>/**/<image>")
    if "images" in modalities or "volumes" in modalities:
        data.add_argument("--npz", help="a MedMNIST-style .npz with train/val/test arrays (2D images or 3D volumes)")
        data.add_argument("--root", help="data root of --csv files; no path may leave it (default: the CSV's folder)")
    if "volumes" in modalities:
        data.add_argument("--hdf5", help="an HDF5 file of volumes (with --key)")
        data.add_argument("--key", help="the HDF5 dataset (N, D, H, W[, C]) or group of volumes")
        data.add_argument("--labels-key", help="HDF5 dataset of the labels, one per volume")
        data.add_argument("--groups-key", help="HDF5 dataset of group ids (patients), one per volume")
    if "sequences" in modalities:
        data.add_argument("--fasta", help="FASTA file; labels come from --labels")
        data.add_argument("--fastq", help="FASTQ file; labels come from --labels")
        data.add_argument("--class", dest="classes", action="append", type=_class_file, metavar="NAME=PATH",
                          help="one FASTA file per class (repeat for each class)")
        data.add_argument("--bed", help="BED intervals (chrom, start, end, name, score, strand)")
        data.add_argument("--reference", help="reference genome FASTA for --bed (a .fai next to it is used)")
        data.add_argument("--labels", help="label table (CSV/TSV: id, label, optional group) for --fasta/--fastq/--bed")
        data.add_argument("--id-column", help="id column of --labels (default id) or of a sequence --csv "
                                              "(default: id if present, else line numbers)")
        data.add_argument("--label-column", default="label", help="label column (default %(default)s)")
        data.add_argument("--sequence-column", default="sequence",
                          help="sequence column of a sequence --csv (default %(default)s)")
        data.add_argument("--group-by-chromosome", action="store_true", help="--bed: hold out whole chromosomes")
        data.add_argument("--drop-unlabelled", action="store_true", help="leave out records missing from --labels")
        enc = parser.add_argument_group("sequence encoding")
        enc.add_argument("--alphabet", default="dna", choices=("dna", "rna", "protein"))
        enc.add_argument("--length", type=int, help="crop/pad every sequence to this length (default: the longest)")
        enc.add_argument("--align", default="center", choices=("center", "start", "end"),
                         help="part kept when cropping, and where padding goes (default %(default)s)")
        enc.add_argument("--ambiguity", default="fractions", choices=("fractions", "zeros"),
                         help="IUPAC codes such as R: split over their bases or zeros (default %(default)s)")
        enc.add_argument("--unknown", default="uniform", choices=("uniform", "zeros"),
                         help="N (X for protein): uniform or zeros (default %(default)s)")
    if "images" in modalities:
        img = parser.add_argument_group("images")
        img.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="resize every image to H x W")
        img.add_argument("--channels", type=int, nargs="+", metavar="I", help="channel indices to keep, e.g. 0 2")
    if "volumes" in modalities:
        pre = parser.add_argument_group("volumes")
        pre.add_argument("--shape", type=int, nargs=3, metavar=("D", "H", "W"), help="resample every volume to this shape")
        pre.add_argument("--window", nargs="+", metavar="W",
                         help=f"intensity window: a CT preset ({', '.join(CT_WINDOW_NAMES)}) or CENTER WIDTH")
        pre.add_argument("--nan-policy", default="raise", choices=NAN_POLICIES,
                         help="NaN/inf voxels: raise an error (default), or replace by zero or by the volume's min/max")
    if stream and ("images" in modalities or "volumes" in modalities):
        data.add_argument("--stream", action="store_true",
                          help="files (--folder, --csv, --hdf5): read the training samples from disk batch by batch "
                               "each epoch instead of memory (for data larger than memory)")
    return data


def window_argument(values):
    """--window lung -> "lung"; --window 40 400 -> (40.0, 400.0); None -> None."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]  # a preset name, checked by VolumePreprocessing
    try:
        center, width = (float(v) for v in values)
    except ValueError:
        raise ValueError(
            f"--window takes a preset ({', '.join(CT_WINDOW_NAMES)}) or CENTER WIDTH, got '{' '.join(values)}'."
        ) from None
    return center, width


def source_kind(args, default=None):
    """``(kind, path)`` of the one input flag given (``kind`` a key of ``biocnn.data.sources.KINDS``)."""
    flags = {"folder": ("image_folder", "--folder"), "npz": ("npz", "--npz"), "hdf5": ("hdf5", "--hdf5"),
             "fasta": ("fasta", "--fasta"), "fastq": ("fasta", "--fastq"), "classes": ("fasta_per_class", "--class"),
             "bed": ("bed", "--bed"), "csv": ("csv", "--csv")}
    given = [flag for flag in flags if getattr(args, flag, None)]
    if getattr(args, "hdf5", None) and "csv" in given:
        given.remove("csv")  # with --hdf5, --csv holds the labels
    if len(given) > 1:
        raise ValueError(f"Give one input, not {' and '.join(flags[f][1] for f in given)}.")
    if not given:
        if default is None:
            raise ValueError("No input given: name one with " + ", ".join(
                sorted({flags[f][1] for f in flags if hasattr(args, f)})) + ".")
        return default
    kind, _ = flags[given[0]]
    if kind == "csv" and getattr(args, "csv_kind", None):
        kind = {"images": "image_csv", "volumes": "volume_csv", "sequences": "sequence_csv"}[args.csv_kind]
    return kind, getattr(args, given[0])


def open_source(args, modality=None, default=None, encoding=None, class_names=None):
    """The :class:`biocnn.data.DataSource` that the parsed input flags name.

    Args:
        args: parsed :func:`add_source_arguments` (and :func:`add_split_arguments`) flags.
        modality: the modality the command needs (None: any); another one is refused with the
            command to use.
        default: ``(kind, path)`` when no input flag is given (a bundled dataset).
        encoding: a sequence :class:`biocnn.data.Encoding` to use (explain: the run's).
        class_names: the classes, when not ``--class-names`` (a run's, or a bundled dataset's).

    Raises:
        ValueError: no input or several, or a source of another modality.
    """
    from biocnn.data import sources
    from biocnn.data.volume_datasets import VolumePreprocessing

    kind, path = source_kind(args, default)
    if kind == "fasta_per_class":
        classes = dict(item.split("=", 1) for item in path)
        if len(classes) != len(path):
            raise ValueError("--class: each class name may be given once.")
        path = None
    else:
        classes = None
    preprocessing = None
    if hasattr(args, "nan_policy"):
        preprocessing = VolumePreprocessing(args.nan_policy, window_argument(args.window), args.shape)
    encoding_options = None
    if hasattr(args, "alphabet"):
        encoding_options = {"align": args.align, "ambiguity": args.ambiguity, "unknown": args.unknown}
    source = sources.open_source(
        kind, path, class_names=getattr(args, "class_names", None) or class_names, size=getattr(args, "size", None),
        channels=getattr(args, "channels", None), preprocessing=preprocessing, root=getattr(args, "root", None),
        group_column=getattr(args, "group_column", None), key=getattr(args, "key", None),
        labels=getattr(args, "labels", None) or (getattr(args, "csv", None) if kind == "hdf5" else None),
        labels_key=getattr(args, "labels_key", None), groups_key=getattr(args, "groups_key", None),
        sequence_column=getattr(args, "sequence_column", "sequence"), label_column=getattr(args, "label_column", "label"),
        id_column=getattr(args, "id_column", None), alphabet=getattr(args, "alphabet", "dna"), encoding=encoding,
        encoding_options=encoding_options, length=getattr(args, "length", None),
        reference=getattr(args, "reference", None), group_by_chromosome=getattr(args, "group_by_chromosome", False),
        drop_unlabelled=getattr(args, "drop_unlabelled", False), fastq=bool(getattr(args, "fastq", None)),
        classes=classes)
    if modality is not None and source.modality != modality:
        command = {"images": "biocnn images", "volumes": "biocnn volumes", "sequences": "biocnn sequences"}
        raise ValueError(f"{source.path}: holds {source.modality}, but this command takes {modality}; "
                         f"use {command[source.modality]} (or --csv-kind if its columns were misread).")
    return source
