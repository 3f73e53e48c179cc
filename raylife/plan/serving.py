"""Serving configurations: the combinations of the [serve] settings given as lists, measured in turn inside one trial
on its one trained model (deploy, measure, delete, then the next), never by another training."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raylife.measure.limits import better
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
        scaling = self.spec.autoscaling
        return ({axis: getattr(self.spec, axis) for axis in SERVE_AXES} | {"format": self.format}
                | {"autoscaling": scaling.key if scaling else None,
                   "replicas": None if scaling else self.spec.replicas})

    def as_params(self) -> dict[str, Any]:
        return {"index": self.index, "key": self.key, **self.settings()}


def serving_configs(spec: ServeSpec, resolve_format: Callable[[str], str]) -> tuple[ServingConfig, ...]:
    """The configurations of a [serve] table, the first one the trial's own; () when every setting is one value."""
    axes = spec.axes()
    if not axes and not spec.has_baseline:
        return ()
    configs = []
    for index, config in enumerate(spec.configs()):
        parts = [f"{KEY_TAGS[axis]}{getattr(config, axis):g}" if not isinstance(getattr(config, axis), str)
                 else f"{KEY_TAGS[axis]}{getattr(config, axis)}" for axis in axes]
        if spec.has_baseline:  # autoscaled, or the fixed-replica baseline beside it
            parts.insert(0, config.autoscaling.key if config.autoscaling else f"r{config.replicas}")
        configs.append(ServingConfig(index, "-".join(parts), config, resolve_format(config.format)))
    return tuple(configs)


# The figures a search may optimise (the serving_configs view's columns), each with its better side as the metric
# catalogue says (measure.limits.better: +1 higher is better).
FIGURES = ("max_rps_at_slo", "peak_samples_per_s", "peak_throughput_rps", "p50_ms_small", "p99_ms_small",
           "usd_per_million_predictions", "replica_rss_mb", "deploy_ready_s")
FIGURE_MODES = {figure: "max" if better(figure) > 0 else "min" for figure in FIGURES}
GUIDED_SHARE = 0.3  # a guided search measures at most this share of the grid unless max_configs says otherwise


@dataclass(frozen=True)
class SearchPlan:
    """How a trial chooses the serving configurations it measures (``[serve.search]``, resolved)."""

    algorithm: str  # grid | optuna | random
    objective: str
    mode: str  # max | min
    per_cpu: bool
    max_configs: int
    limits: tuple[tuple[str, float], ...]  # (figure, upper limit in the figure's unit)
    seed: int
    confirm_top: int = 0  # the best this many measured again, in fresh windows, before naming the best

    @property
    def guided(self) -> bool:
        return self.algorithm != "grid"

    def score(self, figures: dict[str, float | None], cpus: float) -> float | None:
        """The objective of one measured configuration; None where a limit is broken or the figure is missing."""
        if self.broken(figures) or figures.get(self.objective) is None:
            return None
        value = float(figures[self.objective])
        return value / cpus if self.per_cpu and cpus > 0 else value

    def broken(self, figures: dict[str, float | None]) -> str | None:
        """The first limit a configuration's figures break, said in one line; None while none is."""
        for name, limit in self.limits:
            value = figures.get(name)
            if value is not None and value > limit:
                return f"{name} {value:.4g} > {limit:.4g}"
        return None

    def as_params(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "objective": self.objective, "mode": self.mode, "per_cpu": self.per_cpu,
                "max_configs": self.max_configs, "limits": dict(self.limits), "seed": self.seed,
                "confirm_top": self.confirm_top}


def search_plan(spec: ServeSpec, configs: int, where: str, has_load: bool) -> SearchPlan:
    """[serve.search] resolved for a grid of ``configs`` configurations; PlanError for what can never work."""
    import math

    from raylife.measure.limits import parse_limit  # noqa: PLC0415 - kept beside its one use
    from raylife.errors import PlanError, RaylifeError

    search = spec.search
    if search is None:
        return SearchPlan("grid", "max_rps_at_slo", "max", False, configs, (), 0)
    if search.objective == "max_rps_at_slo" and not has_load:
        raise PlanError("the search objective max_rps_at_slo needs the open-loop sweep", where=f"{where}.objective",
                        hint="add a [load] table, or choose another objective (e.g. peak_samples_per_s)")
    limits = []
    for name, value in search.constraints.items():
        try:
            limit = parse_limit(f"{name}={value}", "max")
        except RaylifeError as exc:
            raise PlanError(f"constraint {name} = {value!r}: {exc.what}", where=f"{where}.constraints.{name}",
                            hint=exc.hint or "give a number with a unit, e.g. \"50ms\"") from None
        limits.append((name, limit.value))
    default = configs if search.algorithm == "grid" else max(1, math.floor(GUIDED_SHARE * configs))
    return SearchPlan(search.algorithm, search.objective, search.mode or FIGURE_MODES[search.objective], search.per_cpu,
                      min(configs, search.max_configs or default), tuple(limits), search.seed,
                      search.confirm_top if configs > 1 else 0)
