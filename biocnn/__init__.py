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

import copy
import importlib
import importlib.abc
import importlib.util
import sys

from biocnn import runtime as _runtime

_runtime.apply_defaults()

__version__ = _runtime.VERSION

#: Subpackages that use TensorFlow directly (tf.data pipelines, SavedModel export, ...).
TENSORFLOW_BOUND = ("training", "data", "export", "experiment", "cv", "interpret", "transfer", "distribute",
                    "evaluation", "plots", "gallery", "rundir", "splits")

#: Every public subpackage and module, importable as ``biocnn.<name>``.
SUBMODULES = ("augment", "cli", "layers", "losses", "models", "optimizers", "runtime", "utils") + TENSORFLOW_BOUND

if _runtime.keras_backend() == "tensorflow" and importlib.util.find_spec("tensorflow") is None:
    _runtime.import_tensorflow()  # raises the ImportError that names the extra to install


#: Imported without TensorFlow (the command line's parsers).
LIGHT = ("__main__", "cli", "command", "commands", "errors", "runtime")


#: Keras-serialisable components, registered as soon as Keras is imported (so that
#: ``keras.saving.load_model`` finds biocnn's layers, losses and optimizers).
KERAS_CORE = ("layers", "losses", "optimizers", "models", "augment")


def _import_core():
    for name in KERAS_CORE:
        importlib.import_module(f"biocnn.{name}")
    # Every registered Keras object, transfer layers included: a model.keras loads after `import biocnn`.
    from biocnn import serialization

    serialization.register_all(tensorflow=_runtime.keras_backend() == "tensorflow")


class _Loaded(importlib.abc.Loader):
    """The loader of a module that finished loading while it was being looked up."""

    def __init__(self, module, original_spec=None):
        self.module = module
        self.original_spec = original_spec

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        if self.original_spec is not None:
            module.__spec__ = self.original_spec  # the module's own spec again, once the import is done


class _TensorFlowFirst(importlib.abc.MetaPathFinder):
    """Before the first import of TensorFlow, Keras or a TensorFlow-bound biocnn module, import
    TensorFlow quietly and with biocnn's defaults (it imports Keras), then biocnn's Keras
    components, so that ``keras.saving.load_model`` finds them. Then it steps aside."""

    def find_spec(self, fullname, path=None, target=None):
        parts = fullname.split(".")
        bound = parts[0] == "biocnn" and len(parts) > 1 and parts[1] not in LIGHT
        if not (bound or fullname in ("tensorflow", "keras")) or self not in sys.meta_path:
            return None
        sys.meta_path.remove(self)
        _runtime.import_tensorflow()
        _import_core()
        if fullname in sys.modules:  # tensorflow or keras, or a biocnn module, loaded just now
            module = sys.modules[fullname]
            spec = copy.copy(module.__spec__)
            spec.loader = _Loaded(module, module.__spec__)
            # importlib loads the spec of a module already in sys.modules, so that spec must load
            # this very module: a second copy of, e.g., biocnn.rundir would split its open runs.
            module.__spec__ = spec
            return spec
        return None


if "keras" in sys.modules or _runtime.keras_backend() != "tensorflow":
    _import_core()  # Keras is here already, or the backend is not TensorFlow (nothing slow to defer)
else:
    sys.meta_path.insert(0, _TensorFlowFirst())


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


__all__ = ["augment", "cv", "data", "export", "interpret", "layers", "losses", "models", "optimizers", "serialization", "training",
           "transfer", "utils", "__version__"]
