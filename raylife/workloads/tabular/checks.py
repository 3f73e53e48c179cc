from __future__ import annotations

from typing import Any

from raylife.workloads.base import DataFacts


def features(facts: DataFacts, options: dict[str, Any]) -> str | None:
    if len(facts.input_shape) != 1 or not facts.dtype.startswith("float"):
        return f"needs one row of numeric features per sample, got {facts.dtype} inputs of shape {facts.input_shape}"
    return None
