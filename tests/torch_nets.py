"""PyTorch references for the weight-import tests (imported only where torch is installed).

Written here from the papers and the reference code, independently of biocnn's Keras models:

* :class:`EfficientNetLite`: the EfficientNet-PyTorch module names (``_conv_stem``, ``_blocks.N``,
  ``_conv_head``, ``_fc``) with TensorFlow "same" padding (computed per call, as TensorFlow does:
  the extra pixel at the bottom/right), ReLU6, no squeeze-excite, batch-norm epsilon 1e-3.
* :class:`TorchvisionResNet`: torchvision's ResNet (``conv1``, ``bn1``, ``layer{i}.{j}``,
  ``downsample``, ``fc``), symmetric padding, with the stem and stage widths as arguments so
  that tests can build a small one.
* :class:`MedicalNetResNet`: MedicalNet's 3D ResNet (Tencent/MedicalNet ``models/resnet.py``):
  strides 1, 2, 1, 1 and dilations 1, 1, 2, 4 in the four stages, shortcut ``"A"`` (strided
  subsampling and zero channels) or ``"B"`` (1x1 convolution and batch norm).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


class Conv2dSame(nn.Conv2d):
    """nn.Conv2d with TensorFlow's 'same' padding."""

    def forward(self, x):
        pads = []
        for size, k, s, d in zip(x.shape[-2:], self.kernel_size, self.stride, self.dilation):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.weight, self.bias, self.stride, 0,
                        self.dilation, self.groups)


def _bn(channels):
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    def __init__(self, cin, cout, kernel, stride, expand):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = Conv2dSame(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = Conv2dSame(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """``blocks``: (cin, cout, kernel, stride, expand) per block, as the reference expands its stages."""

    def __init__(self, blocks, num_classes=1000):
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        self._blocks = nn.ModuleList(MBConv(*b) for b in blocks)
        self._conv_head = Conv2dSame(blocks[-1][1], 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return torch.softmax(self._fc(x.mean(dim=(2, 3))), dim=-1)


def lite_blocks(width=1.0, depth=1.0):
    """The reference's stage table expanded into blocks (round_filters, round_repeats, fix_head_stem)."""

    def filters(f):
        new = max(8, int(f * width + 4) // 8 * 8)
        return new + 8 if new < 0.9 * f * width else new

    stages = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
              (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
    blocks, cin = [], 32
    for i, (repeats, kernel, stride, expand, cout) in enumerate(stages):
        repeats = repeats if i in (0, len(stages) - 1) else math.ceil(repeats * depth)
        for r in range(repeats):
            blocks.append((cin, filters(cout), kernel, stride if r == 0 else 1, expand))
            cin = filters(cout)
    return blocks


class _Basic(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride, downsample, conv=nn.Conv2d, bn=nn.BatchNorm2d, dilation=1):
        super().__init__()
        self.conv1 = conv(cin, planes, 3, stride, dilation, dilation=dilation, bias=False)
        self.bn1 = bn(planes)
        self.conv2 = conv(planes, planes, 3, 1, dilation, dilation=dilation, bias=False)
        self.bn2 = bn(planes)
        self.downsample = downsample

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride, downsample, conv=nn.Conv2d, bn=nn.BatchNorm2d, dilation=1):
        super().__init__()
        self.conv1 = conv(cin, planes, 1, bias=False)
        self.bn1 = bn(planes)
        self.conv2 = conv(planes, planes, 3, stride, dilation, dilation=dilation, bias=False)
        self.bn2 = bn(planes)
        self.conv3 = conv(planes, planes * 4, 1, bias=False)
        self.bn3 = bn(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


_DEPTHS = {18: (_Basic, (2, 2, 2, 2)), 34: (_Basic, (3, 4, 6, 3)), 50: (_Bottleneck, (3, 4, 6, 3))}


class TorchvisionResNet(nn.Module):
    def __init__(self, depth=18, widths=(64, 128, 256, 512), stem=64, num_classes=1000):
        super().__init__()
        block, counts = _DEPTHS[depth]
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = stem
        for i, (count, planes) in enumerate(zip(counts, widths)):
            layers = []
            for j in range(count):
                stride = 2 if (i > 0 and j == 0) else 1
                down = None
                if stride != 1 or cin != planes * block.expansion:
                    down = nn.Sequential(nn.Conv2d(cin, planes * block.expansion, 1, stride, bias=False),
                                         nn.BatchNorm2d(planes * block.expansion))
                layers.append(block(cin, planes, stride, down))
                cin = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(x.mean(dim=(2, 3)))


class _ShortcutA(nn.Module):
    def __init__(self, planes, stride):
        super().__init__()
        self.planes, self.stride = planes, stride

    def forward(self, x):
        out = F.avg_pool3d(x, kernel_size=1, stride=self.stride)
        zeros = out.new_zeros(out.shape[0], self.planes - out.shape[1], *out.shape[2:])
        return torch.cat([out, zeros], dim=1)


class MedicalNetResNet(nn.Module):
    def __init__(self, depth=18, widths=(64, 128, 256, 512), stem=64, shortcut="B", in_channels=1):
        super().__init__()
        block, counts = _DEPTHS[depth]
        self.conv1 = nn.Conv3d(in_channels, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm3d(stem)
        self.maxpool = nn.MaxPool3d(3, 2, 1)
        cin = stem
        for i, (count, planes, stride, dilation) in enumerate(zip(counts, widths, (1, 2, 1, 1), (1, 1, 2, 4))):
            down = None
            if stride != 1 or cin != planes * block.expansion:
                down = (_ShortcutA(planes * block.expansion, stride) if shortcut == "A" else
                        nn.Sequential(nn.Conv3d(cin, planes * block.expansion, 1, stride, bias=False),
                                      nn.BatchNorm3d(planes * block.expansion)))
            layers = [block(cin, planes, stride, down, nn.Conv3d, nn.BatchNorm3d, dilation)]
            cin = planes * block.expansion
            layers += [block(cin, planes, 1, None, nn.Conv3d, nn.BatchNorm3d, dilation) for _ in range(1, count)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return x.mean(dim=(2, 3, 4))


def randomise_batch_norm(net, seed=0):
    """Non-trivial batch-norm statistics and affine parameters (fresh modules have 0/1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    return net.eval()
