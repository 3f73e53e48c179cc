"""The published decoder shapes, as builder options, with their trainable-parameter counts (tied embeddings).

Light (no framework): suites, docs and tests name these; the builders' defaults are the first of each family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Shape:
    name: str
    model: str  # the builder: "gpt2" or "llama"
    vocab_size: int
    options: dict[str, Any] = field(default_factory=dict)
    parameters: int = 0  # trainable, embeddings tied (the figure the model cards give)
    source: str = ""


SHAPES = {
    shape.name: shape
    for shape in (
        Shape("gpt2_small", "gpt2", 50_257, {"dim": 768, "layers": 12, "heads": 12, "positions": 1024},
              124_439_808, "GPT-2 small (Radford et al. 2019; Hugging Face gpt2)"),
        Shape("smollm2_135m", "llama", 49_152, {"dim": 576, "layers": 30, "heads": 9, "kv_heads": 3, "ffn": 1536,
                                                "positions": 8192, "rope_theta": 100_000.0},
              134_515_008, "SmolLM2-135M (Hugging Face HuggingFaceTB/SmolLM2-135M)"),
        Shape("llama_3_2_1b", "llama", 128_256, {"dim": 2048, "layers": 16, "heads": 32, "kv_heads": 8, "ffn": 8192,
                                                 "positions": 131_072, "rope_theta": 500_000.0},
              1_235_814_400, "Llama-3.2-1B (Meta; rope scaling aside, which holds no parameters)"),
    )
}
