"""PyTorch recommenders over (user, item) index pairs.

Embeddings start uniform in ±0.05, Keras' default, in both frameworks: matrix factorisation is sensitive to
its initial scale, and PyTorch's N(0, 1) default would compare initialisations, not frameworks.
"""

from __future__ import annotations

import torch
from torch import nn


def _embedding(count: int, dim: int) -> nn.Embedding:
    table = nn.Embedding(count, dim)
    nn.init.uniform_(table.weight, -0.05, 0.05)
    return table


class Factorisation(nn.Module):
    """logits = W (user ⊙ item) + user bias + item bias; with ``tower_hidden``, an MLP over each side first."""

    def __init__(self, num_users: int, num_items: int, num_classes: int, dim: int, tower_hidden: int | None = None) -> None:
        super().__init__()
        self.users, self.items = _embedding(num_users, dim), _embedding(num_items, dim)
        self.user_bias, self.item_bias = _embedding(num_users, num_classes), _embedding(num_items, num_classes)
        if tower_hidden:
            self.user_tower = nn.Sequential(nn.Linear(dim, tower_hidden), nn.ReLU(), nn.Linear(tower_hidden, dim))
            self.item_tower = nn.Sequential(nn.Linear(dim, tower_hidden), nn.ReLU(), nn.Linear(tower_hidden, dim))
        else:
            self.user_tower = self.item_tower = nn.Identity()
        self.out = nn.Linear(dim, num_classes)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        users, items = pairs[:, 0], pairs[:, 1]
        interaction = self.user_tower(self.users(users)) * self.item_tower(self.items(items))
        return self.out(interaction) + self.user_bias(users) + self.item_bias(items)


def mf(input_shape: tuple[int, ...], num_classes: int, num_users: int, num_items: int, dim: int = 32) -> nn.Module:
    return Factorisation(num_users, num_items, num_classes, dim)


def two_tower(input_shape: tuple[int, ...], num_classes: int, num_users: int, num_items: int, dim: int = 32, hidden: int = 64) -> nn.Module:
    return Factorisation(num_users, num_items, num_classes, dim, tower_hidden=hidden)
