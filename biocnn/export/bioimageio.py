"""BioImage Model Zoo (bioimage.io) packages of biocnn image and volume classifiers.

:func:`to_bioimageio` turns a finished run directory (or a biocnn export of one) into a folder
that Fiji/deepImageJ, ilastik, napari, QuPath and ``bioimageio test`` open: an ``rdf.yaml``
in the model format 0.5 (``format_version`` 0.5.x) and the files it names:

* ``tf_saved_model.zip``: a TensorFlow SavedModel (``tensorflow_saved_model_bundle``) whose
  ``serve`` endpoint and ``serving_default`` signature map the input to ``probabilities``
  (it wraps the biocnn export's ``serving_default``, so the in-graph preprocessing is the
  export's own), with ``assets/biocnn_export.json``;
* ``model.onnx``: the same graph in ONNX (``onnx`` weights, parent the SavedModel), when
  :func:`biocnn.export.to_onnx` converts it with parity;
* ``test_input.npy`` / ``test_output.npy``: one sample of the run's test split as the model
  takes it, and the SavedModel's probabilities for it;
* ``cover.png``: a figure of the run (misclassified test images, volume slices or ROC curves)
  on a 2:1 canvas under 500 kB; ``doc.md`` and ``MODEL_CARD.md``: the model card
  (:func:`biocnn.export.model_card`), plus how to use the package.

Axes carry their meaning (``batch``, ``y``/``x`` or ``z``/``y``/``x`` space, ``channel``); the
output's channel axis is named by the class names. The licence, the authors and the citation
come from the caller and are never filled in. Writing is atomic, and the written
``rdf.yaml`` is validated with ``bioimageio.spec`` when it is installed.
"""

import datetime
import io
import json
import os
import re
import shutil
import tempfile
import warnings
import zipfile

import numpy as np
import tensorflow as tf

from biocnn.export import metadata as metadata_module
from biocnn.export.card import CARD_FILE, card_markdown, model_card
from biocnn.export.savedmodel import atomic_folder
from biocnn import rundir
from biocnn.rundir import file_sha256

__all__ = ["RDF_FILE", "to_bioimageio"]

RDF_FILE = "rdf.yaml"
FORMAT_VERSION = "0.5.4"  # the model format 0.5 release this writer follows; 0.5.x readers accept it
_MARKER = "biocnn_bioimageio"  # in rdf.yaml's config: marks a package folder biocnn may replace
_AXES = {"image": ("y", "x"), "volume": ("z", "y", "x")}
_FIGURES = ("misclassified.png", "slices.png", "roc.png", "confusion_matrix.png", "training_curves.png")
_COVER_BYTES = 500_000


# --- arguments ---------------------------------------------------------------------------------


def _authors(authors):
    if isinstance(authors, (str, dict)):
        authors = [authors]
    out = []
    for author in authors or []:
        entry = {"name": author} if isinstance(author, str) else dict(author)
        if not str(entry.get("name") or "").strip():
            raise ValueError(f"to_bioimageio: every author needs a name, got {author!r}.")
        out.append(entry)
    return out


def _cite(cite):
    if isinstance(cite, (str, dict)):
        cite = [cite]
    out = []
    for entry in cite or []:
        if isinstance(entry, str):
            text = entry.strip()
            if re.match(r"^(https?://(dx\.)?doi\.org/)?10\.\d{4,}/\S+$", text):
                entry = {"text": text, "doi": re.sub(r"^https?://(dx\.)?doi\.org/", "", text)}
            elif re.match(r"^https?://\S+$", text):
                entry = {"text": text, "url": text}
            else:
                raise ValueError(f"to_bioimageio: the citation {entry!r} is neither a DOI (10.xxxx/...) nor a URL; "
                                 "give a DOI, a URL, or {'text': ..., 'doi': ...}.")
        entry = dict(entry)
        if not entry.get("text") or not (entry.get("doi") or entry.get("url")):
            raise ValueError(f"to_bioimageio: a citation needs 'text' and a 'doi' or 'url', got {entry!r}.")
        out.append(entry)
    return out


def _check_user_fields(license, authors, cite):
    missing = [flag for flag, value in (("license", license), ("authors", authors), ("cite", cite)) if not value]
    if missing:
        raise ValueError(
            f"to_bioimageio: {', '.join(missing)} missing; bioimage.io packages need the licence (an SPDX id such "
            "as 'MIT' or 'CC-BY-4.0'), the authors and a citation (DOI or URL) from the model's owners, and biocnn "
            "never invents them (--license, --author, --cite)."
        )
    return str(license), _authors(authors), _cite(cite)


# --- where the package goes --------------------------------------------------------------------


def _check_target(path, overwrite):
    if not os.path.exists(path):
        return
    if not os.path.isdir(path):
        raise FileExistsError(f"'{path}' exists and is a file; choose another package folder.")
    if not os.listdir(path):
        return
    rdf = os.path.join(path, RDF_FILE)
    ours = False
    if os.path.isfile(rdf):
        with open(rdf, encoding="utf-8", errors="replace") as f:
            ours = _MARKER in f.read()
    if not ours:
        raise FileExistsError(f"'{path}' is not empty and is not a biocnn bioimage.io package; biocnn will not "
                              "write into it or delete it. Choose another folder.")
    if not overwrite:
        raise FileExistsError(f"'{path}' already holds a bioimage.io package. Pass overwrite=True (--overwrite) "
                              "to replace it, or choose another folder.")


# --- the pieces --------------------------------------------------------------------------------


def _wrap_saved_model(export_dir, folder, zip_path):
    """A SavedModel of the export's ``serving_default`` with the one output ``probabilities``, zipped."""
    from biocnn.export.savedmodel import load

    loaded = load(export_dir).saved_model  # biocnn's own loading (and its checks) of an export
    function = loaded.signatures["serving_default"]
    (name, spec), = function.structured_input_signature[1].items()
    module = tf.Module()
    module.export = loaded  # tracked: its variables are saved with the wrapper

    @tf.function(input_signature=[tf.TensorSpec(spec.shape, spec.dtype, name=name)])
    def serve(x):
        return {"probabilities": function(**{name: x})["probabilities"]}

    module.serve = serve
    tf.saved_model.save(module, folder, signatures={"serving_default": serve})
    os.makedirs(os.path.join(folder, "assets"), exist_ok=True)
    shutil.copy(os.path.join(export_dir, metadata_module.SIDECAR), os.path.join(folder, "assets", metadata_module.SIDECAR))
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, _, files in os.walk(folder):
            for file in sorted(files):
                full = os.path.join(root, file)
                archive.write(full, os.path.relpath(full, folder))
    return name, spec


def _with_channels(x, rank):
    return x[..., None] if x.ndim == rank + 1 else x  # (1, *spatial) -> (1, *spatial, 1)


def _raw_sample_from_run(run_dir, config, modality):
    """The run's first test sample with the file's own values and dtype (for exports that take raw input)."""
    from biocnn.data import read_image

    arguments = config.get("arguments") or {}
    rank = 2 if modality == "image" else 3
    npz = arguments.get("npz")
    if npz and os.path.isfile(npz):
        with np.load(npz, allow_pickle=False) as arrays:
            return _with_channels(arrays["test_images"][:1], rank)
    path = _first_test_file(run_dir, arguments) if modality == "image" else None
    return None if path is None else read_image(path)[None]


def _first_test_file(run_dir, arguments):
    """The image file of the run's first test prediction, or None when it is not at the recorded path."""
    if not (arguments.get("csv") or arguments.get("folder")):
        return None
    predictions = os.path.join(run_dir, "predictions.csv")
    if not os.path.isfile(predictions):
        return None
    import pandas as pd

    first = str(pd.read_csv(predictions, dtype={"id": str})["id"].iloc[0])
    root = arguments.get("folder") or arguments.get("root") or os.path.dirname(arguments["csv"])
    path = os.path.join(root, first)
    return path if os.path.isfile(path) else None


def _sample_from_run(run_dir, config, modality):
    """One test sample of the run, read as the run read it, or None when the run's data is not at hand."""
    from biocnn.data import load_image, load_npz_splits
    from biocnn.data.preprocess import resize, select_channels

    arguments = config.get("arguments") or {}
    npz = arguments.get("npz")
    if npz and os.path.isfile(npz):
        x = load_npz_splits(npz)["test"][0][:1]
        if modality == "volume":
            from biocnn.data.volume_datasets import VolumePreprocessing, load_volumes
            from biocnn.data.volumes import ArrayVolumes

            settings = dict(config.get("preprocessing") or {})
            for key in ("window", "target_shape"):
                if isinstance(settings.get(key), list):
                    settings[key] = tuple(settings[key])
            return load_volumes(ArrayVolumes(x, name=f"{npz}:test"), preprocessing=VolumePreprocessing(**settings))
        if arguments.get("channels"):
            x = select_channels(x, arguments["channels"], where=f"{npz} test_images")
        if arguments.get("size"):
            x = np.stack([resize(image, arguments["size"]) for image in x])
        return x
    path = _first_test_file(run_dir, arguments) if modality == "image" else None
    if path is None:
        return None
    return load_image(path, shape=arguments.get("size"), channels=arguments.get("channels"))[None]


def _test_input(sample, run_dir, config, modality, spec, where):
    # An export whose signature declares an integer dtype takes the files' own values (its graph
    # scales them); one that takes float32 takes the values biocnn's readers give.
    raw = spec.dtype.is_integer
    if sample is None and run_dir is not None and config is not None:
        read = _raw_sample_from_run if raw else _sample_from_run
        sample = read(run_dir, config, modality)
    if sample is None:
        raise ValueError(
            f"to_bioimageio: cannot read a test sample of the run behind '{where}' (its data files are not at the "
            "recorded paths, or it was read from HDF5/CSV volumes); pass test_input=<one input as the model takes "
            "it> (--test-input FILE.npy)."
        )
    x = np.asarray(sample)
    expected = tuple(spec.shape[1:])
    if x.shape == expected:
        x = x[None]
    if x.ndim != len(expected) + 1 or any(e is not None and e != s for e, s in zip(expected, x.shape[1:])):
        raise ValueError(f"to_bioimageio: the test input has shape {x.shape}; the model takes (N, "
                         f"{', '.join(str(e) for e in expected)}).")
    dtype = np.dtype(spec.dtype.as_numpy_dtype)
    if raw and x.dtype.kind == "f" and not np.array_equal(x, np.round(x)):
        raise ValueError(f"to_bioimageio: the export takes {dtype.name} input (the files' own values), but the test "
                         "input has fractional values; give a sample as read from the file.")
    return x[:1].astype(dtype)


def _cover(run_dir, out_path):
    """A figure of the run on a white 2:1 canvas, PNG under 500 kB; False without figures."""
    from PIL import Image

    figures = [os.path.join(run_dir, f) for f in _FIGURES] if run_dir else []
    found = next((f for f in figures if os.path.isfile(f)), None)
    if found is None:
        return False
    with Image.open(found) as image:
        image = image.convert("RGB")
        for width in (1024, 768, 512, 384):
            canvas = Image.new("RGB", (width, width // 2), "white")
            fitted = image.copy()
            fitted.thumbnail((width, width // 2), Image.LANCZOS)
            canvas.paste(fitted, ((width - fitted.width) // 2, (width // 2 - fitted.height) // 2))
            buffer = io.BytesIO()
            canvas.save(buffer, "PNG", optimize=True)
            if buffer.tell() < _COVER_BYTES:
                break
    with open(out_path, "wb") as f:
        f.write(buffer.getvalue())
    return os.path.basename(found)


def _value_range(metadata, modality, spec):
    """The input's value range as the run read it, or (None, None) when it is not known."""
    recorded = (metadata.get("input") or {}).get("value_range")
    if isinstance(recorded, (list, tuple)) and len(recorded) == 2:
        return [recorded[0], recorded[1]]
    if spec.dtype.is_integer:  # the files' own values
        return [float(spec.dtype.min), float(spec.dtype.max)]
    before = (metadata.get("preprocessing") or {}).get("before_graph") or {}
    if modality == "image" and "divided by their dtype maximum" in str(before.get("intensity_scaling", "")):
        return [0.0, 1.0]  # float images pass unchanged, so this is the range of integer files only
    if modality == "volume" and (before.get("volume_preprocessing") or {}).get("window"):
        return [0.0, 1.0]
    return [None, None]


# --- rdf.yaml ----------------------------------------------------------------------------------


def _yaml(value, indent=0):
    """A small YAML writer for the RDF (dicts, lists, strings, numbers, booleans, None)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return " {}"
        lines = []
        for key, item in value.items():
            key = key if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(key)) else json.dumps(str(key))
            text = _yaml(item, indent + 1)
            lines.append(f"{pad}{key}:{text}" if text.startswith((" ", "\n")) else f"{pad}{key}: {text}")
        return "\n" + "\n".join(lines)
    if isinstance(value, (list, tuple)):
        if not value:
            return " []"
        lines = []
        for item in value:
            text = _yaml(item, indent + 1)
            if isinstance(item, dict) and item:
                body = text.lstrip("\n").split("\n")
                first = body[0][len("  " * (indent + 1)):]
                lines.append(f"{pad}- {first}" + "".join("\n" + line for line in body[1:]))
            else:
                lines.append(f"{pad}- {text.strip()}")
        return "\n" + "\n".join(lines)
    return " " + json.dumps(value)  # JSON scalars are YAML scalars


def _name(card, modality):
    model = (card.get("model") or {}).get("name") or "model"
    classes = card["task"].get("class_names") or []
    name = f"biocnn {model} {modality} classifier ({' '.join(classes)})"
    name = re.sub(r"[^A-Za-z0-9_+\- ()]", "_", name)
    return name if len(name) <= 64 else f"biocnn {model} {modality} classifier ({len(classes)} classes)"


def _short(text, limit=128):
    """bioimage.io limits tensor and axis descriptions to 128 characters (the details are in doc.md)."""
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


def _rdf(*, name, description, license, authors, cite, tags, modality, spec, input_name, value_range, class_names,
         test_output, weights, covers, attachments, card, metadata, preprocessing_text):
    spatial = _AXES[modality]
    # A size the export leaves open (it resizes in its graph) is declared at the model's own size.
    model_shape = ((metadata.get("input") or {}).get("model_input_shape") or [None] * len(spec.shape))[1:]
    sizes = [s if s is not None else m for s, m in zip(spec.shape[1:-1], model_shape)]
    channels = spec.shape[-1] if spec.shape[-1] is not None else model_shape[-1]
    input_axes = [{"type": "batch"}]
    for axis, size in zip(spatial, sizes):
        input_axes.append({"type": "space", "id": axis, "size": int(size)})
    input_axes.append({"type": "channel", "channel_names": [f"channel{i}" for i in range(int(channels))]})
    output_axes = [{"type": "batch"},
                   {"type": "channel", "channel_names": list(class_names),
                    "description": _short("the classes, in output order")}]
    return {
        "type": "model",
        "format_version": FORMAT_VERSION,
        "name": name,
        "description": description,
        "authors": authors,
        "cite": cite,
        "license": license,
        "tags": list(tags),
        "documentation": "doc.md",
        "covers": covers,
        "attachments": [{"source": a} for a in attachments],
        "timestamp": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "inputs": [{
            "id": re.sub(r"[^a-z0-9_]", "_", input_name.lower()),
            "description": _short(f"{input_name}: raw intensities as biocnn's readers give them; {preprocessing_text}"),
            "axes": input_axes,
            "data": {"type": spec.dtype.name, "range": value_range},
            "test_tensor": {"source": "test_input.npy"},
        }],
        "outputs": [{
            "id": "probabilities",
            "description": _short("class probabilities: " + ", ".join(class_names)),
            "axes": output_axes,
            "data": {"type": "float32", "range": [0.0, 1.0]},
            "test_tensor": {"source": "test_output.npy"},
        }],
        "weights": weights,
        "config": {"biocnn": {_MARKER: True, "class_names": list(class_names), "model_card": card,
                              "export_metadata": {k: metadata.get(k) for k in
                                                  ("format", "format_version", "modality", "input", "preprocessing",
                                                   "versions")}}},
    }


def _validate(folder):
    """Validate the written rdf.yaml with bioimageio.spec when it is installed; None otherwise."""
    try:
        from bioimageio.spec import load_description
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        description = load_description(os.path.join(folder, RDF_FILE), perform_io_checks=True)
    summary = description.validation_summary
    if summary.status == "failed":
        errors = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for detail in summary.details for e in detail.errors)
        raise ValueError(f"to_bioimageio: bioimageio.spec rejects the package's rdf.yaml: {errors}")
    return summary.status


# --- the function ------------------------------------------------------------------------------


def to_bioimageio(run_or_export, out_dir, *, license=None, authors=None, cite=None, name=None, description=None,
                  tags=(), test_input=None, onnx=True, intended_use=None, limitations=None, overwrite=False):
    """Write a bioimage.io model package (``rdf.yaml`` and its files) for a 2D or 3D image classifier.

    Args:
        run_or_export: a run directory of ``pipelines/classify_images.py`` or
            ``classify_volumes.py`` (``model.keras`` + ``config.json``), or a biocnn export of
            one (:func:`biocnn.export.from_run`).
        out_dir: the package folder to write (must not exist or be empty, unless it holds a
            package written here and ``overwrite``).
        license: an SPDX licence id for the model (e.g. ``"MIT"``, ``"CC-BY-4.0"``). Required.
        authors: the model's authors: names or ``{"name": ..., "affiliation": ..., "orcid":
            ...}`` dicts. Required.
        cite: what users of the model should cite: a DOI (``"10.xxxx/..."``), a URL, or
            ``{"text": ..., "doi"/"url": ...}`` dicts. Required.
        name: the package's name (default ``"biocnn <model> <modality> classifier (<classes>)"``).
        description: one or two sentences (default from the model card).
        tags: extra tags (``"biocnn"``, ``"classification"``, ``"2d"``/``"3d"`` are added).
        test_input: one input as the model takes it, ``(*spatial, C)`` or ``(1, *spatial, C)``;
            default: the first sample of the run's test split, read as the run read it (runs
            on an ``.npz``, or on image files listed in ``predictions.csv``).
        onnx: also convert to ONNX (:func:`biocnn.export.to_onnx`); skipped with a warning when
            tf2onnx/onnxruntime are missing or the conversion fails its parity check.
        intended_use, limitations: the owner's words for the model card (see
            :func:`biocnn.export.model_card`).
        overwrite: replace a package previously written to ``out_dir`` by this function.

    Returns:
        dict: ``path`` (the package folder), ``rdf`` (the written description), ``weights``
        (formats written), ``validation`` (bioimageio.spec's status, or None when it is not
        installed) and ``model_card`` (the card's facts).

    Raises:
        ValueError: licence, authors or citation missing (one line naming them); a sequence
            or signal model (bioimage.io describes images); no test sample found; or an
            ``rdf.yaml`` that bioimageio.spec rejects (nothing is written).
        FileExistsError: ``out_dir`` is a file or a non-empty folder that is not a package
            written here, or one and ``overwrite`` is False.

    Example:
        >>> info = to_bioimageio("runs/bccd_cells", "packages/bccd", license="MIT",
        ...                      authors=["Ada Lovelace"], cite="10.5281/zenodo.0000000")  # doctest: +SKIP
        >>> print(info["weights"])  # doctest: +SKIP
        ['tensorflow_saved_model_bundle', 'onnx']
    """
    license, authors, cite = _check_user_fields(license, authors, cite)
    source = os.path.abspath(os.fspath(run_or_export))
    out_dir = os.path.abspath(os.fspath(out_dir))
    _check_target(out_dir, overwrite)
    is_export = os.path.isfile(os.path.join(source, metadata_module.SIDECAR))
    card = model_card(source, intended_use=intended_use, limitations=limitations)
    modality = card["task"]["modality"]
    if modality not in _AXES:
        raise ValueError(f"to_bioimageio: '{source}' is a {modality} model; bioimage.io packages describe image and "
                         "volume models. Use biocnn.export.to_onnx or the SavedModel export for it.")
    run_dir = card["source"]["run_directory"]
    config = None
    if run_dir and rundir.is_run(run_dir):
        config = rundir.read_config(run_dir)

    with atomic_folder(out_dir, overwrite, check=_check_target) as tmp, tempfile.TemporaryDirectory(dir=os.path.dirname(out_dir)) as work:
        if is_export:
            export_dir = source
        else:
            from biocnn.export.savedmodel import from_run

            export_dir = os.path.join(work, "export")
            from_run(source, export_dir, embeddings=False)
        metadata = metadata_module.read(export_dir)
        class_names = [str(c) for c in metadata["class_names"]]
        input_name, spec = _wrap_saved_model(export_dir, os.path.join(work, "tf_saved_model"),
                                             os.path.join(tmp, "tf_saved_model.zip"))
        x = _test_input(test_input, run_dir, config, modality, spec, source)
        wrapper = tf.saved_model.load(os.path.join(work, "tf_saved_model"))  # as the tools will load it
        y = wrapper.serve(tf.constant(x))["probabilities"].numpy().astype(np.float32)
        np.save(os.path.join(tmp, "test_input.npy"), x)
        np.save(os.path.join(tmp, "test_output.npy"), y)
        weights = {"tensorflow_saved_model_bundle": {
            "source": "tf_saved_model.zip", "sha256": file_sha256(os.path.join(tmp, "tf_saved_model.zip")),
            "tensorflow_version": tf.__version__,
            "comment": "biocnn export (SavedModel); endpoint 'serve' and signature 'serving_default'"}}
        if onnx:
            try:
                from biocnn.export.onnx import to_onnx

                info = to_onnx(export_dir, os.path.join(tmp, "model.onnx"), outputs=["probabilities"])
                weights["onnx"] = {"source": "model.onnx", "sha256": file_sha256(os.path.join(tmp, "model.onnx")),
                                   "opset_version": info["opset"], "parent": "tensorflow_saved_model_bundle",
                                   "comment": "converted by tf2onnx; onnxruntime matches the SavedModel within "
                                              f"{max(info['max_abs_difference'].values()):.1e}"}
            except (ImportError, ValueError) as error:
                warnings.warn(f"to_bioimageio: no ONNX weights in the package ({error})", stacklevel=2)
        covers = ["cover.png"] if _cover(run_dir, os.path.join(tmp, "cover.png")) else []
        in_graph = [s.get("step") for s in (metadata.get("preprocessing") or {}).get("in_graph") or []]
        preprocessing_text = (f"in the graph (do not repeat): {', '.join(in_graph)}" if in_graph
                              else "no preprocessing in the graph")
        write = os.path.join
        markdown = card_markdown(card)
        steps = [f"- {step.get('step')}: `{json.dumps({k: v for k, v in step.items() if k != 'step'})}`"
                 for step in (metadata.get("preprocessing") or {}).get("in_graph") or []]
        usage = ["## Using this package", "",
                 f"Input `{input_name}` (axes {', '.join(['batch', *_AXES[modality], 'channel'])}): "
                 f"{(metadata.get('input') or {}).get('description', '')}.", "",
                 "Preprocessing inside the model graph (the tools must not repeat it):" if steps else
                 "No preprocessing inside the model graph.", "", *steps, "",
                 f"Output `probabilities`: (batch, {len(class_names)}) in the class order {', '.join(class_names)}.", "",
                 "Weights: " + ", ".join(weights) + ". Check the package with `bioimageio test rdf.yaml`.", ""]
        with open(write(tmp, "doc.md"), "w") as f:
            f.write(markdown + "\n" + "\n".join(usage))
        with open(write(tmp, CARD_FILE), "w") as f:
            f.write(markdown)
        test = (card.get("metrics") or {}).get("test") or {}
        rdf = _rdf(
            name=name or _name(card, modality),
            description=description or (
                f"{card['model'].get('name')} classifying {modality}s into {', '.join(class_names)}; trained with "
                f"biocnn; test accuracy {test.get('accuracy', float('nan')):.3f} on {test.get('num_samples')} samples."),
            license=license, authors=authors, cite=cite,
            tags=["biocnn", "classification", {"image": "2d", "volume": "3d"}[modality], *tags],
            modality=modality, spec=spec, input_name=input_name, value_range=_value_range(metadata, modality, spec),
            class_names=class_names, test_output=y, weights=weights, covers=covers, attachments=[CARD_FILE],
            card=card, metadata=metadata, preprocessing_text=preprocessing_text,
        )
        with open(write(tmp, RDF_FILE), "w") as f:
            f.write("# bioimage.io model description written by biocnn.export.to_bioimageio\n")
            f.write(_yaml(rdf).lstrip("\n") + "\n")
        validation = _validate(tmp)
    return {"path": out_dir, "rdf": rdf, "weights": list(weights), "validation": validation, "model_card": card}
