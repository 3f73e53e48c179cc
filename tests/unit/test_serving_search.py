"""[serve.search]: which serving configurations a trial measures. The proposer on its own, fed figures of a known
landscape (no Ray cluster: Tune's OptunaSearch is a library here); the measured search: benchmarks/serving_search.py."""

from __future__ import annotations

import pytest

from raylife.errors import RaylifeError
from raylife.plan import plan_trials
from raylife.runner.serving_search import ConfigProposer
from raylife.suite import parse_suite

GRID = """name = "search"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["torch"]
[serve]
replicas = [1, 2, 3]
max_batch_size = [1, 4, 8, 16]
max_ongoing_requests = [8, 32]
cpus_per_replica = 0.25
[load]
slo_p99_ms = 100
rates = [10]
"""


def landscape(config) -> dict[str, float]:
    """A made-up figure with one best configuration: more replicas and mid-sized batches serve more."""
    spec = config.spec
    rate = 100 * spec.replicas * (1 + min(spec.max_batch_size, 8) / 8) - (5 if spec.max_ongoing_requests == 8 else 0)
    return {"max_rps_at_slo": rate, "p99_ms_small": 10.0 * spec.max_batch_size}


def run(text: str) -> tuple[list, ConfigProposer]:
    [trial] = plan_trials(parse_suite(text))
    proposer = ConfigProposer(trial)
    order = []
    for config in proposer:
        order.append(config)
        proposer.measured(config, landscape(config))
    return order, proposer


def test_grid_measures_every_configuration_in_order_up_to_max_configs():
    order, _ = run(GRID)
    assert [c.index for c in order] == list(range(24))
    order, _ = run(GRID + "[serve.search]\nmax_configs = 5\n")
    assert [c.index for c in order] == list(range(5))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_guided_search_measures_under_a_third_and_starts_with_the_trials_own(seed):
    order, proposer = run(GRID + f'[serve.search]\nalgorithm = "optuna"\nseed = {seed}\n')
    assert len(order) == 7 == len({c.index for c in order})  # 30% of 24, each measured once
    assert order[0].index == 0  # the trial's own configuration first
    best = max(landscape(c)["max_rps_at_slo"] for c in order)
    assert best >= 0.5 * 600  # it climbs: the grid's best is 600 (the benchmark checks within 10%, measured)


def test_constraints_and_per_cpu_shape_the_score():
    [trial] = plan_trials(parse_suite(GRID + '[serve.search]\nalgorithm = "random"\nper_cpu = true\n'
                                             'constraints = { p99_ms_small = "0.1s" }\n'))
    proposer = ConfigProposer(trial)
    small, big = trial.serve_configs[0], trial.serve_configs[-1]  # r1-mb1-mo8, r3-mb16-mo32
    assert proposer.measured(small, landscape(small)) == pytest.approx(107.5 / 0.25)  # per replica CPU
    assert proposer.measured(big, landscape(big)) is None  # p99 160 ms > 100 ms: it scores nothing
    assert proposer.plan.broken(landscape(big)) == "p99_ms_small 160 > 100"


@pytest.mark.parametrize("extra, message", [
    ('[serve.search]\nobjective = "speed"\n', "'speed' names no serving figure"),
    ('[serve.search]\nconstraints = { p99_ms_small = "5kg" }\n', "unit 'kg' does not fit p99_ms_small"),
])
def test_bad_searches_fail_in_one_line(extra, message):
    with pytest.raises(RaylifeError) as info:
        plan_trials(parse_suite(GRID + extra, "s.toml"), "s.toml")
    assert message in str(info.value)


def test_a_search_needs_lists_and_max_rps_at_slo_needs_the_open_loop():
    single = GRID.replace("replicas = [1, 2, 3]\nmax_batch_size = [1, 4, 8, 16]\nmax_ongoing_requests = [8, 32]\n", "")
    with pytest.raises(RaylifeError, match="nothing to choose among"):
        plan_trials(parse_suite(single + "[serve.search]\n", "s.toml"), "s.toml")
    no_load = GRID.split("[load]")[0]
    with pytest.raises(RaylifeError, match="max_rps_at_slo needs the open-loop sweep"):
        plan_trials(parse_suite(no_load + '[serve.search]\nalgorithm = "optuna"\n', "s.toml"), "s.toml")


def test_the_best_configurations_come_back_best_first():
    from raylife.plan import plan_trials
    from raylife.runner.serving_search import ConfigProposer
    from raylife.suite import parse_suite
    from tests.conftest import MINIMAL_SUITE

    text = MINIMAL_SUITE + 'frameworks = ["torch"]\n[serve]\nmax_batch_size = [1, 2, 4, 8]\n[serve.search]\nobjective = "peak_samples_per_s"\n'
    [trial] = plan_trials(parse_suite(text))
    assert trial.serve_search.confirm_top == 3
    proposer = ConfigProposer(trial)
    for config, figure in zip(proposer, (10.0, 40.0, None, 30.0)):
        proposer.measured(config, {"peak_samples_per_s": figure})
    assert [(score, c.key) for score, c in proposer.best(3)] == [(40.0, "mb2"), (30.0, "mb8"), (10.0, "mb1")]
