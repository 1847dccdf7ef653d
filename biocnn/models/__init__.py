"""Rank-generic CNNs for 1D sequences, 2D images and 3D volumes, and a registry of them.

Build by name with :func:`create` (the rank comes from ``input_shape``, channels last) or
call a constructor directly::

    from biocnn import models
    model = models.create("lenet5", (28, 28, 1), 10)
    print(models.available())  # {'lenet5': (1, 2, 3), 'mlp': (1, 2, 3)}
"""

from biocnn.models.registry import available, create, register
from biocnn.models.lenet import lenet5  # (registers "lenet5")
from biocnn.models.mlp import mlp  # (registers "mlp")

__all__ = ["available", "create", "register", "lenet5", "mlp"]
