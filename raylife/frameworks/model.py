"""What describes a model across processes: the recipe to rebuild it anywhere, and the facts a framework counts.

A checkpoint and every saved format that needs the model's code carry ``recipe.json``, so any process (the
trial's actor, a Serve replica, a user's script) rebuilds the model without the suite.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RECIPE_FILE = "recipe.json"


@dataclass(frozen=True)
class Recipe:
    """How to rebuild a model: its builder, the data's input shape and classes, and the builder's arguments."""

    builder: str  # "module:function"
    input_shape: tuple[int, ...]
    num_classes: int
    framework: str
    model: str
    options: Mapping[str, Any] = field(default_factory=dict)  # the suite's model options
    model_args: Mapping[str, Any] = field(default_factory=dict)  # data-dependent arguments (vocabulary size, ...)

    def builder_kwargs(self) -> dict[str, Any]:
        return {**dict(self.model_args), **dict(self.options)}

    def to_json(self) -> str:
        out = asdict(self)
        out["input_shape"] = list(self.input_shape)
        out["options"], out["model_args"] = dict(self.options), dict(self.model_args)
        return json.dumps(out, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        raw = json.loads(text)
        return cls(
            builder=str(raw["builder"]), input_shape=tuple(int(d) for d in raw["input_shape"]),
            num_classes=int(raw["num_classes"]), framework=str(raw["framework"]), model=str(raw["model"]),
            options=dict(raw.get("options") or {}), model_args=dict(raw.get("model_args") or {}),
        )

    def write(self, directory: str | Path) -> None:
        (Path(directory) / RECIPE_FILE).write_text(self.to_json())

    @classmethod
    def read(cls, directory: str | Path) -> Recipe:
        return cls.from_json((Path(directory) / RECIPE_FILE).read_text())

    @staticmethod
    def present(directory: str | Path) -> bool:
        return (Path(directory) / RECIPE_FILE).exists()


@dataclass(frozen=True)
class ModelFacts:
    """What a framework counts of a built model."""

    params: int  # trainable (BatchNorm running statistics are state, not parameters, in both frameworks)
    flops_per_sample: float | None  # forward pass, multiply and add counted apart; None where not countable
    model_memory_bytes: float  # every weight and buffer


__all__ = ["RECIPE_FILE", "ModelFacts", "Recipe"]
