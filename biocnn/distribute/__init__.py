"""Multi-device and multi-worker training on TensorFlow's ``tf.distribute`` engine.

``biocnn.training.fit`` trains with the strategy named in ``TrainingConfig.strategy``
(``--strategy`` in every pipeline): Keras's ``fit`` for ``"default"``, and for ``"mirrored"``
and ``"multiworker"`` the synchronous data-parallel loop of :mod:`biocnn.distribute.loop`
(Keras 3's ``fit`` fails under ``MultiWorkerMirroredStrategy``, keras-team/keras#20585).

* :mod:`biocnn.distribute.cluster`: ``TF_CONFIG``, which task is the chief (no TensorFlow).
* :mod:`biocnn.distribute.strategies`: strategies by name, created once per process.
* :mod:`biocnn.distribute.replicas`: a copy of a model whose variables live in a strategy.
* :mod:`biocnn.distribute.loop`: the training loop (one global batch per step).

Example:
    >>> from biocnn import distribute
    >>> distribute.get_strategy("default").num_replicas_in_sync
    1
"""

import importlib

from biocnn.distribute.cluster import is_chief as is_chief_task
from biocnn.distribute.cluster import num_tasks, tf_config

# TensorFlow-bound names, imported on first use so that biocnn.rundir (which asks only who
# the chief is) does not import TensorFlow.
_FROM_STRATEGIES = ("STRATEGIES", "check_name", "get_strategy", "is_chief", "is_default", "scope")

__all__ = [*_FROM_STRATEGIES, "is_chief_task", "num_tasks", "tf_config"]


def __getattr__(name):
    if name in _FROM_STRATEGIES:
        return getattr(importlib.import_module("biocnn.distribute.strategies"), name)
    raise AttributeError(f"module 'biocnn.distribute' has no attribute {name!r}")
