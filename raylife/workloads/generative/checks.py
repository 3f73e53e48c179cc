"""What a decoder cannot take, said before anything runs: rows longer than its positions, heads that do not divide
its width, key-value heads that do not divide its heads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from raylife.workloads.base import DataFacts


def fits(facts: DataFacts, options: Mapping[str, Any]) -> str | None:
    if not facts.sequence_targets:
        return "a decoder predicts the next token: it trains on the generative workload's data"
    seq_len, positions = facts.input_shape[0], int(options.get("positions", 0) or 0)
    if positions and seq_len > positions:
        return f"rows of {seq_len} tokens exceed the model's {positions} positions; lower data seq_len or raise positions"
    dim, heads = int(options.get("dim", 0) or 0), int(options.get("heads", 0) or 0)
    if dim and heads and dim % heads:
        return f"width {dim} does not split into {heads} heads; choose dim a multiple of heads"
    kv_heads = options.get("kv_heads")
    if kv_heads and heads and heads % int(kv_heads):
        return f"{heads} heads do not share {kv_heads} key-value heads evenly; choose kv_heads dividing heads"
    return None
