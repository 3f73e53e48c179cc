"""The DuckDB schema: long-format measurements (a new metric needs no migration) and wide views for people.

Bump SCHEMA_VERSION and append to MIGRATIONS for every change to the tables; views are recreated on open.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

TABLES = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    suite VARCHAR NOT NULL,
    description VARCHAR,
    suite_path VARCHAR,
    spec_toml VARCHAR,
    submitted_at TIMESTAMP,
    finished_at TIMESTAMP,
    status VARCHAR,              -- running | ok | failed | interrupted
    trials INTEGER,
    failed_trials INTEGER,
    ray_address VARCHAR,         -- 'local' for the embedded cluster
    cluster JSON,                -- nodes and total resources when the run started
    ray_start_s DOUBLE,          -- ray.init until the cluster answered
    wall_s DOUBLE,
    raylife_version VARCHAR,
    git_commit VARCHAR
);

CREATE TABLE IF NOT EXISTS trials (
    trial_id VARCHAR PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    idx INTEGER,
    name VARCHAR,
    workload VARCHAR,
    model VARCHAR,
    framework VARCHAR,
    dataset VARCHAR,
    device VARCHAR,
    num_workers INTEGER,
    params JSON,
    status VARCHAR,              -- ok | failed
    error VARCHAR,
    traceback VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    wall_s DOUBLE
);

CREATE TABLE IF NOT EXISTS environments (
    trial_id VARCHAR PRIMARY KEY,
    hostname VARCHAR,
    cpu VARCHAR,
    cpu_count INTEGER,
    gpu VARCHAR,
    gpu_count INTEGER,
    memory_gb DOUBLE,
    os VARCHAR,
    python VARCHAR,
    ray VARCHAR,
    torch VARCHAR,
    tensorflow VARCHAR,
    keras VARCHAR,
    versions JSON,
    nodes INTEGER,
    cluster_cpus DOUBLE,
    cluster_gpus DOUBLE,
    cluster_memory_gb DOUBLE
);

CREATE TABLE IF NOT EXISTS measurements (
    trial_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    value DOUBLE,
    unit VARCHAR NOT NULL,
    labels JSON
);

CREATE TABLE IF NOT EXISTS epochs (
    trial_id VARCHAR NOT NULL,
    phase VARCHAR NOT NULL,      -- train | retrain
    epoch INTEGER,
    train_loss DOUBLE,
    eval_loss DOUBLE,
    accuracy DOUBLE,             -- on the validation split
    epoch_s DOUBLE,              -- training steps only
    elapsed_s DOUBLE,            -- since the first training step, validation included
    samples_per_s DOUBLE
);
"""

# (version it upgrades to, SQL). Empty while there is only version 1.
MIGRATIONS: list[tuple[int, str]] = []


NATIVE = "m.labels->>'native' = 'true'"


def _metric(stage: str, metric: str, alias: str, where: str = "") -> str:
    """One measurement as a column of the wide view."""
    cond = f"m.stage = '{stage}' AND m.metric = '{metric}'" + (f" AND {where}" if where else "")
    return f"max(m.value) FILTER (WHERE {cond}) AS {alias}"


VIEWS = f"""
CREATE OR REPLACE VIEW metrics AS
SELECT t.run_id, m.trial_id, t.name AS trial, t.workload, t.model, t.framework, t.device, t.num_workers,
       m.stage, m.metric, m.value, m.unit, m.labels, m.labels->>'format' AS format
FROM measurements m JOIN trials t USING (trial_id);

CREATE OR REPLACE VIEW lifecycle AS
SELECT t.run_id, t.trial_id, t.name AS trial, t.workload, t.model, t.framework, t.dataset, t.device,
       t.num_workers, t.status, t.error,
       {_metric('evaluate', 'accuracy', 'accuracy')},
       {_metric('evaluate', 'top5_accuracy', 'top5_accuracy')},
       {_metric('evaluate', 'eval_loss', 'eval_loss')},
       {_metric('train', 'train_wall_s', 'train_wall_s')},
       {_metric('train', 'train_setup_s', 'train_setup_s')},
       {_metric('train', 'time_to_target_s', 'time_to_target_s')},
       {_metric('train', 'train_samples_per_s', 'train_samples_per_s')},
       {_metric('train', 'final_loss', 'final_loss')},
       {_metric('train', 'train_peak_rss_mb', 'train_peak_rss_mb')},
       {_metric('persist', 'params', 'params')},
       {_metric('persist', 'bytes', 'native_bytes', NATIVE)},
       {_metric('persist', 'save_s', 'native_save_s', NATIVE)},
       {_metric('persist', 'load_s', 'native_load_s', NATIVE)},
       {_metric('retrain', 'retrain_wall_s', 'retrain_wall_s')},
       {_metric('retrain', 'accuracy', 'retrain_accuracy')},
       t.wall_s AS trial_wall_s, e.hostname, e.cpu, e.gpu, e.nodes, e.ray, e.torch, e.tensorflow
FROM trials t
LEFT JOIN measurements m USING (trial_id)
LEFT JOIN environments e USING (trial_id)
GROUP BY ALL;
"""
