"""Embedding table sizes, shared by both frameworks' builders and the planner's check (no framework import)."""

from __future__ import annotations


def table_rows(sparse: int, num_users: int, num_items: int, rows: int | list[int] | None) -> list[int]:
    """Rows of each embedding table: the suite's ``rows`` (one size for all, or one per table), else the data's
    id ranges ((user, item) pairs: users, items; more columns: the larger range for each)."""
    if isinstance(rows, list):
        return [int(r) for r in rows]
    if rows is not None:
        return [int(rows)] * sparse
    return [num_users, num_items] if sparse == 2 else [max(num_users, num_items)] * sparse
