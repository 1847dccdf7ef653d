"""A model card: what a model was trained on and how well it does, as a dict and as Markdown.

:func:`model_card` reads a run directory's ``config.json`` and ``metrics.json`` (or, for a
biocnn export, its ``biocnn_export.json``, and the run directory it names when that still
exists) and returns the facts a collaborator who receives only the model folder needs: the
task and classes, the data and its splits, the input and its preprocessing, the training
settings, the test metrics with 95 % intervals, and the versions. :func:`card_markdown` renders
them; with ``out`` the card is written as ``MODEL_CARD.md``.

Intervals: when the metrics carry their own (``<metric>_ci`` or ``ci: {metric: [lo, hi]}``)
they are shown as recorded; otherwise accuracy and per-class recall get the Wilson score
interval from their counts (the number of test samples and each class's support). AUROC and
AUPRC are shown without an interval unless the run recorded one.
"""

import json
import math
import os

from biocnn import rundir
from biocnn.rundir import write_text

__all__ = ["CARD_FILE", "card_markdown", "model_card", "wilson_interval"]

CARD_FILE = "MODEL_CARD.md"
_Z95 = 1.959963984540054


def wilson_interval(successes, n, z=_Z95):
    """The Wilson score interval of a proportion (95 % by default).

    Args:
        successes: the number of successes (may be a float from ``rate * n``; it is rounded).
        n: the number of trials.
        z: the normal quantile (1.96 for 95 %).

    Returns:
        (low, high), or None when ``n`` is 0.

    Example:
        >>> [round(v, 4) for v in wilson_interval(287, 289)]
        [0.9751, 0.9981]
    """
    n = int(n)
    if n <= 0:
        return None
    k = min(max(round(float(successes)), 0), n)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _sources(path):
    """(config, metrics, export metadata, run directory) of a run directory or a biocnn export."""
    from biocnn.export import metadata as metadata_module

    path = os.path.abspath(os.fspath(path))
    if rundir.is_run(path):
        return rundir.read_config(path), rundir.read_metrics(path, required=False), None, path
    if os.path.isfile(os.path.join(path, metadata_module.SIDECAR)):
        meta = metadata_module.read(path)
        run_dir = (meta.get("source") or {}).get("run_directory")
        if run_dir and rundir.is_run(run_dir):
            config = rundir.read_config(run_dir)
            metrics = rundir.read_metrics(run_dir, required=False)
            return config, metrics or (meta.get("training") or {}).get("metrics"), meta, run_dir
        return None, (meta.get("training") or {}).get("metrics"), meta, None
    raise ValueError(
        f"model_card: '{path}' is neither a run directory (no config.json) nor a biocnn export (no "
        f"{metadata_module.SIDECAR}). Give a pipeline's --out folder or an export folder."
    )


def _interval(split_metrics, name, count):
    """A recorded interval for metric ``name``, else Wilson's from ``count`` when given."""
    recorded = split_metrics.get(f"{name}_ci") or (split_metrics.get("ci") or {}).get(name)
    if isinstance(recorded, (list, tuple)) and len(recorded) == 2:
        return [float(recorded[0]), float(recorded[1])], "as recorded by the run"
    value = split_metrics.get(name)
    if count is None or not isinstance(value, (int, float)) or value is None:
        return None, None
    interval = wilson_interval(value * count, count)
    return (None, None) if interval is None else ([interval[0], interval[1]], "Wilson score, 95 %")


def _split_metrics(split):
    if not isinstance(split, dict):
        return None
    n = split.get("num_samples")
    out = {"num_samples": n}
    for name in ("accuracy", "auroc", "auprc", "loss"):
        if isinstance(split.get(name), (int, float)):
            out[name] = float(split[name])
            interval, how = _interval(split, name, n if name == "accuracy" else None)
            if interval is not None:
                out[f"{name}_ci95"] = interval
                out[f"{name}_ci_method"] = how
    per_class = {}
    for name, row in (split.get("per_class") or {}).items():
        entry = {k: float(row[k]) for k in ("precision", "recall", "f1", "auroc", "auprc")
                 if isinstance(row.get(k), (int, float))}
        entry["support"] = row.get("support")
        interval, how = _interval(row, "recall", row.get("support"))
        if interval is not None:
            entry["recall_ci95"] = interval
        per_class[name] = entry
    if per_class:
        out["per_class"] = per_class
    return out


def _input_facts(config, meta):
    facts = {}
    if config:
        data = config.get("data") or {}
        facts["shape"] = (data.get("train") or {}).get("input_shape")
        inputs = rundir.inputs_of(config)
        for key in ("source", "channels", "size", "clip_percentiles", "normalisation", "intensity_scaling"):
            if inputs.get(key) is not None:
                facts[key] = inputs[key]
        if isinstance(config.get("preprocessing"), dict):
            facts["volume_preprocessing"] = config["preprocessing"]
        if config.get("encoding"):
            facts["encoding"] = config["encoding"]
    if meta:
        facts.setdefault("shape", (meta.get("input") or {}).get("model_input_shape", [None])[1:])
        facts["served_as"] = (meta.get("input") or {}).get("description")
        facts["in_graph"] = [step.get("step") for step in (meta.get("preprocessing") or {}).get("in_graph") or []]
    return facts


def _data_source(config):
    arguments = config.get("arguments") or {}
    for key in ("csv", "folder", "npz", "hdf5", "fasta", "train_fasta"):
        if arguments.get(key):
            return f"{key}: {arguments[key]}"
    return rundir.inputs_of(config).get("source")


def model_card(path, out=None, *, intended_use=None, limitations=None):
    """The facts of a trained model, read from its run directory or export; optionally written.

    Keys read: ``config.json``: ``model`` (name, parameters), ``class_names``, ``data`` (samples,
    input shape and class counts per split), ``inputs``/``input`` (source, channels, size,
    clipping, normalisation, intensity scaling, split), ``preprocessing`` (volumes),
    ``encoding`` (sequences), ``training``, ``augmentation``, ``arguments``, ``seed``,
    ``versions``, ``command``; ``metrics.json``: ``best_epoch``, ``stopped_early``, ``val`` and
    ``test`` (``num_samples``, ``accuracy``, ``auroc``, ``auprc``, ``loss``, ``per_class``, and
    any recorded ``<metric>_ci``). From an export without its run: ``biocnn_export.json``'s
    ``class_names``, ``input``, ``preprocessing``, ``training``, ``model``, ``versions``.

    Args:
        path: a run directory or a biocnn export folder.
        out: a folder to write ``MODEL_CARD.md`` into (atomically), or None.
        intended_use: one or two sentences from the model's owner; a generic statement of
            research use is given otherwise.
        limitations: extra limits from the owner, added to those the card derives itself.

    Returns:
        dict: ``model``, ``task``, ``data``, ``input``, ``training``, ``metrics`` (``val``/``test``
        with 95 % intervals), ``intended_use``, ``limitations``, ``versions``, ``source``.

    Raises:
        ValueError: ``path`` is neither a run directory nor a biocnn export.

    Example:
        >>> card = model_card("runs/bccd_cells")  # doctest: +SKIP
        >>> print(card["metrics"]["test"]["accuracy_ci95"])  # doctest: +SKIP
        [0.9751, 0.9981]
    """
    config, metrics, meta, run_dir = _sources(path)
    config = config or {}
    metrics = metrics or {}
    class_names = config.get("class_names") or (meta or {}).get("class_names")
    model = dict(config.get("model") or (meta or {}).get("model") or {})
    options = (config.get("arguments") or {}).get("model_option")
    if options:
        model["options"] = {k: v for k, v in options}
    data = config.get("data") or ((meta or {}).get("training") or {}).get("data") or {}
    splits = {s: {"samples": d.get("samples"), "class_counts": d.get("class_counts")} for s, d in data.items()}
    modality = (meta or {}).get("modality") or {1: "sequence", 2: "image", 3: "volume"}.get(
        len((data.get("train") or {}).get("input_shape") or []) - 1)
    augmentation = config.get("augmentation")
    training = dict(config.get("training") or {})
    if augmentation:
        training["augmentation"] = (augmentation.get("config") or {}).get("name") or augmentation.get("class_name")
    if metrics:
        training["best_epoch"] = metrics.get("best_epoch")
        training["stopped_early"] = metrics.get("stopped_early")

    source = _data_source(config) if config else None
    derived = [
        f"Trained and tested on {('the splits of ' + source) if source else 'one data set'} only; "
        "accuracy on data from another instrument, stain, lab or population is unknown until measured there.",
        f"It assigns every input to one of {len(class_names or [])} classes ({', '.join(class_names or [])}); "
        "it has no 'none of these' answer for inputs unlike its training data.",
    ]
    test = metrics.get("test") or {}
    if isinstance(test.get("num_samples"), int) and test["num_samples"] < 500:
        derived.append(f"The test split has {test['num_samples']} samples, so its metrics are uncertain by the "
                       "intervals shown.")
    if modality in ("image", "volume"):
        derived.append("Inputs must be prepared as in training (same size, channels and intensity scaling; see Input).")
    card = {
        "model": model,
        "task": {"modality": modality, "kind": "classification", "class_names": class_names},
        "data": {"source": source or "not recorded in config.json (the pipeline's default data set)",
                 "split": rundir.inputs_of(config).get("split") if config else None, "splits": splits},
        "input": _input_facts(config, meta),
        "training": training,
        "metrics": {s: _split_metrics(metrics.get(s)) for s in ("val", "test") if metrics.get(s)},
        "intended_use": intended_use or (
            "Research use: classifying new samples like those of the training data, by someone who checks its "
            "output. Not validated for clinical or diagnostic decisions."),
        "limitations": [*derived, *([limitations] if isinstance(limitations, str) else limitations or [])],
        "versions": config.get("versions") or (meta or {}).get("versions"),
        "source": {"run_directory": run_dir, "command": config.get("command"), "seed": config.get("seed")},
    }
    if out is not None:
        os.makedirs(out, exist_ok=True)
        write_text(os.path.join(out, CARD_FILE), card_markdown(card))
    return card


def _number(value, digits=3):
    return "n/a" if value is None else f"{value:.{digits}f}"


def _with_interval(metrics, name):
    text = _number(metrics.get(name))
    interval = metrics.get(f"{name}_ci95")
    return text if not interval else f"{text} ({_number(interval[0])}-{_number(interval[1])})"


def card_markdown(card, title=None):
    """The model card as Markdown (the text of ``MODEL_CARD.md``).

    Example:
        >>> text = card_markdown({"model": {"name": "lenet5"}, "task": {"class_names": ["a", "b"]}})
        >>> print(text.splitlines()[0])
        # Model card: lenet5
    """
    model = card.get("model") or {}
    task = card.get("task") or {}
    lines = [f"# {title or 'Model card: ' + str(model.get('name', 'model'))}", ""]
    params = model.get("parameters")
    modality = task.get("modality") or ""
    article = "An" if modality[:1] in ("a", "e", "i", "o", "u") else "A"
    lines += [f"{article} {modality} classifier ({model.get('name')}"
              f"{', ' + format(params, ',') + ' parameters' if params else ''}"
              f"{', options ' + json.dumps(model['options']) if model.get('options') else ''}) "
              f"into {len(task.get('class_names') or [])} classes: {', '.join(task.get('class_names') or [])}.", ""]
    data = card.get("data") or {}
    if data.get("splits"):
        lines += ["## Training data", "", f"Source: `{data.get('source')}`; split: `{json.dumps(data.get('split'))}`.", "",
                  "| split | samples | per class |", "|---|---|---|"]
        for split, row in data["splits"].items():
            counts = ", ".join(f"{k} {v}" for k, v in (row.get("class_counts") or {}).items())
            lines.append(f"| {split} | {row.get('samples')} | {counts} |")
        lines.append("")
    inputs = card.get("input") or {}
    if inputs:
        lines += ["## Input", ""] + [f"- {k.replace('_', ' ')}: `{json.dumps(v)}`" for k, v in inputs.items()] + [""]
    metrics = card.get("metrics") or {}
    if metrics:
        lines += ["## How well it does", "",
                  "95 % intervals in parentheses (accuracy and recall: Wilson score from the counts, unless the run "
                  "recorded its own).", "",
                  "| split | n | accuracy | AUROC | AUPRC | loss |", "|---|---|---|---|---|---|"]
        for split, row in metrics.items():
            lines.append(f"| {split} | {row.get('num_samples')} | {_with_interval(row, 'accuracy')} | "
                         f"{_with_interval(row, 'auroc')} | {_with_interval(row, 'auprc')} | {_number(row.get('loss'), 4)} |")
        per_class = (metrics.get("test") or {}).get("per_class")
        if per_class:
            lines += ["", "Test split, per class:", "", "| class | support | precision | recall | F1 | AUROC |",
                      "|---|---|---|---|---|---|"]
            for name, row in per_class.items():
                lines.append(f"| {name} | {row.get('support')} | {_number(row.get('precision'))} | "
                             f"{_with_interval(row, 'recall')} | {_number(row.get('f1'))} | {_number(row.get('auroc'))} |")
        lines.append("")
    training = card.get("training") or {}
    if training:
        lines += ["## Training", "", ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in training.items()), ""]
    lines += ["## Intended use", "", card.get("intended_use") or "", "", "## Limits", ""]
    lines += [f"- {text}" for text in card.get("limitations") or []] + [""]
    source = card.get("source") or {}
    versions = card.get("versions") or {}
    lines += ["## Provenance", ""]
    if source.get("command"):
        lines.append(f"Command: `{source['command']}` (seed {source.get('seed')}).")
    if versions:
        lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if k != "platform") + ".")
    return "\n".join(lines) + "\n"
