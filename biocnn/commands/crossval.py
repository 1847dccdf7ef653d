"""n-fold cross-validation of a biocnn model on any source, with optional nested hyper-parameter search.

Data: any input of biocnn images, volumes or sequences: an image folder or CSV (with a group
column: patients or smears never split), a MedMNIST-style .npz (all its splits pooled and
re-split into folds), an HDF5 stack or a CSV of volume files, FASTA + labels, one FASTA per
class, a sequence CSV or BED intervals. Every fold trains with a validation split carved out of
its training part (group-aware too), and its test part is touched once. Each fold is a run
directory fold_K/ (config.json, model.keras, history.csv, predictions.csv, metrics.json);
besides them: folds.json (the split of every sample), cv_folds.csv (every metric per fold),
cv_metrics.json (mean, sd, 95% t confidence interval; pooled out-of-fold metrics),
oof_predictions.csv and roc_folds.png.

    biocnn cv --csv datasets/bccd_cells/cells.csv --group-column group --folds 5 --out runs/cv_bccd
    biocnn cv --npz datasets/medmnist/breastmnist.npz --folds 5 --out runs/cv_breast
    biocnn cv ... --fold 2       # one fold only (a cluster array job)
    biocnn cv ... --collect      # assemble the report once all folds ran
    biocnn cv ... --search space.json --nested

A search space is a JSON object of parameter -> list of values, e.g.
{"learning_rate": [0.01, 0.05], "dropout": [0.0, 0.5]}; parameters are training settings
(learning_rate, batch_size, weight_decay, momentum, ...) or options of the model.
"""

import json
import sys

from biocnn import cli

def build_parser():
    parser = cli.parser(__doc__)
    cli.add_source_arguments(parser, stream=False)
    cli.add_split_arguments(parser, val_size=0.15, test=False)
    cli.add_model_arguments(parser, "cv")  # every default: the source modality's (cli.fill_defaults)
    folds = parser.add_argument_group("cross-validation")
    folds.add_argument("--folds", type=int, default=5, help="number of folds (default %(default)s)")
    folds.add_argument("--search", help="JSON search space: nested search inside every fold with --nested")
    folds.add_argument("--nested", action="store_true", help="run the search inside every outer fold")
    folds.add_argument("--n-iter", type=int, help="random search with this many candidates (default: full grid)")
    folds.add_argument("--fold", type=int, action="append", help="run only this fold (repeatable)")
    folds.add_argument("--collect", action="store_true", help="only assemble the report of finished folds")
    cli.add_training_arguments(parser, "cv")
    parser.set_defaults(biocnn_command="cv")
    return parser


def parse_args(argv):
    return build_parser().parse_args(argv)


def read_space(path):
    if path is None:
        return None
    try:
        with open(path) as f:
            space = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"No such search space file: '{path}'.") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}).") from None
    return space


def main(argv=None):
    args = parse_args(argv)
    import biocnn
    from biocnn import cv
    from biocnn.commands.steps import run_config
    from biocnn.rundir import RunDirectory

    if args.collect:
        return report(cv.collect(args.out))
    if args.search and not args.nested:
        raise ValueError("--search runs inside every fold: add --nested (a search outside the folds would "
                         "select on the test data and bias the estimate).")
    source = cli.open_source(args)
    cli.fill_defaults(args, source.modality)
    config = cli.training_config(args)
    model_name, model_options = cli.model_spec(args)
    space = read_space(args.search)
    if space:
        cv.check_space(space, None, model_options=biocnn.models.options(model_name))
    resume = args.resume or bool(args.fold)  # per-fold jobs share one run directory
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=resume)
    if not run.resumed:
        run.write_json("config.json", {"arguments": vars(args), "training": config.to_dict(), "seed": args.seed,
                                       "class_names": source.class_names, **run_config(source),
                                       "versions": biocnn.runtime.versions()})
    x, y = source.load(), source.labels
    augment = None
    if args.augment != "none":
        def augment():
            return cli.augmentation(args, source.rank, x.shape[-1])

    def build_model(**options):
        return biocnn.models.create(model_name, x.shape[1:], len(source.class_names), **{**model_options, **options})

    print(f"{model_name}, {args.folds}-fold CV on {len(y)} {source.modality}"
          + (f" in {len(set(source.groups.tolist()))} groups ({source.grouping})" if source.groups is not None else ""),
          flush=True)
    result = cv.cross_validate(
        build_model, x, y, cv=args.folds, groups=source.groups, ids=source.ids, config=config, out_dir=run.path,
        val_size=args.val_size, class_names=source.class_names, search_space=space, n_iter=args.n_iter,
        make_augmentation=augment, only_folds=args.fold, verbose=1, arguments=vars(args),
        extra_config=run_config(source), tta=args.tta, keep_checkpoints=args.keep_checkpoints,
    )
    if result is not None:
        report(result)
    return result


def report(result):
    for metric in ("accuracy", "auroc", "auprc"):
        s = result.summary[metric]
        print(f"{metric}: {s['mean']:.3f} +- {s['sd']:.3f} (95% CI {s['ci_low']:.3f}-{s['ci_high']:.3f}); "
              f"pooled out-of-fold {result.pooled[metric]:.3f}")
    return result


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
