"""The side-by-side bookkeeping (used as a Ray actor; plain Python here): who ran beside a stage, the serving gate."""

from __future__ import annotations

import threading
import time

from raylife.runner.neighbours import Alone, Coordinator, Event


def test_trials_beside_counts_every_other_trial_active_during_the_window():
    c = Coordinator(serving_slots=1)
    c.intervals = {0: [10.0, 20.0], 1: [15.0, None], 2: [21.0, 30.0], 3: [0.0, 5.0]}
    assert c.beside(0, 12.0, 18.0) == 1  # trial 1 started at 15 and still runs; 2 and 3 do not overlap
    assert c.beside(0, 12.0, 25.0) == 2
    assert c.beside(1, 16.0, 17.0) == 1  # itself never counts
    assert c.beside(2, 40.0, 50.0) == 1  # trial 1 has not finished


def test_the_serving_gate_lets_one_trial_in_at_a_time():
    c = Coordinator(serving_slots=1)
    c.enter_serving(0)
    entered = threading.Event()
    waiter = threading.Thread(target=lambda: (c.enter_serving(1), entered.set()))
    waiter.start()
    time.sleep(0.2)
    assert not entered.is_set()  # the second trial waits while the first serves
    c.leave_serving(0)
    waiter.join(5)
    assert entered.is_set()


def test_records_are_handed_over_once_and_events_come_out_in_time_order():
    c = Coordinator(serving_slots=2)
    c.put_record(3, "record")
    assert c.take_record(3) == "record" and c.take_record(3) is None
    c.event(Event(1, "stage_started", "train", at=2.0))
    c.event(Event(1, "trial_started", at=1.0))
    assert [e.kind for e in c.drain()] == ["trial_started", "stage_started"]
    assert c.drain() == []


def test_alone_has_no_neighbours():
    assert Alone().beside(0, 0.0, 1e9) == 0
