"""biocnn's benchmark architectures written in plain PyTorch, for pipelines/bench_training.py.

The same layer shapes as biocnn's Keras models (``biocnn.models``): DeepBind, LeNet-5 and
ResNet-18, rank-generic (1D, 2D, 3D) through one table of layer classes, as biocnn's own
models. PyTorch is a benchmark-only extra (``pip install 'biocnn[bench]'``); nothing in
``biocnn/`` imports this file. Inputs are channels first, ``(batch, channels, *spatial)``,
PyTorch's own layout; the models return logits (the softmax is inside the loss).

    >>> model = lenet5((32, 32, 1), 10)
    >>> print(count_parameters(model))  # biocnn.models.lenet5((32, 32, 1), 10).count_params()
    61706
"""

import torch
from torch import nn

__all__ = ["deepbind", "lenet5", "resnet18", "build", "count_parameters", "ARCHITECTURES"]

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
MAX_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
GLOBAL_AVG = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}
GLOBAL_MAX = {1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d, 3: nn.AdaptiveMaxPool3d}
BN_EPSILON = 1e-5  # biocnn.models.resnet.BN_EPSILON


def _rank(input_shape):
    rank = len(input_shape) - 1
    if rank not in CONV:
        raise ValueError(f"input_shape must be (*spatial, channels) with 1-3 spatial axes, got {tuple(input_shape)}.")
    return rank


def count_parameters(model):
    """Trainable parameters (as Keras' ``trainable_weights``: batch-norm statistics excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def deepbind(input_shape, num_classes, filters=16, kernel_size=24, hidden_units=32, dropout=0.5):
    """DeepBind as ``biocnn.models.deepbind``: 'same' conv, ReLU, global max, dense, dropout."""
    rank = _rank(input_shape)
    return nn.Sequential(
        CONV[rank](input_shape[-1], filters, kernel_size, padding="same"),
        nn.ReLU(),
        GLOBAL_MAX[rank](1),
        nn.Flatten(),
        nn.Linear(filters, hidden_units),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden_units, num_classes),
    )


def lenet5(input_shape, num_classes):
    """LeNet-5 as ``biocnn.models.lenet5`` with 'valid' padding (every spatial axis >= 16)."""
    rank = _rank(input_shape)
    spatial = list(input_shape[:-1])
    if min(spatial) < 16:
        raise ValueError(f"lenet5: the 'valid' layout needs >= 16 values per spatial axis, got {tuple(input_shape)}.")
    layers, channels = [], input_shape[-1]
    for filters in (6, 16):
        layers += [CONV[rank](channels, filters, 5), nn.ReLU(), MAX_POOL[rank](2)]
        spatial = [(size - 4) // 2 for size in spatial]
        channels = filters
    flat = channels * int(torch.tensor(spatial).prod())
    layers += [nn.Flatten(), nn.Linear(flat, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
               nn.Linear(84, num_classes)]
    return nn.Sequential(*layers)


def _conv_bn(rank, in_channels, out_channels, kernel_size, stride, relu):
    layers = [
        CONV[rank](in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
        BATCH_NORM[rank](out_channels, eps=BN_EPSILON),
    ]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


class _BasicBlock(nn.Module):
    def __init__(self, rank, in_channels, filters, stride):
        super().__init__()
        self.residual = nn.Sequential(
            _conv_bn(rank, in_channels, filters, 3, stride, relu=True),
            _conv_bn(rank, filters, filters, 3, 1, relu=False),
        )
        self.shortcut = (
            _conv_bn(rank, in_channels, filters, 1, stride, relu=False)
            if stride != 1 or in_channels != filters else nn.Identity()
        )
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.shortcut(x) + self.residual(x))


def resnet18(input_shape, num_classes, width_multiplier=1.0, stem="small"):
    """ResNet-18 as ``biocnn.models.resnet18`` (basic blocks 2-2-2-2, projection shortcuts).

    ``stem="small"``: 3x3 stride-1 convolution (biocnn's choice up to 64 px); ``"imagenet"``:
    7x7 stride 2 and a 3x3 stride-2 max pool.
    """
    rank = _rank(input_shape)

    def scaled(channels):  # biocnn.models.blocks.scaled
        return max(1, int(round(channels * width_multiplier)))

    channels = scaled(64)
    if stem == "imagenet":
        layers = [_conv_bn(rank, input_shape[-1], channels, 7, 2, relu=True), MAX_POOL[rank](3, 2, padding=1)]
    else:
        layers = [_conv_bn(rank, input_shape[-1], channels, 3, 1, relu=True)]
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if (block == 0 and stage > 0) else 1
            layers.append(_BasicBlock(rank, channels, scaled(filters), stride))
            channels = scaled(filters)
    layers += [GLOBAL_AVG[rank](1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


ARCHITECTURES = {"deepbind": deepbind, "lenet5": lenet5, "resnet18": resnet18}


def build(name, input_shape, num_classes, **options):
    """The reference model ``name`` (a key of :data:`ARCHITECTURES`) for a channels-last shape."""
    if name not in ARCHITECTURES:
        raise ValueError(f"No PyTorch reference for {name!r}; known: {', '.join(ARCHITECTURES)}.")
    return ARCHITECTURES[name](tuple(input_shape), num_classes, **options)
