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


def patches(facts: DataFacts, options: dict[str, Any]) -> str | None:
    """A Vision Transformer cuts the image into non-overlapping patches: both sides must be multiples of one."""
    problem = small(facts, options)
    if problem:
        return problem
    patch = int(options.get("patch", 16))
    height, width = facts.input_shape[:2]
    if height % patch or width % patch:
        return (f"cuts images into {patch}x{patch} patches, but {height}x{width} is not divisible by {patch} "
                f"(use a size that is a multiple of {patch}, e.g. 224, or set the model option patch)")
    dim, heads = options.get("dim"), options.get("heads")
    if dim and heads and dim % heads:
        return f"dim = {dim} is not divisible by heads = {heads}"
    return None
