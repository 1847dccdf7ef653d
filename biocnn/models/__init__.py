"""Rank-generic CNNs for 1D sequences, 2D images and 3D volumes, and a registry of them.

Build by name with :func:`create` (the rank comes from ``input_shape``, channels last) or
call a constructor directly::

    from biocnn import models
    model = models.create("resnet18", (28, 28, 1), 10, width_multiplier=0.5)
    print(models.available()["resnet18"])  # (1, 2, 3)
    print(models.last_conv_layer_name(model))  # resnet18_conv5_block2_out

The zoo (``available()`` lists names and ranks):

==============================  =====  ============================================
name                            ranks  family
==============================  =====  ============================================
mlp                             1 2 3  deep feed-forward network (the "DNN")
lenet5                          1 2 3  LeNet-5 (LeCun et al., 1998)
alexnet                         1 2 3  AlexNet (Krizhevsky et al., 2012)
vgg11, vgg13, vgg16, vgg19      1 2 3  VGG (Simonyan and Zisserman, 2015)
resnet18, 34, 50, 101, 152      1 2 3  ResNet (He et al., 2016), ``plain=True`` too
wide_resnet                     1 2 3  WRN-d-k (Zagoruyko and Komodakis, 2016)
deepbind, basset, kim_cnn       1      sequence CNNs (2015, 2016, 2014)
seqnet                          1      biocnn's default: whether and where a motif is
==============================  =====  ============================================

Shared options: ``activation`` (``"relu"`` default, ``"leaky_relu"``, ``"tanh"``,
``"sigmoid"``, ``"maxout"`` where the network has no residual additions), ``dropout``,
``width_multiplier``, ``pooling`` (``"max"``/``"avg"``) and ``head`` (``"softmax"``,
``"sigmoid"``, ``"regression"``, ``"logits"``/None).
"""

from biocnn.models.registry import available, create, options, options_of, parse_spec, register
from biocnn.models.naming import last_conv_layer_name
from biocnn.models.zoo_layers import ChannelMaxout, LocalResponseNormalization, StochasticDepth
from biocnn.models.lenet import lenet5  # (each module registers its networks)
from biocnn.models.mlp import mlp
from biocnn.models.alexnet import alexnet
from biocnn.models.vgg import vgg, vgg11, vgg13, vgg16, vgg19
from biocnn.models.resnet import resnet, resnet18, resnet34, resnet50, resnet101, resnet152
from biocnn.models.wide_resnet import wide_resnet
from biocnn.models.sequence import basset, deepbind, kim_cnn, seqnet

__all__ = [
    "available", "create", "register", "options", "options_of", "parse_spec", "last_conv_layer_name",
    "ChannelMaxout", "LocalResponseNormalization", "StochasticDepth",
    "lenet5", "mlp", "alexnet",
    "vgg", "vgg11", "vgg13", "vgg16", "vgg19",
    "resnet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "wide_resnet", "deepbind", "basset", "kim_cnn", "seqnet",
]
