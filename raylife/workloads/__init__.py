"""Workloads: tasks with their data sources and models, looked up by the name a suite uses."""

from __future__ import annotations

from raylife.registry import Registry
from raylife.workloads.base import (
    RANDOM,
    DataFacts,
    Dataset,
    DataSource,
    ModelInfo,
    Splits,
    Workload,
    split_dataset,
)

WORKLOADS: Registry[Workload] = Registry(
    "workload",
    {
        "vision": "raylife.workloads.vision:WORKLOAD",
        "text": "raylife.workloads.text:WORKLOAD",
        "tabular": "raylife.workloads.tabular:WORKLOAD",
        "recommendation": "raylife.workloads.recommendation:WORKLOAD",
        "audio": "raylife.workloads.audio:WORKLOAD",
        "generative": "raylife.workloads.generative:WORKLOAD",
    },
    entry_point_group="raylife.workloads",
)

__all__ = ["RANDOM", "WORKLOADS", "DataFacts", "DataSource", "Dataset", "ModelInfo", "Splits", "Workload", "split_dataset"]
