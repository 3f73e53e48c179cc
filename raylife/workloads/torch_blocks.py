"""PyTorch building blocks more than one workload uses: the Transformer encoder of the text models, BERT and ViT.

Attention is written out (not nn.MultiheadAttention or nn.TransformerEncoderLayer) so it exports to ONNX and
TorchScript the same way everywhere and has exactly the parameters of Keras' MultiHeadAttention: query, key,
value and output projections of dim x dim with biases (BERT's and ViT's published counts assume the same).
"""

from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU}


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
    """Post-norm (the original Transformer, BERT) or pre-norm (ViT): the same parameters, another order."""

    def __init__(self, dim: int, heads: int, ffn: int, activation: str = "relu", pre_norm: bool = False,
                 eps: float = 1e-5) -> None:
        super().__init__()
        self.attention = SelfAttention(dim, heads)
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=eps), nn.LayerNorm(dim, eps=eps)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), ACTIVATIONS[activation](), nn.Linear(ffn, dim))
        self.pre_norm = pre_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.attention(self.norm1(x))
            return x + self.ffn(self.norm2(x))
        x = self.norm1(x + self.attention(x))
        return self.norm2(x + self.ffn(x))
