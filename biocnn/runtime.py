"""TensorFlow runtime defaults that must be set before TensorFlow is imported.

biocnn turns on oneDNN (``TF_ENABLE_ONEDNN_OPTS=1``): on AMD EPYC CPUs TensorFlow leaves it
off, and Keras convolution training is then 2.5-5x slower. It also keeps TensorFlow's start-up
messages (CUDA probing, oneDNN and CPU-feature notices) out of the terminal. Every default is
``os.environ.setdefault``: a variable the user has set always wins.

Environment variables read here:
    TF_ENABLE_ONEDNN_OPTS: set it to ``0`` to turn oneDNN off.
    TF_CPP_MIN_LOG_LEVEL: TensorFlow's C++ log level; biocnn's default is ``2`` (errors only).
    KERAS_BACKEND: biocnn's default is ``tensorflow``. With ``jax`` or ``torch``, ``import biocnn``
        does not import TensorFlow: the models, layers, losses, optimizers and augmentations run
        on that backend; the TensorFlow-bound parts (training, data, export, ...) are imported,
        with TensorFlow, only when used (see :func:`keras_backend`).
    BIOCNN_TF_STARTUP_LOG: set it to ``1`` to see TensorFlow's start-up messages and its
        Python warnings (otherwise TensorFlow's Python logger is set to errors only).
"""

import importlib
import logging
import os
import platform
import sys
import warnings

#: biocnn's version (``biocnn.__version__``), kept here so that low modules can record it.
VERSION = "0.1.0"

DEFAULTS = {
    "TF_ENABLE_ONEDNN_OPTS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "KERAS_BACKEND": "tensorflow",
}


def apply_defaults():
    """Set biocnn's environment defaults where the user has not set them.

    Returns:
        dict: the variables that this call set (name -> value).
    """
    already_imported = "tensorflow" in sys.modules
    applied = {}
    for name, value in DEFAULTS.items():
        if name not in os.environ:
            os.environ[name] = value
            applied[name] = value
    if already_imported and "TF_ENABLE_ONEDNN_OPTS" in applied:
        warnings.warn(
            "TensorFlow was imported before biocnn, so biocnn could not turn on oneDNN "
            "(TF_ENABLE_ONEDNN_OPTS=1); CPU training may be several times slower. Import "
            "biocnn first, or set TF_ENABLE_ONEDNN_OPTS yourself.",
            RuntimeWarning,
            stacklevel=3,
        )
    return applied


def keras_backend():
    """The Keras backend biocnn runs on: ``KERAS_BACKEND`` (default ``tensorflow``).

    Read from the environment rather than from Keras, so that asking does not import Keras
    (and with it TensorFlow) before biocnn has set TensorFlow's defaults. If Keras is imported
    already, its own answer is returned.

    Returns:
        str: ``"tensorflow"``, ``"jax"``, ``"torch"`` or ``"numpy"``.

    Example:
        >>> import biocnn
        >>> print(keras_backend())
        tensorflow
    """
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND", DEFAULTS["KERAS_BACKEND"])


def _with_stderr_silenced(function):
    # TensorFlow's C++ start-up messages are written to file descriptor 2 before any log
    # level applies, so only a redirect of the descriptor itself keeps them away.
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some notebooks): nothing to silence
        return function()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        return function()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_tensorflow(quiet=True):
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError(
            "biocnn needs TensorFlow 2.16 or newer, which is not installed. TensorFlow comes through an "
            "extra, so that biocnn never replaces a build you already have: pip install 'biocnn[cpu]' "
            "(or -e '.[cpu]' in a clone) for CPUs, 'biocnn[gpu]' for NVIDIA GPUs on Linux."
        ) from error

    if not os.environ.get("TF_CONFIG"):
        # The eager context prints its own notices on first use. Not in a multi-worker cluster:
        # TensorFlow accepts MultiWorkerMirroredStrategy only before its first operation.
        tf.constant(0.0) + 1.0
    if quiet:
        # TensorFlow's Python warnings (tf.function retracing when several models predict in
        # one process, deprecations inside Keras) are not actionable for biocnn's users.
        tf.get_logger().setLevel(logging.ERROR)
    return tf


def import_tensorflow():
    """Import TensorFlow quietly (unless ``BIOCNN_TF_STARTUP_LOG=1``) and return the module."""
    if os.environ.get("BIOCNN_TF_STARTUP_LOG") == "1":
        return _import_tensorflow(quiet=False)
    if "tensorflow" in sys.modules:
        return _import_tensorflow()
    return _with_stderr_silenced(_import_tensorflow)


def versions():
    """Versions of everything that changes results, as recorded in a run's ``config.json``.

    Returns:
        dict: package -> version string, plus ``python`` and ``platform``; a package that is
        not installed is left out.

    Example:
        >>> sorted(versions())[:3]
        ['biocnn', 'keras', 'numpy']
    """
    found = {"biocnn": VERSION}
    for name, module in (("tensorflow", "tensorflow"), ("keras", "keras"), ("numpy", "numpy"),
                         ("scikit-learn", "sklearn")):
        try:
            found[name] = importlib.import_module(module).__version__
        except ImportError:
            continue
    found["python"] = sys.version.split()[0]
    found["platform"] = platform.platform()
    return found
