"""Which serving configurations a trial measures, in which order: every one (grid), or those a Ray Tune search
algorithm proposes from the figures of the ones measured so far (``[serve.search]``).

Configurations are measured one at a time (latency windows never overlap), so Tune is used for what it is good at
here — proposing and recording — through its ``Searcher`` interface (``suggest`` / ``on_trial_complete``), not by
running a Tuner of its own. OptunaSearch (TPE) is the guided algorithm: it handles categorical spaces and learns from
few observations, which is what a grid of a few dozen deployments gives; ``random`` is the same searcher with a
random sampler, the baseline a guided search must beat. A proposal already measured is answered from memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from raylife.plan import Trial
from raylife.plan.serving import SearchPlan, ServingConfig
from raylife.records import TrialRecord

# Proposals answered from memory (already measured) before a guided search gives up finding a new configuration.
MAX_REPEATED_PROPOSALS = 50


class ConfigProposer:
    """Yields the configurations to measure; ``measured`` tells it each one's figures (see the module)."""

    def __init__(self, trial: Trial) -> None:
        self.configs = trial.serve_configs
        self.plan: SearchPlan = trial.serve_search or SearchPlan("grid", "max_rps_at_slo", "max", False,
                                                                 len(trial.serve_configs), (), 0)
        self.scores: dict[int, float | None] = {}
        self._pending: str | None = None
        self._searcher = self._tune_searcher() if self.plan.guided else None

    def _tune_searcher(self) -> Any:
        import optuna
        from ray import tune
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = (optuna.samplers.TPESampler(seed=self.plan.seed, n_startup_trials=min(3, self.plan.max_configs))
                   if self.plan.algorithm == "optuna" else optuna.samplers.RandomSampler(seed=self.plan.seed))
        axes = self._axes()
        # the trial's own configuration (the first) is measured first: the trial's single-deployment figures are its
        searcher = OptunaSearch(sampler=sampler, points_to_evaluate=[
            {axis: _plain(getattr(self.configs[0].spec, axis)) for axis in axes}])
        space = {axis: tune.choice(sorted({_plain(getattr(c.spec, axis)) for c in self.configs}, key=str)) for axis in axes}
        searcher.set_search_properties(metric="objective", mode=self.plan.mode, config=space)
        return searcher

    def _axes(self) -> list[str]:
        first = self.configs[0].settings()
        return [axis for axis in first if any(c.settings()[axis] != first[axis] for c in self.configs)
                and axis != "format"] + (["format"] if len({c.spec.format for c in self.configs}) > 1 else [])

    def __iter__(self) -> Iterator[ServingConfig]:
        if self._searcher is None:
            yield from self.configs[: self.plan.max_configs]
            return
        repeated, number = 0, 0
        while len(self.scores) < self.plan.max_configs and repeated < MAX_REPEATED_PROPOSALS:
            number += 1
            trial_id = f"config-{number}"
            proposal = self._searcher.suggest(trial_id)
            if proposal is None:
                return
            config = self._match(proposal)
            if config.index in self.scores:  # measured already: Tune hears the same figure again
                repeated += 1
                self._complete(trial_id, self.scores[config.index])
                continue
            self._pending = trial_id
            yield config

    def _match(self, proposal: dict[str, Any]) -> ServingConfig:
        for config in self.configs:
            spec = config.spec
            if all(_plain(getattr(spec, axis)) == value for axis, value in proposal.items()):
                return config
        raise ValueError(f"Tune proposed a serving configuration outside the grid: {proposal}")

    def _complete(self, trial_id: str, score: float | None) -> None:
        if score is None:
            self._searcher.on_trial_complete(trial_id, result=None, error=True)  # Optuna records it as failed
        else:
            self._searcher.on_trial_complete(trial_id, result={"objective": score})

    def best(self, top: int) -> list[tuple[float, ServingConfig]]:
        """The ``top`` best configurations measured, by score, best first (those without a score left out)."""
        scored = [(score, self.configs[index]) for index, score in self.scores.items() if score is not None]
        scored.sort(key=lambda pair: pair[0], reverse=self.plan.mode == "max")
        return scored[:top]

    def measured(self, config: ServingConfig, figures: dict[str, float | None]) -> float | None:
        """One configuration's figures are in: its score (None: failed, a limit broken, or the figure missing)."""
        score = self.plan.score(figures, config.spec.most_replicas * config.spec.cpus_per_replica)
        self.scores[config.index] = score
        if self._searcher is not None and self._pending is not None:
            self._complete(self._pending, score)
            self._pending = None
        return score


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def config_figures(record: TrialRecord, config: ServingConfig, prices: dict[str, float], gpu: bool) -> dict[str, float | None]:
    """The headline figures of one configuration from what its stages stored (as the ``serving_configs`` view
    computes them): latency at the smallest batch and concurrency, peak rates, max_rps_at_slo, replica memory, cost."""
    mine = [m for m in record.measurements if m.labels.get("config") == config.key]

    def one(stage: str, metric: str, **labels: Any) -> float | None:
        found = [m.value for m in mine if m.stage == stage and m.metric == metric and m.value is not None
                 and all(m.labels.get(k) == v for k, v in labels.items())]
        return max(found) if found else None

    cells = [m for m in mine if m.stage == "serve" and m.labels.get("path") == "http" and "batch_size" in m.labels]
    small = min(((m.labels["batch_size"], m.labels["concurrency"]) for m in cells), default=None)

    def at_small(metric: str) -> float | None:
        values = [m.value for m in cells if m.metric == metric and m.value is not None
                  and (m.labels["batch_size"], m.labels["concurrency"]) == small]
        return sum(values) / len(values) if values else None

    def peak(metric: str) -> float | None:
        values = [m.value for m in cells if m.metric == metric and m.value is not None]
        return max(values) if values else None

    samples = peak("samples_per_s")
    spec = config.spec
    per_s = (spec.replicas * spec.cpus_per_replica * prices.get("cpu_hour_usd", 0.0)
             + (spec.replicas * spec.gpus_per_replica * prices.get("gpu_hour_usd", 0.0) if gpu else 0.0)) / 3600
    replica_rss = [m.value for m in mine if m.stage == "deploy" and m.metric == "replica_rss_mb"
                   and "replica" not in m.labels and m.value is not None]
    return {
        "p50_ms_small": at_small("p50_ms"), "p99_ms_small": at_small("p99_ms"), "peak_samples_per_s": samples,
        "peak_throughput_rps": peak("throughput_rps"), "max_rps_at_slo": one("load", "max_rps_at_slo"),
        "deploy_ready_s": one("deploy", "deploy_ready_s"), "replica_rss_mb": max(replica_rss) if replica_rss else None,
        # autoscaled: no one replica count prices a prediction (its replica_seconds under the load do)
        "usd_per_million_predictions": per_s / samples * 1e6 if samples and spec.autoscaling is None else None,
    }
