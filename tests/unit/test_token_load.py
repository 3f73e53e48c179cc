"""Closed-loop token load (raylife/clients/token_load.py): every prompt sent once by N streams, and the per-cell
figures (TTFT, ITL, TPOT, E2E at p50/p90/p99; output tokens/s in total and per user) from known records."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from raylife.clients.streaming import StreamRecord
from raylife.clients.token_load import Tail, closed_loop, concurrency_sweep, summarize


def record(ttft: float, gaps: list[float], ok: bool = True) -> StreamRecord:
    return StreamRecord(ok=ok, error=None if ok else "HTTP 500: boom", input_tokens=4,
                        token_ids=tuple(range(len(gaps) + 1)) if ok else (), ttft_s=ttft if ok else None,
                        itl_s=tuple(gaps) if ok else (), e2e_s=ttft + sum(gaps), version="v1", replica="r",
                        finish_reason="length" if ok else None)


def test_a_cell_summarises_its_streams_as_llm_benchmarks_do():
    records = [record(0.1, [0.02, 0.02, 0.02]), record(0.3, [0.04, 0.04, 0.04]), record(0.0, [], ok=False)]
    cell = summarize(records, concurrency=2, wall_s=2.0)
    assert (cell.requests, cell.failed, cell.output_tokens) == (3, 1, 8)
    assert cell.ttft == Tail(*np.percentile([100, 300], [50, 90, 99]))
    assert cell.itl.p50 == pytest.approx(30.0) and cell.tpot.p50 == pytest.approx(30.0)  # gaps of 20 and 40 ms
    assert cell.e2e.p99 == pytest.approx(np.percentile([160, 420], 99))
    assert cell.output_tokens_per_s == 4.0  # 8 tokens in 2 s
    assert cell.output_tokens_per_s_per_user == pytest.approx(1 / 0.03)  # the median stream: one token per 30 ms
    empty = summarize([record(0.0, [], ok=False)], 1, 1.0)
    assert empty.ttft == Tail(None, None, None) and empty.output_tokens_per_s_per_user is None


def test_the_closed_loop_sends_every_prompt_once_with_at_most_n_in_flight():
    in_flight, most, lock, seen = [0], [0], threading.Lock(), []

    def send(prompt):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            seen.append(prompt)
        time.sleep(0.01)
        with lock:
            in_flight[0] -= 1
        return record(0.01, [0.001])

    records, wall = closed_loop(send, [f"p{i}" for i in range(10)], concurrency=3)
    assert sorted(seen) == sorted(f"p{i}" for i in range(10)) and len(records) == 10 and wall > 0
    assert most[0] <= 3
    cells = concurrency_sweep(send, ["a", "b"], levels=[1, 2], requests_per_stream=2)
    assert [(c.concurrency, c.requests, c.output_tokens) for c in cells] == [(1, 2, 4), (2, 4, 8)]


def test_the_open_loop_sends_on_schedule_and_counts_a_wait_for_a_slot_in_ttft():
    from raylife.clients.token_load import open_loop

    def send(prompt):
        time.sleep(0.2)  # the server: 0.2 s to the first and only token
        return record(0.2, [])

    # four requests due together, two slots: the second pair waits for a slot (at least one send), and that wait is
    # latency
    sent, wall = open_loop(send, ["a"], [0.0, 0.0, 0.0, 0.0], max_concurrency=2)
    assert [s.due_s for s in sent] == [0.0] * 4 and wall >= 0.4
    lags = sorted(s.lag_s for s in sent)
    assert lags[2] >= lags[0] + 0.2 - 1e-3  # the third left only when one of the first two had been answered
    assert all(s.record.ttft_s == pytest.approx(0.2 + s.lag_s) for s in sent)
    assert all(s.record.e2e_s == pytest.approx(0.2 + s.lag_s) for s in sent)


def test_without_a_cap_a_later_arrival_is_not_held_up_by_an_earlier_one():
    from raylife.clients.token_load import open_loop

    second_started = threading.Event()
    overlapped = []

    def send(prompt):
        if prompt == "first":  # answers only once the second request is in flight (or gives up after 30 s)
            overlapped.append(second_started.wait(timeout=30))
        else:
            second_started.set()
        return record(0.01, [])

    sent, _ = open_loop(send, ["first", "second"], [0.0, 0.01])
    assert overlapped == [True] and [s.due_s for s in sent] == [0.0, 0.01]


def test_poisson_arrivals_are_exactly_as_many_as_asked_at_the_rate():
    from raylife.clients.token_load import poisson_arrivals

    times = poisson_arrivals(4.0, 2000, seed=1)
    assert len(times) == 2000 and times[0] == 0 and np.all(np.diff(times) > 0)
    assert 1999 / times[-1] == pytest.approx(4.0, rel=0.1)  # mean gap 1 / rate
    assert np.array_equal(times, poisson_arrivals(4.0, 2000, seed=1))  # seeded: a rerun sends the same schedule
