from __future__ import annotations

from typing import Any

from raylife.workloads.base import DataFacts


def tokens(facts: DataFacts, options: dict[str, Any]) -> str | None:
    if len(facts.input_shape) != 1 or not facts.dtype.startswith("int") or "vocab_size" not in facts.model_args:
        return f"needs token id sequences, got {facts.dtype} inputs of shape {facts.input_shape}"
    dim, heads = options.get("dim"), options.get("heads")
    if dim and heads and dim % heads:
        return f"dim = {dim} is not divisible by heads = {heads}"
    return None


def encoder(facts: DataFacts, options: dict[str, Any]) -> str | None:
    """BERT-style encoders learn one embedding per position, up to ``max_positions``."""
    problem = tokens(facts, options)
    if problem:
        return problem
    limit = options.get("max_positions", 512)
    if facts.input_shape[0] > limit:
        return f"sequences of {facts.input_shape[0]} tokens exceed its {limit} position embeddings (max_positions)"
    return None
