"""Serving configurations: the combinations of the [serve] settings given as lists, measured in turn inside one trial
on its one trained model (deploy, measure, delete, then the next), never by another training."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raylife.suite.spec import SERVE_AXES, ServeSpec

# How a setting reads in a configuration's key: short, and the same in the database, the report and `choose`.
KEY_TAGS = {"replicas": "r", "cpus_per_replica": "cpu", "gpus_per_replica": "gpu", "max_batch_size": "mb",
            "batch_wait_timeout_s": "wait", "max_ongoing_requests": "mo", "format": ""}


@dataclass(frozen=True)
class ServingConfig:
    """One combination: its place in the order, its key (the varying settings, e.g. ``r2-mb8``), its settings and the
    storage format its replicas load (resolved for the trial's framework)."""

    index: int
    key: str
    spec: ServeSpec
    format: str

    def labels(self) -> dict[str, Any]:
        """What every measurement taken under this configuration carries."""
        return {"config": self.key, "config_index": self.index}

    def settings(self) -> dict[str, Any]:
        return {axis: getattr(self.spec, axis) for axis in SERVE_AXES} | {"format": self.format}

    def as_params(self) -> dict[str, Any]:
        return {"index": self.index, "key": self.key, **self.settings()}


def serving_configs(spec: ServeSpec, resolve_format: Callable[[str], str]) -> tuple[ServingConfig, ...]:
    """The configurations of a [serve] table, the first one the trial's own; () when every setting is one value."""
    axes = spec.axes()
    if not axes:
        return ()
    configs = []
    for index, config in enumerate(spec.configs()):
        key = "-".join(f"{KEY_TAGS[axis]}{getattr(config, axis):g}" if not isinstance(getattr(config, axis), str)
                       else f"{KEY_TAGS[axis]}{getattr(config, axis)}" for axis in axes)
        configs.append(ServingConfig(index, key, config, resolve_format(config.format)))
    return tuple(configs)
