from __future__ import annotations

from typing import Any

from raylife.workloads.base import DataFacts
from raylife.workloads.recommendation.tables import table_rows


def pairs(facts: DataFacts, options: dict[str, Any]) -> str | None:
    if facts.input_shape != (2,) or not facts.dtype.startswith("int") or "num_users" not in facts.model_args:
        return f"needs (user, item) index pairs, got {facts.dtype} inputs of shape {facts.input_shape}"
    return None


def dlrm(facts: DataFacts, options: dict[str, Any]) -> str | None:
    """DLRM reads ``dense`` count columns, then one id column per embedding table, all int64."""
    if len(facts.input_shape) != 1 or not facts.dtype.startswith("int") or "num_users" not in facts.model_args:
        return f"needs int64 rows of counts and ids, got {facts.dtype} inputs of shape {facts.input_shape}"
    for name in ("bottom", "top"):
        widths = options.get(name)
        if widths is not None and not _positive_ints(widths):
            return f"{name} = {widths!r}: give a list of layer widths (positive integers)"
    rows = options.get("rows")
    if rows is not None and not (_positive_int(rows) or _positive_ints(rows)):
        return f"rows = {rows!r}: give one table size, or a list of one per id column (positive integers)"
    dense, columns = options.get("dense", 0), facts.input_shape[0]
    if not _positive_int(dense) and dense != 0:
        return f"dense = {dense!r}: give the number of dense count columns (an integer)"
    if not 0 <= dense < columns:
        return f"dense = {dense} leaves no id column in rows of {columns} columns"
    sparse = columns - dense
    if isinstance(rows, list) and len(rows) != sparse:
        return f"rows lists {len(rows)} table sizes for {sparse} id columns"
    ids = max(facts.model_args["num_users"], facts.model_args.get("num_items", 0))
    tables = table_rows(sparse, facts.model_args["num_users"], facts.model_args.get("num_items", 0), rows)
    if rows is not None and min(tables) < ids:
        return f"a table of {min(tables)} rows cannot hold ids up to {ids - 1} (raise rows, or data.options.high)"
    bottom, dim = options.get("bottom"), options.get("dim", 16)
    if dense and bottom and bottom[-1] != dim:
        return f"the bottom MLP ends in {bottom[-1]} features but embeddings have dim = {dim}: the dot products need both equal"
    return None


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_ints(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_positive_int(v) for v in value)
