"""Reference models on random inputs generated on demand, bounded by steps: speed, memory, checkpoint and serving
figures at the real shape, and no quality metric at all. The default test runs the path at a small shape in PyTorch
(the cluster lane's last run); the slow one is ResNet-50 at ImageNet's shape in both frameworks."""

from __future__ import annotations

import pytest

from raylife.measure.metrics import CATALOGUE
from tests.ray.helpers import rows, submit
from tests.ray.runs import RANDOM_STEPS_BATCH, RANDOM_STEPS_STEPS, random_steps_suite

pytestmark = pytest.mark.ray
QUALITY = {m.name for m in CATALOGUE if m.quality}


def check_random_run(db, published: int, steps: int, batch: int, max_unaccounted: float | None = None,
                     frameworks: tuple[str, ...] = ("tensorflow", "torch")) -> None:
    trials = rows(db, "SELECT name, framework, status, error FROM trials ORDER BY framework")
    assert [(t["framework"], t["status"]) for t in trials] == [(f, "ok") for f in sorted(frameworks)], trials
    stored = {r["metric"] for r in rows(db, "SELECT DISTINCT metric FROM measurements")}
    assert stored & QUALITY == set()  # nothing to be right about: no accuracy of any kind, no time to target
    for t in rows(db, "SELECT trial, params, train_samples_per_s, p50_ms_small, native_bytes, quality_measured "
                      "FROM lifecycle"):
        assert t["params"] == published, t
        assert t["train_samples_per_s"] > 0 and t["p50_ms_small"] > 0 and t["native_bytes"] > 4 * published
        assert t["quality_measured"] == 0
    # the one checkpoint of each fit: its bytes hold every weight, and the loop was blocked while it was written
    costs = rows(db, "SELECT t.framework, m.metric, m.value FROM measurements m JOIN trials t USING (trial_id) "
                     "WHERE m.stage = 'train' AND m.metric IN ('checkpoint_bytes', 'checkpoint_stall_s')")
    assert sorted((c["framework"], c["metric"]) for c in costs) == [
        (f, m) for f in sorted(frameworks) for m in ("checkpoint_bytes", "checkpoint_stall_s")]
    assert all(c["value"] > 4 * published for c in costs if c["metric"] == "checkpoint_bytes")
    assert all(c["value"] > 0 for c in costs if c["metric"] == "checkpoint_stall_s")
    epochs = rows(db, "SELECT e.epoch, e.samples_per_s * e.epoch_s AS samples, e.accuracy, e.eval_loss "
                      "FROM epochs e JOIN trials t USING (trial_id) WHERE e.phase = 'train'")
    assert len(epochs) == len(frameworks) and all(e["epoch"] == 0 for e in epochs)  # steps: one epoch per trial
    assert all(e["samples"] == pytest.approx(steps * batch) for e in epochs)  # exactly steps global batches
    assert all(e["accuracy"] is None and e["eval_loss"] is None for e in epochs)
    # every second of the stages with named parts is a named part or shown as unaccounted_s
    holes = rows(db, "SELECT t.framework, w.stage, w.value AS wall, u.value AS rest FROM measurements w "
                     "JOIN measurements u ON u.trial_id = w.trial_id AND u.stage = w.stage AND u.metric = 'unaccounted_s' "
                     "JOIN trials t ON t.trial_id = w.trial_id WHERE w.metric = 'stage_wall_s'")
    assert {(h["framework"], h["stage"]) for h in holes} == {
        (f, s) for f in frameworks for s in ("train", "evaluate", "persist", "deploy")}
    assert all(h["rest"] >= -0.05 for h in holes), holes  # parts never add up to more than the stage
    if max_unaccounted is not None:
        assert all(h["rest"] <= max_unaccounted * h["wall"] for h in holes), holes


@pytest.mark.slow  # ~32 CPU-seconds of the default run's ~1,100; MobileNetV3 itself: tests/frameworks
def test_a_reference_model_on_random_inputs_trains_by_steps_and_stores_no_quality(random_steps_run):
    result, db = random_steps_run.result, random_steps_run.db
    assert result.returncode == 0, result.stdout + result.stderr
    assert "random inputs" in result.stdout  # the summary's accuracy column says why it is empty
    # MobileNetV3-Large at 1,000 classes, PyTorch (tests/ray/runs.py: RANDOM_STEPS)
    check_random_run(db, 5_483_032, RANDOM_STEPS_STEPS, RANDOM_STEPS_BATCH, frameworks=("torch",))
    uploads = rows(db, "SELECT framework, json_extract_string(params, '$.checkpoint_upload') AS upload FROM trials")
    assert [(u["framework"], u["upload"]) for u in uploads] == [("torch", "async")]


@pytest.mark.slow  # TensorFlow's side of the default run's RANDOM_STEPS (78 of its 119 CPU-seconds), on an embedded Ray
def test_a_reference_model_on_random_inputs_in_tensorflow_with_checkpoints_uploaded_in_the_background(tmp_path):
    suite = tmp_path / "random-steps-tensorflow.toml"
    suite.write_text(random_steps_suite("random-steps-tensorflow", "mobilenet_v3_large", [32, 32, 3], samples=64,
                                        steps=RANDOM_STEPS_STEPS, batch=RANDOM_STEPS_BATCH, batch_sizes=[1], requests=10,
                                        port=8145, upload="async", frameworks=("tensorflow",)))
    result = submit(suite, tmp_path / "r.duckdb", tmp_path / "artifacts")
    assert result.returncode == 0, result.stdout + result.stderr
    check_random_run(tmp_path / "r.duckdb", 5_483_032, RANDOM_STEPS_STEPS, RANDOM_STEPS_BATCH, frameworks=("tensorflow",))


IMAGENET_SHAPED = random_steps_suite("imagenet-shaped-resnet50", "resnet50", [224, 224, 3], samples=40, steps=2,
                                     batch=4, batch_sizes=[1], requests=10, port=8134)


@pytest.mark.slow  # ResNet-50 at 224x224 through the whole lifecycle in both frameworks: minutes on 2 cores
def test_resnet50_at_imagenet_shape_on_random_inputs(tmp_path):
    suite = tmp_path / "imagenet-shaped.toml"
    suite.write_text(IMAGENET_SHAPED)
    result = submit(suite, tmp_path / "r.duckdb", tmp_path / "artifacts", timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    check_random_run(tmp_path / "r.duckdb", 25_557_032, 2, 4, max_unaccounted=0.10)
