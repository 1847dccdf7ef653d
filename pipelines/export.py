"""Export a finished run (or a biocnn export) for the tools that open it, in one format.

    savedmodel  TensorFlow SavedModel + biocnn_export.json + MODEL_CARD.md (pipelines/predict.py, TF Serving)
    onnx        an .onnx file (ONNX Runtime, OpenCV, C++/C#/web tools, PyTorch's world), checked in onnxruntime
    bioimageio  a bioimage.io model package folder (rdf.yaml, weights, test tensors, cover, doc.md) for
                Fiji/deepImageJ, ilastik, napari and QuPath; check it with `bioimageio test OUT/rdf.yaml`
    tflite      a .tflite file, checked for parity

Licence, authors and citation of a bioimage.io package come from you (--license, --author, --cite);
biocnn never invents them. onnx needs `pip install "biocnn[onnx]"`, bioimageio `pip install "biocnn[bioimageio]"`.

    python pipelines/export.py runs/splice splice.onnx --format onnx
    python pipelines/export.py runs/bccd_cells packages/bccd --format bioimageio --license MIT \\
        --author "Ada Lovelace" --cite 10.5281/zenodo.1234567
"""

import argparse

from biocnn import cli, export


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    return export.add_format_arguments(parser).parse_args(argv)


def main(argv=None):
    export.export_from_arguments(parse_args(argv))


if __name__ == "__main__":
    cli.run_main(main)
