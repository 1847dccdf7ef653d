"""biocnn: Keras 3 convolutional networks for biomedical sequences, images and volumes.

Importing biocnn sets TensorFlow's runtime defaults (oneDNN on, start-up noise off) before
TensorFlow loads; see :mod:`biocnn.runtime`.
"""

from biocnn import runtime as _runtime

_runtime.apply_defaults()
_runtime.import_tensorflow()

__version__ = "0.1.0"

from biocnn import utils  # noqa: E402
from biocnn import layers  # noqa: E402
from biocnn import losses  # noqa: E402
from biocnn import optimizers  # noqa: E402
from biocnn import models  # noqa: E402
from biocnn import training  # noqa: E402
from biocnn import data  # noqa: E402
from biocnn import augment  # noqa: E402
from biocnn import export  # noqa: E402

__all__ = ["layers", "losses", "models", "optimizers", "training", "utils", "__version__"]
