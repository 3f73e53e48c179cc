"""A trial's data, named once: the one value the driver, the trial's actor, Train workers and replicas load from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raylife.workloads.base import Splits


@dataclass(frozen=True)
class DataRef:
    """Which data a trial uses and how it is split: loading it anywhere gives the same rows (seeded)."""

    workload: str
    dataset: str | None  # a built-in data set (or "random"); None when reading files
    format: str | None = None  # an on-disk format; its path is in options["path"]
    options: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0

    def load(self) -> Splits:
        from raylife.workloads import WORKLOADS

        return WORKLOADS.get(self.workload).load_splits(self.dataset, self.seed, dict(self.options), fmt=self.format)
