"""The steps the training commands share: source -> splits -> model -> the experiment path.

Imported by a command's ``main`` after its arguments are parsed (it imports TensorFlow).
"""

import time

import biocnn
from biocnn import cli, experiment
from biocnn.rundir import RunDirectory


def describe(source, splits):
    """One line: samples per split, the sample shape and the classes."""
    shape = splits["val"][0].shape[1:]
    return (", ".join(f"{s} {len(y)}" for s, (_, y) in splits.items())
            + f" {source.modality} of shape {tuple(shape)}; classes {source.class_names}")


def run_config(source):
    """The ``config.json`` sections of a source: ``inputs``, and the reader's ``encoding`` or
    ``preprocessing`` at the top level (where export and explain read them)."""
    inputs = source.describe()
    extra = {"inputs": inputs}
    for key in ("encoding", "preprocessing"):
        if key in inputs:
            extra[key] = inputs[key]
    return extra


def train_source(args, source, *, normalize=True, clip=None, augment_extra=None, build=None, extra_config=None,
                 train_step=None):
    """Split ``source``, build the model (normalisation fitted on the training split), train, evaluate, report.

    Args:
        args: parsed flags of :func:`biocnn.cli.add_training_arguments`, ``add_split_arguments``,
            ``add_model_arguments`` (and ``--stream``).
        source: a :class:`biocnn.data.DataSource`.
        normalize: put a per-channel normalisation fitted on the training split in the model.
        clip: ``(low, high)`` percentiles clipped per image before it.
        augment_extra: augmentation spec entries added to ``--augment`` (``revcomp``).
        build: ``(input_shape, num_classes) -> keras.Model`` instead of ``--model`` (transfer).
        extra_config: more ``config.json`` entries.
        train_step: the experiment's training step (default :func:`biocnn.training.fit`).

    Returns:
        ``(run, model, splits, parts, result)``.
    """
    started = time.perf_counter()
    config = cli.training_config(args)
    parts = source.split(args.test_size, args.val_size, args.split_seed)
    stream = "train" if getattr(args, "stream", False) else None
    splits = source.arrays(parts, stream=stream, batch_size=config.batch_size, seed=args.seed)
    print(describe(source, splits), flush=True)
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=args.resume)

    biocnn.training.set_seed(args.seed)
    input_shape = splits["val"][0].shape[1:]
    if build is None:
        name, options = cli.model_spec(args)
        model = biocnn.models.create(name, input_shape, len(source.class_names), **options)
        spec = {"model_spec": {"name": name, "options": options}}
    else:
        model, spec = build(input_shape, len(source.class_names)), {}
    if normalize or clip:
        from biocnn.data.preprocess import fit_preprocessing, with_preprocessing

        train_inputs = source.streamer(parts["train"], 256, False, 0) if stream else splits["train"][0]
        model = with_preprocessing(fit_preprocessing(train_inputs, percentiles=clip, normalize=normalize), model)
    augmentation = cli.augmentation(args, source.rank, input_shape[-1], extra=augment_extra)
    label = spec["model_spec"]["name"] if spec else model.name
    print(f"{label}: {model.count_params():,} parameters; augmentation: {args.augment}", flush=True)
    groups = None if source.groups is None else {s: source.groups[i] for s, i in parts.items()}
    extra = run_config(source)
    extra["inputs"].update(streamed=bool(stream), input_shape=list(input_shape), clip_percentiles=clip,
                           normalisation="per channel, training split" if normalize else None)
    result = experiment.train_and_evaluate(
        run, model, splits, config, vars(args), source.class_names, source.ids_of(parts), groups=groups,
        augmentation=augmentation, extra_config={**extra, **spec, **(extra_config or {})},
        verbose=cli.verbosity(), tensorboard=getattr(args, "tensorboard", False), train_step=train_step,
        progress="run" if cli.verbosity() == 1 else None, tta=getattr(args, "tta", None),
        keep_checkpoints=getattr(args, "keep_checkpoints", False))  # a terminal: the run's ETA under Keras's bar
    result.wall_seconds = time.perf_counter() - started
    return run, model, splits, parts, result


def each_seed(args, train_one):
    """``train_one(args)`` once, or with ``--seeds`` once per seed in ``OUT/seed_K/`` (``--seed K
    --out OUT/seed_K``), then the summary over seeds (:func:`biocnn.cv.run_seeds`); ``--export
    DIR`` then exports the seed ensemble (:func:`biocnn.export.from_runs`).

    Returns:
        ``train_one``'s result, or ``(table, summary)`` over the seeds.
    """
    seeds = getattr(args, "seeds", None)
    if not seeds:
        return train_one(args)
    import copy

    from biocnn import cv

    check_export(args)  # before the first seed trains

    def one(seed, folder):
        single = copy.copy(args)
        single.seed, single.seeds, single.out, single.export = seed, None, folder, None
        return train_one(single)

    result = cv.run_seeds(args.out, seeds, one, overwrite=args.overwrite, resume=args.resume, arguments=vars(args))
    if getattr(args, "export", None):
        biocnn.export.from_runs([args.out], args.export, overwrite=args.overwrite)
        print(f"export: {args.export} (the mean of the {len(seeds)} seeds' models)", flush=True)
    return result


def report(result, run, extra="", split="test"):
    """Print the test metrics, per class, and where the run is."""
    test = result.metrics["test"]
    print(f"{split}: accuracy {test['accuracy']:.3f}, AUROC {test['auroc']:.3f}, AUPRC {test['auprc']:.3f} "
          f"(best epoch {result.metrics['best_epoch']}){extra}")
    for name, row in test.get("per_class", {}).items():
        print(f"  {name}: precision {row['precision']:.3f}, recall {row['recall']:.3f}, F1 {row['f1']:.3f}, "
              f"n={row['support']}")
    seconds = getattr(result, "wall_seconds", None)
    print((f"wall time {seconds:.0f} s; " if seconds is not None else "") + f"run directory: {run.path}", flush=True)


def export(args, run):
    """``--export DIR``: the run's model as a SavedModel (after training)."""
    if getattr(args, "export", None):
        biocnn.export.export_run(args, run.path)


def check_export(args):
    """Fail before training when ``--export DIR`` cannot be written or ``--tensorboard`` cannot log."""
    if getattr(args, "tensorboard", False):
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            raise ValueError("--tensorboard needs the tensorboard package, which is not installed: "
                             "pip install tensorboard (or leave out --tensorboard).")
    if getattr(args, "export", None):
        biocnn.export.check_export_argument(args)
