"""The heavy half of a framework plug-in: what runs inside cluster processes.

A Backend builds models from a ``Recipe`` (builder import path, input shape, classes, options), wires the
Ray Train trainer, predicts on numpy arrays, and saves/loads every storage format it declares. A
checkpoint is a directory holding the native format plus ``recipe.json``, so any process can rebuild
the model without the suite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from raylife.frameworks import Framework
from raylife.frameworks.model import ModelFacts, Recipe
from raylife.measure.memory import GpuMemoryPeak
from raylife.registry import import_object

Predictor = Callable[[np.ndarray], np.ndarray]


def directory_bytes(directory: str | Path) -> int:
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


class ModelFormat(ABC):
    """One way to store a model: ``save`` writes into an empty directory, ``load`` returns a predictor that runs on
    ``device`` ("cpu" or "gpu") at ``precision`` (fp32, bf16, fp16) where the format can, numpy in and out (the
    host-to-device copies are part of every prediction, as for a real client)."""

    name: str

    @abstractmethod
    def save(self, model: Any, directory: Path, sample: np.ndarray, recipe: Recipe) -> None: ...

    @abstractmethod
    def load(self, directory: Path, device: str = "cpu", precision: str = "fp32") -> Predictor: ...


class Backend(ABC):
    framework: Framework
    formats: Mapping[str, ModelFormat]
    trainer: str  # "module:Class" of the framework's Ray Train trainer, imported when a fit starts
    train_loop: str  # "module:function" every training worker runs

    @abstractmethod
    def set_threads(self, threads: int) -> None:
        """Cap intra-op threads to the CPUs this process was given, so timings match the resources."""

    def make_trainer(self, config: dict[str, Any], scaling_config: Any, run_config: Any,
                     datasets: dict[str, Any] | None = None) -> Any:
        """The framework's Ray Train trainer running its training loop with ``config`` (Ray Train takes a dict);
        ``datasets`` (Ray Data) become the workers' shards: "train" split between them, the others whole."""
        trainer = import_object(self.trainer, what=f"Ray Train trainer of {self.framework.name}")
        loop = import_object(self.train_loop, what=f"training loop of {self.framework.name}")
        data: dict[str, Any] = {}
        if datasets:
            from ray.train import DataConfig

            data = {"datasets": datasets, "dataset_config": DataConfig(datasets_to_split=["train"])}
        return trainer(loop, train_loop_config=config, scaling_config=scaling_config, run_config=run_config, **data)

    @abstractmethod
    def predict(self, model: Any, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Logits for ``x``, in inference mode."""

    @abstractmethod
    @abstractmethod
    def weights_problem(self, model: Any, path: Path) -> str | None:
        """Why the weights file at ``path`` does not fit ``model`` — the first tensor whose name or shape differs —
        or None when every tensor fits."""

    @abstractmethod
    def load_weights(self, model: Any, path: Path) -> None:
        """Load pretrained weights (a file ``weights_problem`` accepts) into ``model``."""

    def count_params(self, model: Any) -> int:
        """Trainable parameters (BatchNorm running statistics are state, not parameters, in both frameworks)."""

    @abstractmethod
    def model_facts(self, model: Any, sample: np.ndarray) -> ModelFacts:
        """Trainable parameters, FLOPs of one sample's forward pass (None where the framework cannot count) and
        the bytes of every weight and buffer."""

    def gpu_visible(self) -> bool:
        """Whether this process can run the framework on a GPU."""
        return False

    def to_device(self, model: Any, device: str) -> Any:
        """The model placed where ``predict`` should run it ("cpu" or "gpu")."""
        return model

    def gpu_memory_peak(self) -> GpuMemoryPeak:
        """The framework's own count of the largest GPU memory this process used (nothing where it has not used a
        GPU)."""
        return GpuMemoryPeak()

    def build_model(self, recipe: Recipe) -> Any:
        builder = import_object(recipe.builder, what="model builder")
        return builder(tuple(recipe.input_shape), int(recipe.num_classes), **recipe.builder_kwargs())

    def native(self) -> ModelFormat:
        return self.formats[self.framework.native_format]

    def save_checkpoint(self, model: Any, directory: Path, sample: np.ndarray, recipe: Recipe) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.native().save(model, directory, sample, recipe)
        recipe.write(directory)

    @abstractmethod
    def load_checkpoint(self, directory: str | Path) -> Any:
        """The trainable model stored by ``save_checkpoint``."""
