"""PyTorch audio models: a fixed log-mel front end (buffers, not parameters), then a CNN."""

from __future__ import annotations

import torch
from torch import nn

from raylife.workloads.audio.features import dft_kernels, mel_filters

N_FFT, HOP, N_MELS = 256, 128, 40


class LogMel(nn.Module):
    """(batch, samples) → (batch, 1, frames, mels)."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.register_buffer("kernels", torch.from_numpy(dft_kernels(N_FFT))[:, None, :])
        self.register_buffer("mel", torch.from_numpy(mel_filters(sample_rate, N_FFT, N_MELS)))
        self.bins = N_FFT // 2 + 1

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        spectrum = nn.functional.conv1d(waves[:, None, :], self.kernels, stride=HOP)  # (batch, 2 * bins, frames)
        power = spectrum[:, : self.bins] ** 2 + spectrum[:, self.bins :] ** 2
        return torch.log(power.transpose(1, 2) @ self.mel + 1e-6)[:, None]


def _conv(cin: int, cout: int, groups: int = 1, kernel: int = 3) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def cnn(input_shape: tuple[int, ...], num_classes: int, sample_rate: int = 8000, width: int = 16) -> nn.Module:
    layers: list[nn.Module] = [LogMel(sample_rate), nn.BatchNorm2d(1)]
    cin = 1
    for cout in (width, 2 * width, 4 * width):
        layers += [*_conv(cin, cout), nn.MaxPool2d(2)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))


def dscnn(input_shape: tuple[int, ...], num_classes: int, sample_rate: int = 8000, width: int = 32, blocks: int = 3) -> nn.Module:
    layers: list[nn.Module] = [LogMel(sample_rate), nn.BatchNorm2d(1), *_conv(1, width), nn.MaxPool2d(2)]
    for _ in range(blocks):
        layers += [*_conv(width, width, groups=width), *_conv(width, width, kernel=1)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))



