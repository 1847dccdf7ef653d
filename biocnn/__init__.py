"""biocnn: Keras 3 convolutional networks for biomedical sequences, images and volumes.

Importing biocnn sets TensorFlow's runtime defaults (oneDNN on, start-up noise off) before
TensorFlow loads; see :mod:`biocnn.runtime`. On the default TensorFlow backend every
subpackage is imported. With ``KERAS_BACKEND=jax`` or ``torch`` TensorFlow is not imported:
the backend-agnostic core (layers, losses, optimizers, models, augment, utils) is, and the
TensorFlow-bound subpackages (training, data, export, ...) are imported on first use.
"""

import importlib

from biocnn import runtime as _runtime

_runtime.apply_defaults()
if _runtime.keras_backend() == "tensorflow":
    _runtime.import_tensorflow()

__version__ = "0.1.0"

from biocnn import utils  # noqa: E402
from biocnn import layers  # noqa: E402
from biocnn import losses  # noqa: E402
from biocnn import optimizers  # noqa: E402
from biocnn import models  # noqa: E402
from biocnn import augment  # noqa: E402

#: Subpackages that use TensorFlow directly (tf.data pipelines, SavedModel export, ...).
TENSORFLOW_BOUND = ("training", "data", "export")

if _runtime.keras_backend() == "tensorflow":
    from biocnn import training  # noqa: E402
    from biocnn import data  # noqa: E402
    from biocnn import export  # noqa: E402

from biocnn import serialization  # noqa: E402

# Every registered Keras object, transfer layers included: a model.keras loads after `import biocnn`.
serialization.register_all(tensorflow=_runtime.keras_backend() == "tensorflow")


def __getattr__(name):
    # On the jax/torch backends: import a TensorFlow-bound subpackage when it is first used.
    if name in TENSORFLOW_BOUND:
        return importlib.import_module(f"biocnn.{name}")
    raise AttributeError(f"module 'biocnn' has no attribute {name!r}")


__all__ = ["augment", "layers", "losses", "models", "optimizers", "serialization", "training", "utils", "__version__"]
