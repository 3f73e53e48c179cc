"""PyTorch tabular models."""

from __future__ import annotations

import torch
from torch import nn


def mlp(input_shape: tuple[int, ...], num_classes: int, width: int = 128, depth: int = 4, dropout: float = 0.1) -> nn.Module:
    layers: list[nn.Module] = []
    features = input_shape[0]
    for _ in range(depth):
        layers += [nn.Linear(features, width), nn.ReLU(), nn.Dropout(dropout)]
        features = width
    return nn.Sequential(*layers, nn.Linear(features, num_classes))


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 2 * width), nn.ReLU(), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resmlp(input_shape: tuple[int, ...], num_classes: int, width: int = 128, blocks: int = 3) -> nn.Module:
    return nn.Sequential(
        nn.Linear(input_shape[0], width), *[ResidualBlock(width) for _ in range(blocks)], nn.LayerNorm(width),
        nn.Linear(width, num_classes),
    )
