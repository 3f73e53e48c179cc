from __future__ import annotations

from typing import Any

from raylife.workloads.base import DataFacts


def pairs(facts: DataFacts, options: dict[str, Any]) -> str | None:
    if facts.input_shape != (2,) or not facts.dtype.startswith("int") or "num_users" not in facts.model_args:
        return f"needs (user, item) index pairs, got {facts.dtype} inputs of shape {facts.input_shape}"
    return None
