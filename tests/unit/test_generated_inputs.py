"""Random inputs are generated on demand: a split of any size holds a small pool, and reads like an array."""

from __future__ import annotations

import time

import numpy as np
import pytest

from raylife.errors import SuiteError
from raylife.frameworks.worker import epoch_order, steps_order
from raylife.clients.requests import BODY_BUDGET_BYTES, RequestSet
from raylife.plan import plan_trials
from raylife.suite import parse_suite
from raylife.workloads import WORKLOADS
from raylife.workloads.generated import POOL_BYTES, GeneratedInputs


def test_generated_inputs_index_like_an_array_from_a_bounded_pool():
    x = GeneratedInputs(1_000_000, (224, 224, 3), "float32", seed=1)  # 602 GB if it were an array
    assert x.shape == (1_000_000, 224, 224, 3) and len(x) == 1_000_000 and x.dtype == np.float32 and x.ndim == 4
    assert x.pool.nbytes <= POOL_BYTES and len(x.pool) >= 8
    rows = x[np.array([0, 5, 999_999, 5])]
    assert rows.shape == (4, 224, 224, 3) and rows.dtype == np.float32
    np.testing.assert_array_equal(rows[1], rows[3])  # the same row twice is the same input
    np.testing.assert_array_equal(x[3:7], x[np.arange(3, 7)])
    np.testing.assert_array_equal(x[-1], x[999_999])
    assert 0.0 <= float(rows.min()) and float(rows.max()) < 1.0
    with pytest.raises(IndexError):
        x[np.array([1_000_000])]
    with pytest.raises(IndexError):
        x[1_000_000]
    np.testing.assert_array_equal(GeneratedInputs(10, (3,), "int64", seed=2, high=7)[:], np.asarray(GeneratedInputs(10, (3,), "int64", seed=2, high=7)))
    assert np.asarray(GeneratedInputs(10, (3,), "int64", seed=2, high=7)).max() < 7


def test_a_reference_scale_random_data_set_loads_in_moments_and_splits_five_ways():
    facts_options = {"shape": [224, 224, 3], "classes": 1000, "samples": 1_000_000}
    started = time.perf_counter()
    splits = WORKLOADS.get("vision").load_splits("random", seed=0, options=facts_options)
    assert time.perf_counter() - started < 5
    assert sum(splits.sizes().values()) == 1_000_000 and splits.input_shape == (224, 224, 3)
    assert all(isinstance(x, GeneratedInputs) for x, _ in splits.arrays.values())
    assert not splits.facts.measures_quality and splits.num_classes == 1000
    # the same seed gives the same rows in every process
    again = WORKLOADS.get("vision").load_splits("random", seed=0, options=facts_options)
    np.testing.assert_array_equal(splits["train"][0][[7, 8]], again["train"][0][[7, 8]])
    np.testing.assert_array_equal(splits["test"][1], again["test"][1])
    tiny = WORKLOADS.get("text").load_splits("random", seed=0, options={"samples": 4, "shape": [8], "high": 50})
    assert sorted(tiny.sizes().values()) == [1, 1, 1, 1]  # no minimum of 40 any more: one row per split


def test_steps_cycle_each_ranks_epoch_orders():
    order = steps_order(10, seed=0, rank=1, world=2, steps=7, batch=2)
    assert len(order) == 14
    np.testing.assert_array_equal(order[:5], epoch_order(10, 0, 0, 1, 2))
    np.testing.assert_array_equal(order[5:10], epoch_order(10, 0, 1, 1, 2))
    with pytest.raises(ValueError, match="none to train on"):
        steps_order(1, seed=0, rank=0, world=2, steps=1, batch=1)


def test_request_bodies_stop_at_their_budget():
    x = GeneratedInputs(400, (224, 224, 3), "float32", seed=0)
    y = np.zeros(400, dtype=np.int64)
    requests = RequestSet(x, y, y, batch_size=8)
    assert 1 <= len(requests.bodies) < 400 / 8
    assert sum(len(b) for b in requests.bodies) <= 1.5 * BODY_BUDGET_BYTES
    small = RequestSet(np.zeros((40, 4), dtype=np.float32), np.zeros(40, dtype=np.int64), np.zeros(40, dtype=np.int64), 4)
    assert len(small.bodies) == 10  # small inputs: a window per batch of the test split, as before


def test_steps_replace_epochs_and_cannot_go_with_them():
    base = 'name = "s"\nworkload = "vision"\n[[models]]\nname = "cnn_small"\nframeworks = ["torch"]\n'
    [trial] = plan_trials(parse_suite(base + "[train]\nsteps = 3\n", "s.toml"), "s.toml")
    assert trial.steps == 3 and trial.epochs == 1
    with pytest.raises(SuiteError, match=r"give steps or epochs, not both \(steps = 3, epochs = \[2\]\)"):
        parse_suite(base + "[train]\nsteps = 3\nepochs = 2\n", "s.toml")
