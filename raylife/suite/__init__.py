"""Suites: TOML files parsed into a validated SuiteSpec."""

from raylife.suite.load import load_suite, parse_suite
from raylife.suite.spec import (
    DataSpec,
    ModelSpec,
    PersistSpec,
    RunSpec,
    ServeSpec,
    SuiteSpec,
    TrainSpec,
    UpdateSpec,
)

__all__ = [
    "DataSpec",
    "ModelSpec",
    "PersistSpec",
    "RunSpec",
    "ServeSpec",
    "SuiteSpec",
    "TrainSpec",
    "UpdateSpec",
    "load_suite",
    "parse_suite",
]
