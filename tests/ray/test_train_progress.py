"""The train stage's progress polls on a real Ray (the session's cluster): best effort, never the reason a trial
fails."""

from __future__ import annotations

import time

import pytest

from raylife.plan import plan_trials
from raylife.records import TrialRecord
from raylife.frameworks.contract import EpochRecord
from raylife.remote.messages import FitResult, Progress
from raylife.stages import TrialContext
from raylife.stages.train import run_training
from raylife.artifacts import Location
from raylife.suite import parse_suite
from tests.conftest import MINIMAL_SUITE

pytestmark = [pytest.mark.ray, pytest.mark.timeout(120)]


class SlowToStart:
    """The trial actor's shape, with a constructor as slow as a framework import on a loaded two-core machine
    (the CI failure: a TensorFlow trial's actor still importing when the first progress poll timed out at 10 s)."""

    def __init__(self, start_s: float, fit_s: float = 0.5) -> None:
        time.sleep(start_s)
        self.started, self.fit_s = time.time(), fit_s

    def fit(self, loop, resources, storage_path, name, env_vars) -> FitResult:
        time.sleep(self.fit_s)
        return FitResult(fit_start_unix=self.started, fit_end_unix=time.time(), checkpoint="/nowhere/checkpoint",
                         epochs=(), probes=())

    def progress(self) -> Progress:
        if time.time() - self.started < 1.0:
            return Progress(0, None)
        return Progress(1, EpochRecord(epoch=0, train_loss=0.5, eval_loss=0.6, accuracy=0.875, epoch_s=1.0,
                                       elapsed_s=1.0, samples_per_s=100.0, end_unix=time.time()))


def train_with(tmp_path, start_s: float, fit_s: float = 0.5) -> tuple[FitResult, list[str]]:
    import ray

    trial = plan_trials(parse_suite(MINIMAL_SUITE + 'frameworks = ["torch"]\n'))[0]
    ctx = TrialContext(trial=trial, record=TrialRecord(run_id="progress", trial=trial),
                       storage=Location.parse(tmp_path))
    ctx._actor = ray.remote(SlowToStart).options(num_cpus=0, max_concurrency=4).remote(start_s, fit_s)
    ctx.add_cleanup(lambda: ray.kill(ctx._actor))
    seen: list[str] = []
    ctx.on_progress = seen.append
    try:
        return run_training(ctx, "train", "train", 1, None), seen
    finally:
        ctx.close()


def test_a_trial_actor_slower_to_start_than_a_poll_does_not_fail_the_fit(ray_session, tmp_path):
    started = time.monotonic()
    out, seen = train_with(tmp_path, start_s=12.0)
    assert out.checkpoint == "/nowhere/checkpoint"
    assert time.monotonic() - started >= 12.0  # it waited for the actor (any machine may be slower: no upper bound)
    assert seen == ["starting 1 worker"]  # no epoch reported, and none made up


def test_epochs_the_actor_has_seen_reach_the_progress_line(ray_session, tmp_path):
    out, seen = train_with(tmp_path, start_s=0.0, fit_s=3.0)
    assert out.checkpoint == "/nowhere/checkpoint"
    assert seen[0] == "starting 1 worker" and "epoch 1/1 · val acc 0.875" in seen
