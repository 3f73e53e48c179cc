"""The log-mel front end's fixed matrices, computed once in numpy so both frameworks use identical ones.

The STFT is a strided 1-D convolution with windowed cosine and sine kernels (the real and imaginary DFT
parts): plain convolution and matrix products, which every storage format (ONNX, TorchScript, SavedModel)
exports without special STFT support.
"""

from __future__ import annotations

import numpy as np


def dft_kernels(n_fft: int) -> np.ndarray:
    """(2 * bins, n_fft): Hann-windowed cos rows, then -sin rows, for bins = n_fft // 2 + 1."""
    n = np.arange(n_fft)
    k = np.arange(n_fft // 2 + 1)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
    angle = 2 * np.pi * k * n / n_fft
    return np.concatenate([np.cos(angle) * window, -np.sin(angle) * window]).astype(np.float32)


def mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(bins, n_mels) triangular filters on the HTK mel scale."""
    to_mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    to_hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = to_hz(np.linspace(to_mel(0.0), to_mel(sample_rate / 2), n_mels + 2))
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).T.astype(np.float32)


def frames(samples: int, n_fft: int, hop: int) -> int:
    return (samples - n_fft) // hop + 1
