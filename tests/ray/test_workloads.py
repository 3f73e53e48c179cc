"""Workloads on a real local Ray: a user's own model from outside the package, random inputs, and each
domain's default data being learnable (accuracy well above the majority-class baseline)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from tests.ray.helpers import metric, rows, submit

pytestmark = [pytest.mark.ray, pytest.mark.timeout(900)]

USER_MODELS = '''
"""A user's own models, in a module raylife has never heard of."""


def torch_mlp(input_shape, num_classes, hidden=16):
    from torch import nn

    return nn.Sequential(nn.Linear(input_shape[0], hidden), nn.Tanh(), nn.Linear(hidden, num_classes))


def keras_mlp(input_shape, num_classes, hidden=16):
    import tensorflow as tf

    return tf.keras.Sequential([
        tf.keras.layers.Input(shape=tuple(input_shape)),
        tf.keras.layers.Dense(hidden, activation="tanh"),
        tf.keras.layers.Dense(num_classes),
    ])
'''


@pytest.mark.slow  # 3.5 min: both frameworks through every stage; the smoke test covers the lifecycle by default
def test_a_user_model_from_outside_the_package_runs_the_whole_lifecycle(tmp_path):
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "my_models.py").write_text(USER_MODELS)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 4))
    lines = ["a,b,c,d,outcome"] + [f"{a:.4f},{b:.4f},{c:.4f},{d:.4f},{'up' if a + b > 0 else 'down'}" for a, b, c, d in features]
    (project / "rows.csv").write_text("\n".join(lines) + "\n")
    suite = project / "mine.toml"
    suite.write_text(textwrap.dedent("""
        name = "mine"
        workload = "tabular"
        [data]
        format = "csv"
        path = "rows.csv"                     # relative to this file
        options = { label_column = "outcome" }
        [[models]]
        name = "my_mlp"
        builders = { torch = "my_models:torch_mlp", tensorflow = "my_models:keras_mlp" }
        options = { hidden = 16 }
        [train]
        epochs = 15
        batch_size = 32
        learning_rate = 0.01
        retrain_epochs = 1
        [persist]
        formats = { torch = ["native", "onnx"], tensorflow = ["native", "savedmodel"] }
        [serve]
        batch_sizes = [4]
        concurrency = [1]
        requests = 10
        warmup_requests = 2
        [update]
        strategies = ["reconfigure"]
        before_s = 0.5
        settle_s = 0.3
        [run]
        python_path = ["models"]              # where my_models.py lives, relative to this file
    """))
    db = tmp_path / "mine.duckdb"
    result = submit(suite, db, tmp_path / "artifacts")
    assert result.returncode == 0, result.stdout + result.stderr
    trials = rows(db, "SELECT trial, framework, status, accuracy, params, served_accuracy FROM lifecycle ORDER BY framework")
    assert [(t["framework"], t["status"]) for t in trials] == [("tensorflow", "ok"), ("torch", "ok")]
    for t in trials:
        assert t["params"] == 4 * 16 + 16 + 16 * 2 + 2
        assert t["accuracy"] > 0.85
        assert t["served_accuracy"] == metric(db, t["trial"], "serve", "offline_accuracy")[0]["value"]
    [dataset] = {r["dataset"] for r in rows(db, "SELECT dataset FROM trials")}
    assert dataset == f"csv:{project}/rows.csv"


@pytest.mark.slow  # minutes of a real run; the random-data path is also planned and loaded in tests/unit
def test_random_inputs_record_that_no_accuracy_was_measured(write_suite, tmp_path):
    suite = write_suite("""
        name = "speed"
        workload = "vision"
        [data]
        dataset = "random"
        options = { shape = [16, 16, 3], samples = 256 }
        [[models]]
        name = "cnn_small"
        frameworks = ["torch"]
        [train]
        epochs = 1
        retrain_epochs = 0
    """)
    db = tmp_path / "speed.duckdb"
    result = submit(suite, db, tmp_path / "artifacts")
    assert result.returncode == 0, result.stdout + result.stderr
    [row] = rows(db, "SELECT trial, accuracy, time_to_target_s, flops_per_sample, train_samples_per_s FROM lifecycle")
    assert row["accuracy"] is None and row["time_to_target_s"] is None
    assert row["flops_per_sample"] > 0 and row["train_samples_per_s"] > 0  # speed is still measured
    [flag] = metric(db, row["trial"], "evaluate", "quality_measured")
    assert flag["value"] == 0 and "random inputs" in flag["labels"]


@pytest.mark.slow  # 2.3 min: four trained models; quality per domain is also checked by the shipped suites
def test_each_domain_default_data_beats_its_baseline(write_suite, tmp_path):
    suite = write_suite("""
        name = "domains"
        workload = "tabular"
        [[models]]
        name = "mlp"
        frameworks = ["torch"]
        train = { epochs = 10, batch_size = 32 }
        [[models]]
        name = "mf"
        workload = "recommendation"
        frameworks = ["torch"]
        train = { epochs = 6, batch_size = 256, learning_rate = 0.01 }
        [[models]]
        name = "transformer"
        workload = "text"
        frameworks = ["torch"]
        data = { dataset = "sentiment", options = { samples = 3000 } }
        train = { epochs = 6, batch_size = 64, learning_rate = 0.002 }
        [[models]]
        name = "cnn"
        workload = "audio"
        frameworks = ["torch"]
        data = { dataset = "keywords", options = { samples = 1200 } }
        train = { epochs = 6, batch_size = 32, learning_rate = 0.003 }
        [train]
        retrain_epochs = 0
    """)
    db = tmp_path / "domains.duckdb"
    result = submit(suite, db, tmp_path / "artifacts")
    assert result.returncode == 0, result.stdout + result.stderr
    found = {r["workload"]: r for r in rows(db, "SELECT workload, accuracy, baseline_accuracy FROM lifecycle")}
    assert set(found) == {"tabular", "recommendation", "text", "audio"}
    for workload, row in found.items():
        assert row["accuracy"] >= row["baseline_accuracy"] + 0.2, (workload, row)
