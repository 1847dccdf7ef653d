"""Multi-device and multi-worker training on TensorFlow's ``tf.distribute`` engine.

``biocnn.training.fit`` trains with the strategy named in ``TrainingConfig.strategy``
(``--strategy`` in every pipeline): Keras's ``fit`` for ``"default"``, and for ``"mirrored"``
and ``"multiworker"`` the synchronous data-parallel loop of :mod:`biocnn.distribute.loop`
(Keras 3's ``fit`` fails under ``MultiWorkerMirroredStrategy``, keras-team/keras#20585).

* :mod:`biocnn.distribute.cluster`: ``TF_CONFIG``, which task is the chief.
* :mod:`biocnn.distribute.strategies`: strategies by name, created once per process.
* :mod:`biocnn.distribute.replicas`: a copy of a model whose variables live in a strategy.
* :mod:`biocnn.distribute.loop`: the training loop (one global batch per step).
"""

from biocnn.distribute.cluster import is_chief as is_chief_task
from biocnn.distribute.cluster import num_tasks, tf_config
from biocnn.distribute.strategies import STRATEGIES, check_name, get_strategy, is_chief, is_default, scope

__all__ = ["STRATEGIES", "check_name", "get_strategy", "is_chief", "is_chief_task", "is_default",
           "num_tasks", "scope", "tf_config"]
