"""PyTorch text models: a small Transformer encoder, a GRU baseline, and BERT-base / DistilBERT-sized encoders.

BERT and DistilBERT follow the published structure (Hugging Face's BertForSequenceClassification and
DistilBertForSequenceClassification, whose parameter counts the tests check: 109,483,778 and 66,955,010 at
vocabulary 30,522 and 2 classes): token, position (512 rows) and, for BERT, segment embeddings with a
LayerNorm; post-norm GELU encoder blocks; the first token's state through a dense layer (BERT's tanh pooler,
DistilBERT's ReLU pre-classifier) and the classifier. Weights start random: nothing is downloaded.
"""

from __future__ import annotations

import torch
from torch import nn

from raylife.workloads.torch_blocks import EncoderBlock


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


class BertClassifier(nn.Module):
    """BERT (``segments=2``, tanh pooler) or DistilBERT (``segments=0``, ReLU pre-classifier) for classification."""

    def __init__(self, seq_len: int, vocab_size: int, num_classes: int, dim: int, heads: int, layers: int, ffn: int,
                 max_positions: int, segments: int, pool_activation: str) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.positions = nn.Embedding(max_positions, dim)
        # One segment is used (single-sentence classification); the table keeps BERT's size and names.
        self.segments = nn.Embedding(segments, dim) if segments else None
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, ffn, "gelu", eps=1e-12) for _ in range(layers)])
        self.pool = nn.Sequential(nn.Linear(dim, dim), nn.Tanh() if pool_activation == "tanh" else nn.ReLU())
        self.out = nn.Linear(dim, num_classes)
        self.register_buffer("index", torch.arange(seq_len), persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tokens(ids) + self.positions(self.index)
        if self.segments is not None:
            x = x + self.segments.weight[0]
        return self.out(self.pool(self.blocks(self.norm(x))[:, 0]))


def bert_base(input_shape: tuple[int, ...], num_classes: int, vocab_size: int, dim: int = 768, heads: int = 12,
              layers: int = 12, ffn: int = 3072, max_positions: int = 512) -> nn.Module:
    return BertClassifier(input_shape[0], vocab_size, num_classes, dim, heads, layers, ffn, max_positions, 2, "tanh")


def distilbert(input_shape: tuple[int, ...], num_classes: int, vocab_size: int, dim: int = 768, heads: int = 12,
               layers: int = 6, ffn: int = 3072, max_positions: int = 512) -> nn.Module:
    return BertClassifier(input_shape[0], vocab_size, num_classes, dim, heads, layers, ffn, max_positions, 0, "relu")
