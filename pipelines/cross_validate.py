"""n-fold cross-validation of a biocnn model, with optional nested hyper-parameter search.

Data: a MedMNIST-style .npz (all its splits are pooled and re-split into folds), or a
sequence CSV (--csv with --sequence-column/--label-column, e.g. the bundled splice junctions).
Every fold trains with a validation split carved out of its training part (group-aware with
--group-column), and its test part is touched once. The run directory holds folds.json (the
split of every sample), fold_K/ (model, history, predictions), cv_folds.csv (every metric per
fold), cv_metrics.json (mean, sd, 95% t confidence interval; pooled out-of-fold metrics),
oof_predictions.csv and roc_folds.png.

    python pipelines/cross_validate.py --npz datasets/medmnist/breastmnist.npz --folds 5 --out runs/cv_breast
    python pipelines/cross_validate.py ... --fold 2       # one fold only (a cluster array job)
    python pipelines/cross_validate.py ... --collect      # assemble the report once all folds ran
    python pipelines/cross_validate.py ... --search space.json --nested

A search space is a JSON object of parameter -> list of values, e.g.
{"learning_rate": [0.01, 0.05], "dropout": [0.0, 0.5]}; parameters are training settings
(learning_rate, batch_size, weight_decay, momentum, ...) or options of the model.
"""

import argparse
import json
import sys

import numpy as np

import biocnn
from biocnn import cli, cv
from biocnn.data import Encoding, class_indices, identical_sequence_groups, load_npz_splits, read_sequence_csv
from biocnn.experiment import versions
from biocnn.rundir import RunDirectory


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data (one source)")
    source = data.add_mutually_exclusive_group(required=True)
    source.add_argument("--npz", help="MedMNIST-style .npz; all splits are pooled")
    source.add_argument("--csv", help="a table with a sequence column and a label column")
    data.add_argument("--sequence-column", default="sequence", help="with --csv (default %(default)s)")
    data.add_argument("--label-column", default="label", help="with --csv (default %(default)s)")
    data.add_argument("--id-column", help="with --csv: sample ids for the predictions table")
    data.add_argument("--group-column", help="with --csv: groups (patient, slide, donor) kept on one side")
    data.add_argument("--length", type=int, help="with --csv: fixed sequence length (default: the longest)")
    parser.add_argument("--model", default=None, help="model name, with options as name:key=value,... (default: lenet5 for images/volumes, deepbind for sequences)")
    parser.add_argument("--folds", type=int, default=5, help="number of folds (default %(default)s)")
    parser.add_argument("--val-size", type=float, default=0.15, help="validation fraction of each training fold")
    parser.add_argument("--search", help="JSON search space: nested search inside every fold with --nested")
    parser.add_argument("--nested", action="store_true", help="run the search inside every outer fold")
    parser.add_argument("--n-iter", type=int, help="random search with this many candidates (default: full grid)")
    parser.add_argument("--fold", type=int, action="append", help="run only this fold (repeatable)")
    parser.add_argument("--collect", action="store_true", help="only assemble the report of finished folds")
    cli.add_training_arguments(parser)
    parser.set_defaults(epochs=30)
    return parser.parse_args(argv)


def load_data(args):
    """(x, y, ids, groups, class_names, default model) from the flags."""
    if args.npz:
        if args.group_column:
            raise ValueError("--group-column needs a table with sample ids (--csv); an .npz has no ids or groups.")
        splits = load_npz_splits(args.npz)
        x = np.concatenate([splits[s][0] for s in ("train", "val", "test")])
        y = np.concatenate([splits[s][1] for s in ("train", "val", "test")])
        return x, y, None, None, [str(c) for c in range(int(y.max()) + 1)], "lenet5"
    table = read_sequence_csv(args.csv, args.sequence_column, args.label_column, args.id_column, args.group_column)
    y, class_names = class_indices(table["label"])
    length = args.length or int(table["sequence"].str.len().max())
    x = Encoding("dna", length=length).encode(table["sequence"].tolist())
    # Without a group column, identical sequences form a group: one never lands on both sides.
    groups = table["group"].to_numpy() if args.group_column else identical_sequence_groups(table["sequence"])
    return x, y, table["id"].to_numpy(), groups, class_names, "deepbind"


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
    if args.collect:
        result = cv.collect(args.out)
        return report(result)
    if args.search and not args.nested:
        raise ValueError("--search runs inside every fold: add --nested (a search outside the folds would "
                         "select on the test data and bias the estimate).")
    config = cli.training_config(args)
    x, y, ids, groups, class_names, default_model = load_data(args)
    model_name, model_options = biocnn.models.parse_spec(args.model or default_model)
    space = read_space(args.search)
    if space:
        cv.check_space(space, None, model_options=biocnn.models.options(model_name))
    resume = args.resume or bool(args.fold)  # per-fold jobs share one run directory
    run = RunDirectory(args.out, overwrite=args.overwrite, resume=resume)
    if not run.resumed:
        run.write_json("config.json", {"arguments": vars(args), "training": config.to_dict(), "seed": args.seed,
                                       "class_names": class_names, "versions": versions()})

    def build_model(**options):
        return biocnn.models.create(model_name, x.shape[1:], len(class_names), **{**model_options, **options})

    print(f"{model_name}, {args.folds}-fold CV on {len(y)} samples"
          + (f" in {len(set(groups))} groups" if groups is not None else ""), flush=True)
    result = cv.cross_validate(
        build_model, x, y, cv=args.folds, groups=groups, ids=ids, config=config, out_dir=run.path,
        val_size=args.val_size, class_names=class_names, search_space=space, n_iter=args.n_iter,
        only_folds=args.fold, verbose=1,
    )
    if result is not None:
        report(result)


def report(result):
    for metric in ("accuracy", "auroc", "auprc"):
        s = result.summary[metric]
        print(f"{metric}: {s['mean']:.3f} +- {s['sd']:.3f} (95% CI {s['ci_low']:.3f}-{s['ci_high']:.3f}); "
              f"pooled out-of-fold {result.pooled[metric]:.3f}")


if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
