"""Hyper-parameter search (grid or seeded random) scored on a validation split.

The candidates come from scikit-learn's ``ParameterGrid`` and ``ParameterSampler``. A
parameter is either a field of :class:`biocnn.training.TrainingConfig` (``learning_rate``,
``batch_size`` ...) or an argument of the ``build_model`` function (``dropout`` ...).
"""

import dataclasses
import inspect
import json

import pandas as pd
from sklearn.model_selection import ParameterGrid, ParameterSampler

from biocnn import evaluation, training
from biocnn.training import TrainingConfig
from biocnn.utils import did_you_mean

_CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(TrainingConfig))


def _model_parameters(build_model):
    signature = inspect.signature(build_model)
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None  # takes **kwargs: anything may be a model option
    return tuple(signature.parameters)


def check_space(space, build_model, model_options=None):
    """Refuse a search space with a parameter that neither the training nor the model takes.

    Args:
        space: dict parameter -> values.
        build_model: the model function; its signature lists the model options...
        model_options: ...unless given here (for a ``build_model(**options)`` wrapper).

    Example:
        >>> check_space({"learning_rate": [0.1, 0.01]}, lambda dropout=0.5: None)
    """
    if not isinstance(space, dict) or not space:
        raise ValueError(f"A search space must be a non-empty dict of parameter -> values, got {space!r}.")
    model_params = tuple(model_options) if model_options is not None else _model_parameters(build_model)
    for name, values in space.items():
        if name in _CONFIG_FIELDS or model_params is None or name in model_params:
            if isinstance(values, (list, tuple)) and len(values) == 0:
                raise ValueError(f"Search space parameter '{name}' has no values.")
            continue
        valid = sorted(set(_CONFIG_FIELDS) | set(model_params))
        hint = did_you_mean(name, valid)
        raise ValueError(
            f"Unknown search parameter '{name}'.{hint} Valid parameters: training settings "
            f"({', '.join(_CONFIG_FIELDS)}) or model arguments ({', '.join(model_params) or 'none'})."
        )


def candidates(space, n_iter=None, seed=0):
    """All grid points (``n_iter=None``) or ``n_iter`` seeded random draws, as a list of dicts."""
    if n_iter is None:
        return list(ParameterGrid(space))
    return list(ParameterSampler(space, n_iter=n_iter, random_state=seed))


def split_params(params):
    """(TrainingConfig fields, model arguments) of one candidate."""
    config = {k: v for k, v in params.items() if k in _CONFIG_FIELDS}
    model = {k: v for k, v in params.items() if k not in _CONFIG_FIELDS}
    return config, model


def _to_native(value):
    return value.item() if hasattr(value, "item") else value


def search(build_model, train, validation, space, config=None, n_iter=None, seed=0, score="loss", verbose=0, label=""):
    """Try each candidate on ``train``, score it on ``validation``, return the trials and the best.

    Args:
        build_model: ``build_model(**model_args) -> uncompiled keras.Model``.
        train, validation: ``(x, y)`` array pairs.
        space: dict parameter -> list of values (or scipy distributions with ``n_iter``).
        config: the base :class:`TrainingConfig`; candidates replace its fields.
        n_iter: None for the whole grid, else that many seeded random candidates.
        seed: seeds the sampler and every candidate's training.
        score: validation metric to select on: ``"loss"`` (lower is better), ``"auroc"``,
            ``"auprc"`` or ``"accuracy"`` (higher is better).
        verbose: print one line per trial ("fold 2/5: trial 3/8 ...").
        label: the prefix of those lines, e.g. ``"fold 2/5"``.

    Returns:
        (trials DataFrame sorted best first, best params dict).
    """
    check_space(space, build_model)
    if score not in ("loss", "auroc", "auprc", "accuracy"):
        raise ValueError(f"score must be one of loss, auroc, auprc, accuracy; got {score!r}.")
    config = config or TrainingConfig()
    rows = []
    trials = candidates(space, n_iter, seed)
    for i, params in enumerate(trials):
        params = {k: _to_native(v) for k, v in params.items()}
        config_params, model_params = split_params(params)
        trial_config = dataclasses.replace(config, **config_params)
        training.set_seed(trial_config.seed)
        model = build_model(**model_params)
        training.fit(model, *train, validation=validation, config=trial_config, verbose=0)
        metrics, _ = evaluation.evaluate(model, *validation, loss=trial_config.loss)
        rows.append({"trial": i, "params": json.dumps(params, sort_keys=True), **{f"val_{k}": metrics[k] for k in ("loss", "accuracy", "auroc", "auprc")}})
        if verbose:
            prefix = f"{label}: " if label else ""
            print(f"{prefix}trial {i + 1}/{len(trials)}: {params} -> val {score} {metrics[score]:.4f}", flush=True)
    trials = pd.DataFrame(rows)
    ascending = score == "loss"
    trials = trials.sort_values(f"val_{score}", ascending=ascending, na_position="last").reset_index(drop=True)
    best = json.loads(trials.loc[0, "params"])
    return trials, best


__all__ = ["candidates", "check_space", "search", "split_params"]
