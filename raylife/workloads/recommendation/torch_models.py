"""PyTorch recommenders over (user, item) index pairs, and DLRM over dense counts and categorical ids.

Embeddings start uniform in ±0.05, Keras' default, in both frameworks: matrix factorisation is sensitive to
its initial scale, and PyTorch's N(0, 1) default would compare initialisations, not frameworks.
"""

from __future__ import annotations

import torch
from torch import nn

from raylife.workloads.recommendation.tables import table_rows


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


def _mlp(widths: list[int], last_relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (cin, cout) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(cin, cout))
        if last_relu or i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DLRM(nn.Module):
    """MLPerf DLRM's structure: the dense features (log(1 + count), as MLPerf preprocesses Criteo's) through the
    bottom MLP, one embedding per categorical column, the dot product of every pair of those vectors (the
    strictly lower triangle), concatenated with the bottom MLP's output and passed through the top MLP.
    Input: int64 rows of ``dense`` counts followed by one id per table. The top MLP ends in ``num_classes``
    logits (MLPerf: one sigmoid output), the loss every raylife classifier shares."""

    def __init__(self, dense: int, tables: list[int], num_classes: int, dim: int, bottom: list[int], top: list[int]) -> None:
        super().__init__()
        self.dense = dense
        self.bottom = _mlp([dense, *bottom], last_relu=True) if dense else None
        self.tables = nn.ModuleList(_embedding(rows, dim) for rows in tables)
        features = len(tables) + (1 if dense else 0)
        self.top = _mlp([(dim if dense else 0) + features * (features - 1) // 2, *top, num_classes], last_relu=False)
        lower_i, lower_j = torch.tril_indices(features, features, -1)
        self.register_buffer("lower_i", lower_i, persistent=False)
        self.register_buffer("lower_j", lower_j, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        vectors = [table(x[:, self.dense + i]) for i, table in enumerate(self.tables)]
        parts: list[torch.Tensor] = []
        if self.bottom is not None:
            dense = self.bottom(torch.log1p(x[:, : self.dense].float()))
            vectors.insert(0, dense)
            parts.append(dense)
        stacked = torch.stack(vectors, dim=1)
        dots = stacked @ stacked.transpose(1, 2)
        parts.append(dots[:, self.lower_i, self.lower_j])
        return self.top(torch.cat(parts, dim=1))


def dlrm(input_shape: tuple[int, ...], num_classes: int, num_users: int, num_items: int, dense: int = 0, dim: int = 16,
         bottom: list[int] | None = None, top: list[int] | None = None, rows: int | list[int] | None = None) -> nn.Module:
    bottom = [64, dim] if bottom is None else list(bottom)
    tables = table_rows(input_shape[0] - dense, num_users, num_items, rows)
    return DLRM(dense, tables, num_classes, dim, bottom, [64, 32] if top is None else list(top))
