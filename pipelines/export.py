"""Export a finished run for the tools that open it: SavedModel, ONNX, bioimage.io or TFLite.

The same command as ``biocnn export`` (see ``biocnn export --help``):

    python pipelines/export.py --run runs/splice --out splice.onnx --format onnx
"""

import sys

from biocnn import cli
from biocnn.commands.export import main

if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
