"""PyTorch image models. Inputs arrive NHWC (the workload's layout, shared with TensorFlow) so both
frameworks serve the very same request payload; the permute to NCHW is part of the model."""

from __future__ import annotations

import torch
from torch import nn


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
