"""PyTorch recommenders over (user, item) index pairs."""

from __future__ import annotations

import torch
from torch import nn


class GMF(nn.Module):
    def __init__(self, num_users: int, num_items: int, num_classes: int, dim: int, tower_hidden: int | None = None) -> None:
        super().__init__()
        self.users, self.items = nn.Embedding(num_users, dim), nn.Embedding(num_items, dim)
        if tower_hidden:
            self.user_tower = nn.Sequential(nn.Linear(dim, tower_hidden), nn.ReLU(), nn.Linear(tower_hidden, dim))
            self.item_tower = nn.Sequential(nn.Linear(dim, tower_hidden), nn.ReLU(), nn.Linear(tower_hidden, dim))
        else:
            self.user_tower = self.item_tower = nn.Identity()
        self.out = nn.Linear(dim, num_classes)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        user = self.user_tower(self.users(pairs[:, 0]))
        item = self.item_tower(self.items(pairs[:, 1]))
        return self.out(user * item)


def mf(input_shape: tuple[int, ...], num_classes: int, num_users: int, num_items: int, dim: int = 32) -> nn.Module:
    return GMF(num_users, num_items, num_classes, dim)


def two_tower(input_shape: tuple[int, ...], num_classes: int, num_users: int, num_items: int, dim: int = 32, hidden: int = 64) -> nn.Module:
    return GMF(num_users, num_items, num_classes, dim, tower_hidden=hidden)
