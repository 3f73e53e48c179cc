"""What a workload is: its data (loaded as numpy, split with a seed) and its models per framework.

Light on purpose (numpy only): the planner reads these descriptors on the driver to validate a suite,
and only the training/serving processes import a model builder, which imports its framework.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raylife.errors import PlanError, close_matches
from raylife.registry import import_object

# Fractions of the whole data set. "retrain" is a fresh slice the first training never sees,
# used to fine-tune from the checkpoint; "test" is held out from both and scores every model.
SPLIT_FRACTIONS: dict[str, float] = {"test": 0.2, "val": 0.1, "retrain": 0.15}


@dataclass
class Dataset:
    """A labelled data set in memory, in the workload's canonical layout (e.g. NHWC float32 images)."""

    x: np.ndarray
    y: np.ndarray
    num_classes: int
    source: str  # where it came from, stored with the results
    synthetic: bool = False  # generated data must never be presented as a real benchmark


@dataclass
class Splits:
    """Seeded, stratified train/val/test/retrain splits of one Dataset."""

    arrays: dict[str, tuple[np.ndarray, np.ndarray]]
    num_classes: int
    source: str
    synthetic: bool

    def __getitem__(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.arrays[name]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.arrays["train"][0].shape[1:])

    def sizes(self) -> dict[str, int]:
        return {name: len(y) for name, (_, y) in self.arrays.items()}


def split_dataset(data: Dataset, seed: int) -> Splits:
    """Split deterministically: the same seed gives the same rows in every process and every rerun."""
    from sklearn.model_selection import train_test_split

    x, y = data.x, data.y
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    remaining = 1.0
    for name, fraction in SPLIT_FRACTIONS.items():
        share = fraction / remaining
        x, x_part, y, y_part = train_test_split(x, y, test_size=share, random_state=seed, stratify=y)
        arrays[name] = (x_part, y_part)
        remaining -= fraction
    arrays["train"] = (x, y)
    return Splits(arrays=arrays, num_classes=data.num_classes, source=data.source, synthetic=data.synthetic)


@dataclass(frozen=True)
class ModelInfo:
    """One architecture: a builder per framework (``"module:function"``) and its default options."""

    name: str
    description: str
    builders: Mapping[str, str]
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def frameworks(self) -> list[str]:
        return sorted(self.builders)


@dataclass(frozen=True)
class Workload:
    """A task: named data sets (loader per name) and the models that solve it."""

    name: str
    task: str
    description: str
    datasets: Mapping[str, str]  # data set name → "module:loader", loader(options) -> Dataset
    default_dataset: str
    models: Mapping[str, ModelInfo]

    def model(self, name: str) -> ModelInfo:
        if name not in self.models:
            hint = close_matches(name, self.models)
            raise PlanError(
                f"unknown model '{name}' for workload '{self.name}'",
                hint=(hint + " " if hint else "") + f"known models: {', '.join(sorted(self.models))}",
            )
        return self.models[name]

    def dataset_loader(self, name: str) -> Callable[..., Dataset]:
        if name not in self.datasets:
            hint = close_matches(name, self.datasets)
            raise PlanError(
                f"unknown dataset '{name}' for workload '{self.name}'",
                hint=(hint + " " if hint else "") + f"known datasets: {', '.join(sorted(self.datasets))}",
            )
        return import_object(self.datasets[name], what=f"dataset '{name}'")

    def load_splits(self, dataset: str | None, seed: int, options: Mapping[str, Any] | None = None) -> Splits:
        loader = self.dataset_loader(dataset or self.default_dataset)
        return split_dataset(loader(**dict(options or {})), seed)
