"""Which inputs the image models can take (run on the driver by the planner)."""

from __future__ import annotations

from typing import Any

from raylife.workloads.base import DataFacts


def small(facts: DataFacts, options: dict[str, Any]) -> str | None:
    if len(facts.input_shape) != 3:
        return f"needs images (height, width, channels), got inputs of shape {facts.input_shape}"
    if min(facts.input_shape[:2]) < 4:
        return f"needs images of at least 4x4, got {facts.input_shape[0]}x{facts.input_shape[1]}"
    return None


def standard(facts: DataFacts, options: dict[str, Any]) -> str | None:
    """The published architectures downsample 32x; Keras' builders refuse inputs under 32x32."""
    problem = small(facts, options)
    if problem:
        return problem
    if min(facts.input_shape[:2]) < 32:
        return (f"needs images of at least 32x32, got {facts.input_shape[0]}x{facts.input_shape[1]} "
                "(for digits set data.options = { size = 32, channels = 3 })")
    return None
