"""The one place that makes every biocnn Keras object known to Keras: ``import biocnn`` is enough.

Each layer, loss, optimizer and augmentation registers itself with
``keras.saving.register_keras_serializable(package="biocnn")`` where it is defined; a class is
known to ``keras.models.load_model`` only once its module has been imported. :data:`MODULES`
lists every module that defines one, and :func:`register_all` (called by ``biocnn/__init__.py``)
imports them, so a run's ``model.keras`` (transfer-learning runs included) loads after
``import biocnn`` alone::

    import biocnn, keras
    model = keras.models.load_model("runs/cells/model.keras")

A new module with registered objects is added to :data:`MODULES` (a test checks that the list
misses none).
"""

import importlib

import keras

__all__ = ["MODULES", "TENSORFLOW_MODULES", "custom_objects", "register_all"]

#: Modules defining biocnn's registered Keras objects (backend-agnostic ones).
MODULES = (
    "biocnn.layers",
    "biocnn.losses",
    "biocnn.optimizers",
    "biocnn.schedules",
    "biocnn.models.zoo_layers",
    "biocnn.augment.geometric",
    "biocnn.augment.intensity",
    "biocnn.augment.mixup",
    "biocnn.augment.sequence",
    "biocnn.tta",
)
#: Modules whose registered objects use TensorFlow (imported on the TensorFlow backend only).
TENSORFLOW_MODULES = (
    "biocnn.data.preprocess",
    "biocnn.data.intensity",
    "biocnn.transfer.layers",  # backend-agnostic layers, but the biocnn.transfer package needs TensorFlow
)


def register_all(tensorflow=True):
    """Import every module of :data:`MODULES` (and :data:`TENSORFLOW_MODULES`), registering their objects.

    Args:
        tensorflow: also import the TensorFlow-bound modules.

    Returns:
        the tuple of module names imported.
    """
    names = MODULES + (TENSORFLOW_MODULES if tensorflow else ())
    for name in names:
        importlib.import_module(name)
    return names


def custom_objects():
    """Every registered biocnn object, as ``{"biocnn>Name": class_or_function}``.

    Example:
        >>> import biocnn
        >>> "biocnn>AppendOnes" in custom_objects() and "biocnn>PercentileClip" in custom_objects()
        True
    """
    return {name: obj for name, obj in keras.saving.get_custom_objects().items() if name.startswith("biocnn>")}
