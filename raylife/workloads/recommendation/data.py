"""User-item interactions as (user index, item index) pairs, labelled liked (1) or not (0).

Built in: ``synthetic_ratings``, generated and seeded: users and items get latent taste vectors and biases,
and a user likes an item when their affinity plus noise is positive. A model has to learn those factors
from the pairs alone (a majority guess gets about half right; matrix factorisation about 0.77); it is generated data and is labelled so.
On disk: ``ratings``, a CSV of user, item, rating (MovieLens' ratings.csv layout by default); ratings at or
above ``threshold`` count as liked. User and item ids are mapped to contiguous indices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np

from pydantic import Field

from raylife.workloads.options import Column, Count, Seed

Users = Annotated[int, Field(ge=1, le=10_000_000)]  # users, items, items per user
from raylife.workloads.base import DataFacts, Dataset, require


def describe_synthetic(users: Users = 300, items: Users = 200, per_user: Users = 60, factors: Annotated[int, Field(ge=1, le=1024)] = 4,
                  seed: Seed = 7) -> DataFacts:
    require(per_user <= items, f"per_user = {per_user} is more than items = {items}", "data.options", "lower per_user")
    return DataFacts(
        input_shape=(2,), num_classes=2, dtype="int64", synthetic=True,
        source=f"generated interactions: {users} users x {per_user} of {items} items, {factors} latent factors (seed {seed})",
        model_args={"num_users": users, "num_items": items},
    )


def load_synthetic(users: Users = 300, items: Users = 200, per_user: Users = 60, factors: Annotated[int, Field(ge=1, le=1024)] = 4,
                  seed: Seed = 7) -> Dataset:
    facts = describe_synthetic(users, items, per_user, factors, seed)
    rng = np.random.default_rng(seed)
    user_vec, item_vec = rng.normal(size=(users, factors)), rng.normal(size=(items, factors))
    user_bias, item_bias = rng.normal(0, 0.5, users), rng.normal(0, 0.5, items)
    pairs = np.array([(u, i) for u in range(users) for i in rng.choice(items, per_user, replace=False)], dtype=np.int64)
    affinity = (user_vec[pairs[:, 0]] * item_vec[pairs[:, 1]]).sum(1) / np.sqrt(factors)
    affinity += user_bias[pairs[:, 0]] + item_bias[pairs[:, 1]] + rng.normal(0, 0.3, len(pairs))
    return Dataset(x=pairs, y=(affinity > 0).astype(np.int64), facts=facts)


def _read(path: str, columns: list[str]):  # noqa: ANN202 - a pyarrow Table
    import pyarrow.csv as pacsv

    file = Path(path)
    require(file.is_file(), f"data path is not a file: {file}", "data.path", "point it at a ratings CSV")
    names = pacsv.open_csv(file).schema.names
    missing = [c for c in columns if c not in names]
    require(not missing, f"{file.name} has no column(s) {', '.join(missing)} (columns: {', '.join(names)})",
            "data.options", "set user_column, item_column and rating_column")
    return pacsv.read_csv(file, convert_options=pacsv.ConvertOptions(include_columns=columns))


def _ratings(path: str, user_column: str, item_column: str, rating_column: str, threshold: float, max_rows: int | None):
    table = _read(path, [user_column, item_column, rating_column])
    users = table.column(user_column).to_pylist()[:max_rows]
    items = table.column(item_column).to_pylist()[:max_rows]
    ratings = np.asarray(table.column(rating_column).to_pylist()[:max_rows], dtype=np.float64)
    user_index = {u: k for k, u in enumerate(sorted(set(users), key=str))}
    item_index = {i: k for k, i in enumerate(sorted(set(items), key=str))}
    pairs = np.array([(user_index[u], item_index[i]) for u, i in zip(users, items)], dtype=np.int64).reshape(-1, 2)
    return pairs, (ratings >= threshold).astype(np.int64), len(user_index), len(item_index)


def describe_ratings(path: str, user_column: Column = "userId", item_column: Column = "movieId", rating_column: Column = "rating",
                     threshold: float = 4.0, max_rows: Count | None = None) -> DataFacts:
    pairs, liked, users, items = _ratings(path, user_column, item_column, rating_column, threshold, max_rows)
    require(len(np.unique(liked)) == 2, f"every rating in {path} is on one side of threshold = {threshold}",
            "data.options.threshold", "choose a threshold between the lowest and highest rating")
    return DataFacts(input_shape=(2,), num_classes=2, dtype="int64",
                     source=f"ratings {path} ({len(pairs)} ratings, {users} users, {items} items, liked >= {threshold})",
                     model_args={"num_users": users, "num_items": items})


def load_ratings(path: str, user_column: Column = "userId", item_column: Column = "movieId", rating_column: Column = "rating",
                 threshold: float = 4.0, max_rows: Count | None = None) -> Dataset:
    facts = describe_ratings(path, user_column, item_column, rating_column, threshold, max_rows)
    pairs, liked, _, _ = _ratings(path, user_column, item_column, rating_column, threshold, max_rows)
    return Dataset(x=pairs, y=liked, facts=facts)
