"""The ``biocnn`` command's sub-commands; ``pipelines/*.py`` are thin scripts over the same ``main``.

Each sub-command module builds its parser without TensorFlow (``build_parser``) and imports the
library only inside ``main`` after parsing, so ``biocnn <sub> --help`` is instant.
"""

#: sub-command -> (module, one-line summary). 
COMMANDS = {
    "sequences": ("biocnn.commands.sequences", "train a 1D CNN on labelled DNA, RNA or protein sequences"),
    "images": ("biocnn.commands.images", "train a 2D CNN on microscopy (or any 2D) images"),
    "volumes": ("biocnn.commands.volumes", "train a 3D CNN on CT, MRI or light-sheet volumes"),
    "cv": ("biocnn.commands.crossval", "n-fold cross-validation of any source, optional nested search"),
    "transfer": ("biocnn.commands.transfer", "fine-tune an ImageNet backbone on 2D images or 3D volumes"),
    "compare": ("biocnn.commands.compare", "train several architectures on the same data, seed and budget"),
    "explain": ("biocnn.commands.explain", "saliency, integrated gradients, Grad-CAM and filters of a run"),
    "export": ("biocnn.commands.export", "export a run for other tools: SavedModel, ONNX, bioimage.io package, TFLite"),
    "predict": ("biocnn.commands.predict", "predict new data with an exported model, streaming (genome scans too)"),
    "replay": ("biocnn.commands.replay", "run again what a run's config.json records"),
    "models": ("biocnn.commands.models", "list the registered models, their ranks and options"),
}
