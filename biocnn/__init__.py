"""biocnn: Keras 3 convolutional networks for biomedical sequences, images and volumes.

Importing biocnn sets TensorFlow's runtime defaults (oneDNN on, start-up noise off) and checks
that the backend's library is installed; it imports no TensorFlow yet. Every subpackage
(``biocnn.models``, ``biocnn.data``, ``biocnn.cv``, ``biocnn.interpret``, ``biocnn.transfer``
...) is an attribute of the package, imported on first use (on the TensorFlow backend after
TensorFlow itself, quietly). So the ``biocnn`` command answers ``--help`` without loading
TensorFlow, and ``KERAS_BACKEND=jax`` or ``torch`` runs the backend-agnostic core (layers,
losses, optimizers, models, augment, utils) without it.

Example:
    >>> import biocnn
    >>> print(biocnn.models.create("lenet5", input_shape=(28, 28, 1), num_classes=2).output_shape)
    (None, 2)
"""

import importlib
import importlib.abc
import importlib.util
import sys

from biocnn import runtime as _runtime

_runtime.apply_defaults()

__version__ = "0.1.0"

#: Subpackages that use TensorFlow directly (tf.data pipelines, SavedModel export, ...).
TENSORFLOW_BOUND = ("training", "data", "export", "experiment", "cv", "interpret", "transfer", "distribute",
                    "evaluation", "plots", "gallery", "rundir", "splits")

#: Every public subpackage and module, importable as ``biocnn.<name>``.
SUBMODULES = ("augment", "cli", "layers", "losses", "models", "optimizers", "runtime", "utils") + TENSORFLOW_BOUND

if _runtime.keras_backend() == "tensorflow" and importlib.util.find_spec("tensorflow") is None:
    _runtime.import_tensorflow()  # raises the ImportError that names the extra to install


#: Imported without TensorFlow (the command line's parsers).
LIGHT = ("cli", "command", "commands", "runtime")


class _QuietTensorFlowFirst(importlib.abc.MetaPathFinder):
    """Before the first import of Keras or of a TensorFlow-bound biocnn module, import TensorFlow
    quietly and with biocnn's defaults; then step aside (it finds nothing itself)."""

    def find_spec(self, fullname, path=None, target=None):
        parts = fullname.split(".")
        if parts[0] == "keras" or (parts[0] == "biocnn" and len(parts) > 1 and parts[1] not in LIGHT):
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            if "tensorflow" not in sys.modules:
                _runtime.import_tensorflow()
        return None


if _runtime.keras_backend() == "tensorflow" and "tensorflow" not in sys.modules:
    sys.meta_path.insert(0, _QuietTensorFlowFirst())


def __getattr__(name):
    # PEP 562: a subpackage is imported when it is first used. On the TensorFlow backend,
    # TensorFlow goes first so that it starts with biocnn's defaults and quietly.
    if name in SUBMODULES:
        if name != "cli" and _runtime.keras_backend() == "tensorflow":
            _runtime.import_tensorflow()
        return importlib.import_module(f"biocnn.{name}")
    raise AttributeError(f"module 'biocnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES))


__all__ = ["augment", "cv", "data", "export", "interpret", "layers", "losses", "models", "optimizers", "training",
           "transfer", "utils", "__version__"]
