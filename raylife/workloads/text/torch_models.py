"""PyTorch text models. Attention is written out (not nn.TransformerEncoderLayer) so it exports to ONNX and
TorchScript the same way everywhere and has exactly the parameters of Keras' MultiHeadAttention."""

from __future__ import annotations

import math

import torch
from torch import nn


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.query, self.key, self.value, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        split = lambda t: t.view(batch, length, self.heads, self.head_dim).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.head_dim), dim=-1)
        return self.out((weights @ v).transpose(1, 2).reshape(batch, length, dim))


class EncoderBlock(nn.Module):
    """Post-norm, as in the original Transformer and Keras' usual encoder block."""

    def __init__(self, dim: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.attention = SelfAttention(dim, heads)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.ReLU(), nn.Linear(ffn, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attention(x))
        return self.norm2(x + self.ffn(x))


class Transformer(nn.Module):
    def __init__(self, seq_len: int, vocab_size: int, num_classes: int, dim: int, heads: int, layers: int, ffn: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.positions = nn.Embedding(seq_len, dim)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, ffn) for _ in range(layers)])
        self.out = nn.Linear(dim, num_classes)
        self.register_buffer("index", torch.arange(seq_len), persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tokens(ids) + self.positions(self.index)
        return self.out(self.blocks(x).mean(dim=1))


def transformer(input_shape: tuple[int, ...], num_classes: int, vocab_size: int, dim: int = 64, heads: int = 4,
                layers: int = 2, ffn: int = 128) -> nn.Module:
    return Transformer(input_shape[0], vocab_size, num_classes, dim, heads, layers, ffn)


class GRUClassifier(nn.Module):
    def __init__(self, vocab_size: int, num_classes: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.gru = nn.GRU(dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        _, last = self.gru(self.tokens(ids))
        return self.out(last[-1])


def gru(input_shape: tuple[int, ...], num_classes: int, vocab_size: int, dim: int = 64, hidden: int = 64) -> nn.Module:
    return GRUClassifier(vocab_size, num_classes, dim, hidden)
