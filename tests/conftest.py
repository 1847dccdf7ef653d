import os

# Tests are small; one intra-op thread pool keeps them from fighting pytest for 2 cores.
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import biocnn  # noqa: E402,F401  (sets TensorFlow's defaults before any test imports it)
