"""PyTorch image models. Inputs arrive NHWC (the workload's layout, shared with TensorFlow) so both frameworks
serve the very same request payload; the permute to NCHW is part of the model.

ResNet-18/50, MobileNetV2, MobileNetV3-Large and ViT-B/16 follow torchvision's definitions layer for layer
(their parameter counts are checked in the tests: 11,689,512 / 25,557,032 / 3,504,872 / 5,483,032 /
86,567,656 at 224x224 and 1000 classes). They are written here because torchvision does not import beside the
CPU build of PyTorch these machines install, and their weights start random since nothing may be downloaded.
"""

from __future__ import annotations

import torch
from torch import nn

from raylife.workloads.torch_blocks import EncoderBlock
from raylife.workloads.vision.architectures import MOBILENET_V2, MOBILENET_V3_LARGE, divisible


class NHWCToNCHW(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)


def cnn_small(input_shape: tuple[int, ...], num_classes: int, width: int = 16) -> nn.Module:
    height, wide, channels = input_shape
    flat = 2 * width * (height // 2) * (wide // 2)
    return nn.Sequential(
        NHWCToNCHW(),
        nn.Conv2d(channels, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, 4 * width),
        nn.ReLU(),
        nn.Linear(4 * width, num_classes),
    )


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: type[nn.Module] | None = nn.ReLU,
            eps: float = 1e-5, momentum: float = 0.1) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=eps, momentum=momentum),
    ]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv_bn(cin, planes, 3, stride)
        self.conv2 = conv_bn(planes, planes, 3, act=None)
        self.shortcut = conv_bn(cin, planes, 1, stride, act=None) if stride != 1 or cin != planes else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.body = nn.Sequential(
            conv_bn(cin, planes, 1), conv_bn(planes, planes, 3, stride), conv_bn(planes, out, 1, act=None)
        )
        self.shortcut = conv_bn(cin, out, 1, stride, act=None) if stride != 1 or cin != out else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def _stages(block: type[nn.Module], cin: int, widths: list[int], depths: list[int], first_stride: int) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for i, (planes, depth) in enumerate(zip(widths, depths)):
        for j in range(depth):
            stride = (first_stride if i == 0 else 2) if j == 0 else 1
            layers.append(block(cin, planes, stride))
            cin = planes * block.expansion
    return nn.Sequential(*layers), cin


def resnet_small(input_shape: tuple[int, ...], num_classes: int, width: int = 16, blocks: int = 2) -> nn.Module:
    """A CIFAR-style ResNet: 3x3 stem, three stages of basic blocks (width, 2x, 4x), global average pool."""
    channels = input_shape[-1]
    body, features = _stages(BasicBlock, width, [width, 2 * width, 4 * width], [blocks] * 3, first_stride=1)
    return nn.Sequential(
        NHWCToNCHW(), conv_bn(channels, width, 3), body, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(features, num_classes)
    )


def _resnet(block: type[nn.Module], depths: list[int], input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    channels = input_shape[-1]
    body, features = _stages(block, 64, [64, 128, 256, 512], depths, first_stride=1)
    return nn.Sequential(
        NHWCToNCHW(), conv_bn(channels, 64, 7, stride=2), nn.MaxPool2d(3, stride=2, padding=1), body,
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(features, num_classes),
    )


def resnet18(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return _resnet(BasicBlock, [2, 2, 2, 2], input_shape, num_classes)


def resnet50(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return _resnet(Bottleneck, [3, 4, 6, 3], input_shape, num_classes)


def separable(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, cout, 1))


def mobilenet_small(input_shape: tuple[int, ...], num_classes: int, width: float = 1.0) -> nn.Module:
    """MobileNet(v1)-style: a 3x3 stem, then depthwise-separable blocks; ``width`` scales every layer."""
    channels = input_shape[-1]
    sizes = [max(8, int(c * width)) for c in (32, 64, 128, 128, 256, 256)]
    strides = [1, 2, 1, 2, 1]
    layers: list[nn.Module] = [NHWCToNCHW(), conv_bn(channels, sizes[0], 3)]
    for cin, cout, stride in zip(sizes, sizes[1:], strides):
        layers.append(separable(cin, cout, stride))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(sizes[-1], num_classes)]
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = [] if expand == 1 else [conv_bn(cin, hidden, 1, act=nn.ReLU6)]
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6), conv_bn(hidden, cout, 1, act=None)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


def mobilenet_v2(input_shape: tuple[int, ...], num_classes: int, width: float = 1.0) -> nn.Module:
    channels = input_shape[-1]
    cin = divisible(32 * width)
    last = divisible(1280 * max(1.0, width))
    layers: list[nn.Module] = [NHWCToNCHW(), conv_bn(channels, cin, 3, stride=2, act=nn.ReLU6)]
    for expand, c, repeats, stride in MOBILENET_V2:
        cout = divisible(c * width)
        for i in range(repeats):
            layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
            cin = cout
    layers += [conv_bn(cin, last, 1, act=nn.ReLU6), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(last, num_classes)]
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(channels, squeeze, 1), nn.Conv2d(squeeze, channels, 1)
        self.relu, self.gate = nn.ReLU(inplace=True), nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


def _conv_bn_v3(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: type[nn.Module] | None = None) -> nn.Sequential:
    """conv_bn with torchvision's MobileNetV3 BatchNorm settings, and no activation unless one is named."""
    return conv_bn(cin, cout, kernel, stride, groups, act, eps=0.001, momentum=0.01)


class InvertedResidualV3(nn.Module):
    def __init__(self, cin: int, kernel: int, expanded: int, cout: int, se: bool, act: type[nn.Module], stride: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [] if expanded == cin else [_conv_bn_v3(cin, expanded, 1, act=act)]
        layers.append(_conv_bn_v3(expanded, expanded, kernel, stride, groups=expanded, act=act))
        if se:
            layers.append(SqueezeExcite(expanded, divisible(expanded // 4)))
        layers.append(_conv_bn_v3(expanded, cout, 1))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


def mobilenet_v3_large(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    channels = input_shape[-1]
    layers: list[nn.Module] = [NHWCToNCHW(), _conv_bn_v3(channels, 16, 3, stride=2, act=nn.Hardswish)]
    for cin, kernel, expanded, cout, se, hard_swish, stride in MOBILENET_V3_LARGE:
        layers.append(InvertedResidualV3(cin, kernel, expanded, cout, se, nn.Hardswish if hard_swish else nn.ReLU, stride))
    layers += [
        _conv_bn_v3(160, 960, 1, act=nn.Hardswish), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(960, 1280), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(1280, num_classes),
    ]
    return nn.Sequential(*layers)


class VisionTransformer(nn.Module):
    """ViT: non-overlapping patches embedded by a strided convolution, a class token, learned positions,
    pre-norm GELU encoder blocks, a final LayerNorm, the class token's state to the head (torchvision's layout)."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, patch: int, dim: int, heads: int, layers: int, ffn: int) -> None:
        super().__init__()
        height, width, channels = input_shape
        self.patches = nn.Conv2d(channels, dim, patch, stride=patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.positions = nn.Parameter(torch.empty(1, (height // patch) * (width // patch) + 1, dim).normal_(std=0.02))
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, ffn, "gelu", pre_norm=True, eps=1e-6) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patches(x.permute(0, 3, 1, 2)).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1) + self.positions
        return self.head(self.norm(self.blocks(x))[:, 0])


def vit_b16(input_shape: tuple[int, ...], num_classes: int, patch: int = 16, dim: int = 768, heads: int = 12,
            layers: int = 12, ffn: int = 3072) -> nn.Module:
    return VisionTransformer(tuple(input_shape), num_classes, patch, dim, heads, layers, ffn)
