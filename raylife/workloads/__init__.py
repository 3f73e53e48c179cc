"""Workloads: tasks with their data and models, looked up by the name a suite uses."""

from __future__ import annotations

from raylife.registry import Registry
from raylife.workloads.base import Dataset, ModelInfo, Splits, Workload, split_dataset

WORKLOADS: Registry[Workload] = Registry(
    "workload",
    {
        "vision": "raylife.workloads.vision:WORKLOAD",
    },
    entry_point_group="raylife.workloads",
)

__all__ = ["WORKLOADS", "Dataset", "ModelInfo", "Splits", "Workload", "split_dataset"]
