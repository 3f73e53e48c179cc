"""The DuckDB schema: long-format measurements (a new metric needs no migration) and wide views for people.

Bump SCHEMA_VERSION and append to MIGRATIONS for every change to the tables; views are recreated on open.
"""

from __future__ import annotations

import functools

from raylife.measure.metrics import LIFECYCLE_COLUMNS

SCHEMA_VERSION = 9

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
    serve_start_s DOUBLE,        -- serve.start, when the suite deploys (0: Serve was already running)
    raylife_version VARCHAR,
    git_commit VARCHAR,
    resumes INTEGER DEFAULT 0    -- how often `submit --resume` continued the run
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
    wall_s DOUBLE,
    variant VARCHAR,             -- the name without framework and workers: model, options, varying axes
    "repeat" INTEGER DEFAULT 0   -- which of the suite's repeats of this trial (0-based)
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
    labels JSON,
    "repeat" INTEGER DEFAULT 0   -- which repeat of the stage's own measurement ([serve] repeats)
);

-- Where each training worker (per rank) and serving replica of a trial ran: the node's own machine.
CREATE TABLE IF NOT EXISTS placements (
    trial_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,      -- train | retrain | deploy
    role VARCHAR NOT NULL,       -- train_worker | replica
    rank INTEGER,                -- the worker's rank; NULL for a replica
    node_id VARCHAR,
    hostname VARCHAR,
    cpu VARCHAR,
    cpu_count INTEGER,
    memory_gb DOUBLE,
    gpu VARCHAR,
    gpu_count INTEGER
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

-- Every request of every load measurement, bulk-inserted from Arrow (never row by row).
CREATE TABLE IF NOT EXISTS token_requests (
    trial_id VARCHAR NOT NULL,
    phase VARCHAR NOT NULL,      -- serve (closed-loop streams) | open-loop (arrivals at offered_rps)
    concurrency INTEGER,         -- closed-loop streams at once
    seq INTEGER,
    sent_s DOUBLE,               -- since the cell started
    input_tokens INTEGER,
    output_tokens INTEGER,
    ttft_ms DOUBLE,              -- time to the first token
    tpot_ms DOUBLE,              -- (e2e - ttft) / (output tokens - 1)
    e2e_ms DOUBLE,
    itl_ms DOUBLE[],             -- every gap between two tokens of the stream
    ok BOOLEAN,
    error VARCHAR,
    version VARCHAR,
    replica VARCHAR,
    "repeat" INTEGER DEFAULT 0,
    config VARCHAR,
    offered_rps DOUBLE           -- open loop: the offered request rate
);

CREATE TABLE IF NOT EXISTS latencies (
    trial_id VARCHAR NOT NULL,
    phase VARCHAR NOT NULL,      -- serve | load | load-retried | update-reconfigure | update-rollout | replica-fault
    path VARCHAR NOT NULL,       -- http | handle
    batch_size INTEGER,          -- samples per request
    concurrency INTEGER,         -- closed-loop clients (NULL for open loop)
    offered_rps DOUBLE,          -- open-loop rate (NULL for closed loop)
    seq INTEGER,
    sent_s DOUBLE,               -- since the measurement started
    latency_ms DOUBLE,
    ok BOOLEAN,
    error VARCHAR,
    version VARCHAR,             -- the model version that answered
    replica VARCHAR,             -- the replica that answered
    "repeat" INTEGER DEFAULT 0,  -- which repeat of the measurement ([serve] repeats)
    config VARCHAR               -- the serving configuration's key (NULL: the trial's one deployment)
);

-- A changing load ([load] profile or trace), second by second: what was offered and answered, and the replicas.
CREATE TABLE IF NOT EXISTS timeline (
    trial_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,      -- load
    config VARCHAR,              -- the serving configuration's key (NULL: the trial's one deployment)
    second INTEGER,              -- since the load started
    offered_rps DOUBLE,          -- requests scheduled in this second
    achieved_rps DOUBLE,         -- successful answers that arrived in it
    p99_ms DOUBLE,               -- of the requests scheduled in it, from their scheduled time
    slo_misses INTEGER,          -- scheduled in it and answered over slo_p99_ms, or failed
    errors INTEGER,              -- scheduled in it and failed
    replicas_running DOUBLE,     -- Serve's count at the last poll in it
    replicas_starting DOUBLE
);
"""

# (version it upgrades to, SQL), applied in order to databases written by an older raylife.
# New tables need no entry: TABLES creates them if missing.
MIGRATIONS: list[tuple[int, str]] = [
    (2, "ALTER TABLE runs ADD COLUMN IF NOT EXISTS serve_start_s DOUBLE"),
    (3, "ALTER TABLE runs ADD COLUMN IF NOT EXISTS resumes INTEGER DEFAULT 0"),
    (4, "ALTER TABLE trials ADD COLUMN IF NOT EXISTS variant VARCHAR"),
    (6, 'ALTER TABLE trials ADD COLUMN IF NOT EXISTS "repeat" INTEGER DEFAULT 0;'
        'ALTER TABLE measurements ADD COLUMN IF NOT EXISTS "repeat" INTEGER DEFAULT 0;'
        'ALTER TABLE latencies ADD COLUMN IF NOT EXISTS "repeat" INTEGER DEFAULT 0'),
    (7, "ALTER TABLE latencies ADD COLUMN IF NOT EXISTS config VARCHAR"),
]
# 9: the table token_requests, which TABLES' CREATE TABLE IF NOT EXISTS adds to an older file


# The trial parameters (``trials.params``, a trial's ``Trial.params()`` as JSON) that SQL reads by path. A path
# renamed in ``Trial`` or its specs would silently read NULL; ``tests/unit/test_params_contract.py`` checks every one
# against the model, and every read goes through ``param`` so none escapes that check.
TRIAL_PARAMS = (
    "prices.cpu_hour_usd", "prices.gpu_hour_usd", "cpus_per_worker", "device", "serve.replicas",
    "serve.cpus_per_replica", "serve.device", "serve.gpus_per_replica", "target_accuracy", "repeats",
)


def param(path: str, table: str | None = "t") -> str:
    """SQL reading one trial parameter as text (``t.params->>'$.<path>'``); only the paths in TRIAL_PARAMS."""
    if path not in TRIAL_PARAMS:
        raise KeyError(f"trial parameter {path!r} is not in TRIAL_PARAMS (add it there: a test checks it against Trial)")
    return f"{table + '.' if table else ''}params->>'$.{path}'"


def _metric(stage: str, metric: str, alias: str, where: str = "") -> str:
    """One measurement as a column of the wide view."""
    # a trial with serving configurations: its own deployment is the first one
    cond = (f"m.stage = '{stage}' AND m.metric = '{metric}' AND coalesce(m.labels->>'config_index', '0') = '0'"
            + (f" AND {where}" if where else ""))
    return f"max(m.value) FILTER (WHERE {cond}) AS {alias}"


def _median(stage: str, metric: str, alias: str) -> str:
    """A measurement as a column, the median over the stage's own repeats."""
    return f"median(m.value) FILTER (WHERE m.stage = '{stage}' AND m.metric = '{metric}') AS {alias}"


# The wide view's metric columns come from the metric catalogue (one place names them).
LIFECYCLE_METRICS = "\n".join(f"       {_metric(c.stage, c.metric, c.alias, c.where)}," for c in LIFECYCLE_COLUMNS)

VIEWS = f"""
CREATE OR REPLACE VIEW metrics AS
SELECT t.run_id, m.trial_id, t.name AS trial, t.workload, t.model, t.framework, t.device, t.num_workers,
       m.stage, m.metric, m.value, m.unit, m.labels, m.labels->>'format' AS format
FROM measurements m JOIN trials t USING (trial_id);

-- One row per trial and closed-loop cell; with [serve] repeats, the median over them (n says how many).
CREATE OR REPLACE VIEW latency_summary AS
SELECT t.run_id, m.trial_id, t.name AS trial, t.framework, t.model, m.labels->>'path' AS path,
       CAST(m.labels->>'batch_size' AS INTEGER) AS batch_size, CAST(m.labels->>'concurrency' AS INTEGER) AS concurrency,
       m.labels->>'config' AS config, CAST(m.labels->>'config_index' AS INTEGER) AS config_index,
       count(DISTINCT m."repeat") AS repeats,
       {_median('serve', 'requests', 'requests')},
       {_median('serve', 'errors', 'errors')},
       {_median('serve', 'p50_ms', 'p50_ms')},
       {_median('serve', 'p90_ms', 'p90_ms')},
       {_median('serve', 'p95_ms', 'p95_ms')},
       {_median('serve', 'p99_ms', 'p99_ms')},
       {_median('serve', 'p999_ms', 'p999_ms')},
       {_median('serve', 'mean_ms', 'mean_ms')},
       {_median('serve', 'max_ms', 'max_ms')},
       {_median('serve', 'throughput_rps', 'throughput_rps')},
       {_median('serve', 'samples_per_s', 'samples_per_s')},
       coalesce(bool_or(m.labels->>'thin' = 'true') FILTER (WHERE m.metric = 'p99_ms'), false) AS p99_thin,
       coalesce(bool_or(m.labels->>'thin' = 'true') FILTER (WHERE m.metric = 'p999_ms'), false) AS p999_thin,
       min(m.value) FILTER (WHERE m.metric = 'stable') AS stable,
       max(m.value) FILTER (WHERE m.metric = 'windows') AS windows
FROM measurements m JOIN trials t USING (trial_id)
WHERE m.stage = 'serve' AND m.labels->>'batch_size' IS NOT NULL AND m.metric != 'errors_by_reason'
GROUP BY ALL;

-- Open-loop load ([load]): one row per trial and offered rate (its deciding window).
CREATE OR REPLACE VIEW load_summary AS
SELECT t.run_id, m.trial_id, t.name AS trial, t.framework, t.model,
       CAST(m.labels->>'offered_rps' AS DOUBLE) AS offered_rps, m.labels->>'arrival' AS arrival,
       m.labels->>'config' AS config, CAST(m.labels->>'config_index' AS INTEGER) AS config_index,
       {_median('load', 'sent', 'sent')},
       {_median('load', 'achieved_rps', 'achieved_rps')},
       {_median('load', 'goodput_rps', 'goodput_rps')},
       {_median('load', 'errors', 'errors')},
       {_median('load', 'p50_ms', 'p50_ms')},
       {_median('load', 'p99_ms', 'p99_ms')},
       {_median('load', 'send_lag_p99_ms', 'send_lag_p99_ms')},
       max(m.value) FILTER (WHERE m.metric = 'behind_schedule') AS behind_schedule,
       coalesce(bool_or(m.labels->>'thin' = 'true') FILTER (WHERE m.metric = 'p99_ms'), false) AS p99_thin,
       any_value(CAST(m.labels->>'slo_p99_ms' AS DOUBLE)) FILTER (WHERE m.metric = 'goodput_rps') AS slo_p99_ms,
       -- MLPerf's early-stopping verdict on the window's p99 (met, broken, undecided) and the answers it rests on
       any_value(m.labels->>'verdict') FILTER (WHERE m.metric = 'slo_answers') AS verdict,
       {_median('load', 'slo_answers', 'answers')},
       -- windows measured at this rate ([load] confirm): the last decides it, and only the last is in this row
       coalesce(max(CAST(m.labels->>'attempt' AS INTEGER)), 1) AS windows
FROM measurements m JOIN trials t USING (trial_id)
WHERE m.stage = 'load' AND m.labels->>'offered_rps' IS NOT NULL AND m.labels->>'retried' IS NULL
GROUP BY ALL;

CREATE OR REPLACE VIEW serving AS
SELECT trial_id,
       arg_min(p50_ms, batch_size * 100000 + concurrency) AS p50_ms_small,
       arg_min(p99_ms, batch_size * 100000 + concurrency) AS p99_ms_small,
       min(batch_size) AS small_batch,
       arg_max(p50_ms, batch_size * 100000 - concurrency) AS p50_ms_large,
       arg_max(p99_ms, batch_size * 100000 - concurrency) AS p99_ms_large,
       max(batch_size) AS large_batch,
       max(throughput_rps) AS peak_throughput_rps,
       max(samples_per_s) AS peak_samples_per_s,
       sum(errors) AS serve_errors
FROM latency_summary WHERE path = 'http' AND coalesce(config_index, 0) = 0  -- the trial's own deployment
GROUP BY trial_id;

-- One row per trial and serving configuration ([serve] settings given as lists), its settings as columns and its
-- headline figures: latency at the smallest batch, peak throughput, the open loop's max_rps_at_slo, replica memory,
-- and what a million predictions cost at its peak rate with its own replicas; `error` where it failed.
CREATE OR REPLACE VIEW serving_configs AS
WITH settings AS (
    SELECT m.trial_id, m.labels->>'config' AS config, CAST(m.value AS INTEGER) AS config_index,
           CAST(m.labels->>'replicas' AS INTEGER) AS replicas, CAST(m.labels->>'cpus_per_replica' AS DOUBLE) AS cpus_per_replica,
           CAST(m.labels->>'gpus_per_replica' AS DOUBLE) AS gpus_per_replica,
           CAST(m.labels->>'max_batch_size' AS INTEGER) AS max_batch_size,
           CAST(m.labels->>'batch_wait_timeout_s' AS DOUBLE) AS batch_wait_timeout_s,
           CAST(m.labels->>'max_ongoing_requests' AS INTEGER) AS max_ongoing_requests, m.labels->>'format' AS format,
           m.labels->>'autoscaling' AS autoscaling
    FROM measurements m WHERE m.stage = 'deploy' AND m.metric = 'serving_config'
), cells AS (
    SELECT trial_id, config,
           arg_min(p50_ms, batch_size * 100000 + concurrency) AS p50_ms_small,
           arg_min(p99_ms, batch_size * 100000 + concurrency) AS p99_ms_small, min(batch_size) AS small_batch,
           max(throughput_rps) AS peak_throughput_rps, max(samples_per_s) AS peak_samples_per_s, sum(errors) AS serve_errors
    FROM latency_summary WHERE path = 'http' AND config IS NOT NULL GROUP BY trial_id, config
), figures AS (
    SELECT trial_id, labels->>'config' AS config,
           max(value) FILTER (WHERE stage = 'load' AND metric = 'max_rps_at_slo') AS max_rps_at_slo,
           max(value) FILTER (WHERE stage = 'deploy' AND metric = 'deploy_ready_s') AS deploy_ready_s,
           max(value) FILTER (WHERE stage = 'deploy' AND metric = 'replica_rss_mb' AND labels->>'replica' IS NULL) AS replica_rss_mb,
           max(value) FILTER (WHERE stage = 'serve' AND metric = 'replica_peak_rss_mb') AS replica_peak_rss_mb,
           any_value(labels->>'error') FILTER (WHERE metric = 'serving_config_failed') AS error
    FROM measurements WHERE labels->>'config' IS NOT NULL GROUP BY ALL
)
SELECT t.run_id, s.trial_id, t.name AS trial, t.framework, t.model, s.config, s.config_index, s.replicas,
       s.cpus_per_replica, CASE WHEN coalesce({param('serve.device')}, {param('device')}) = 'gpu' THEN s.gpus_per_replica END
           AS gpus_per_replica,
       s.max_batch_size, s.batch_wait_timeout_s, s.max_ongoing_requests, s.format, s.autoscaling,
       f.error IS NULL AS ok, f.error,
       c.small_batch, c.p50_ms_small, c.p99_ms_small, c.peak_throughput_rps, c.peak_samples_per_s, c.serve_errors,
       f.max_rps_at_slo, f.deploy_ready_s, f.replica_rss_mb, f.replica_peak_rss_mb,
       (s.replicas * s.cpus_per_replica * CAST({param('prices.cpu_hour_usd')} AS DOUBLE)
        + CASE WHEN coalesce({param('serve.device')}, {param('device')}) = 'gpu'
               THEN s.replicas * s.gpus_per_replica * CAST({param('prices.gpu_hour_usd')} AS DOUBLE) ELSE 0 END)
           / 3600 / c.peak_samples_per_s * 1e6 AS usd_per_million_predictions
FROM settings s JOIN trials t USING (trial_id)
LEFT JOIN cells c USING (trial_id, config)
LEFT JOIN figures f USING (trial_id, config);

-- A changing load ([load] profile or trace) per trial and serving configuration: the whole run (requests, SLO misses,
-- failures, p99, replica time paid) and its load changes (the slowest scale-up and scale-down, SLO misses and failures
-- while the count moved, each new replica's cold start as medians of its parts). An autoscaled configuration and its
-- fixed baseline (autoscaling.baseline_replicas) are two rows under one load.
CREATE OR REPLACE VIEW scaling AS
WITH whole AS (
    SELECT trial_id, labels->>'config' AS config, any_value(labels->>'trace') AS trace,
           max(value) FILTER (WHERE metric = 'profile_s') AS profile_s,
           max(value) FILTER (WHERE metric = 'sent') AS sent,
           max(value) FILTER (WHERE metric = 'errors') AS errors,
           max(value) FILTER (WHERE metric = 'slo_misses') AS slo_misses,
           max(value) FILTER (WHERE metric = 'p99_ms') AS p99_ms,
           max(value) FILTER (WHERE metric = 'replica_seconds') AS replica_seconds,
           max(CAST(labels->>'cpus_per_replica' AS DOUBLE)) FILTER (WHERE metric = 'replica_seconds') AS cpus_per_replica,
           max(CAST(labels->>'gpus_per_replica' AS DOUBLE)) FILTER (WHERE metric = 'replica_seconds') AS gpus_per_replica,
           any_value(labels->>'autoscaling') FILTER (WHERE metric = 'replica_seconds') AS autoscaling,
           max(CAST(labels->>'replicas' AS INTEGER)) FILTER (WHERE metric = 'replica_seconds') AS replicas,
           max(value) FILTER (WHERE metric = 'replicas_max') AS replicas_max,
           max(CAST(labels->>'slo_p99_ms' AS DOUBLE)) AS slo_p99_ms,
           bool_or(value > 0) FILTER (WHERE metric = 'behind_schedule') AS behind_schedule
    FROM measurements WHERE stage = 'load' AND (labels->>'profile' IS NOT NULL OR labels->>'trace' IS NOT NULL)
    GROUP BY ALL
), changes AS (
    SELECT trial_id, labels->>'config' AS config, count(DISTINCT labels->>'change') AS changes,
           max(value) FILTER (WHERE metric = 'scale_up_first_s') AS scale_up_first_s,
           max(value) FILTER (WHERE metric = 'scale_up_s') AS scale_up_s,
           max(value) FILTER (WHERE metric = 'scale_down_s') AS scale_down_s,
           sum(value) FILTER (WHERE metric = 'transition_slo_misses') AS transition_slo_misses,
           sum(value) FILTER (WHERE metric = 'transition_failed') AS transition_failed,
           count(*) FILTER (WHERE metric = 'cold_start_load_s') AS new_replicas,
           median(value) FILTER (WHERE metric = 'cold_start_scheduling_s') AS cold_scheduling_s,
           median(value) FILTER (WHERE metric = 'cold_start_constructor_s') AS cold_constructor_s,
           median(value) FILTER (WHERE metric = 'cold_start_load_s') AS cold_load_s,
           median(value) FILTER (WHERE metric = 'cold_start_first_answer_s') AS cold_first_answer_s
    FROM measurements WHERE stage = 'load' AND (labels->>'change' IS NOT NULL OR metric LIKE 'cold_start_%') GROUP BY ALL
), settings AS (
    SELECT trial_id, labels->>'config' AS config, any_value(labels->>'autoscaling') AS autoscaling,
           any_value(CAST(labels->>'replicas' AS INTEGER)) AS replicas
    FROM measurements WHERE stage = 'deploy' AND metric = 'serving_config' GROUP BY ALL
)
SELECT t.run_id, w.trial_id, t.name AS trial, t.framework, t.model, w.config,
       coalesce(s.autoscaling, w.autoscaling) AS autoscaling, coalesce(s.replicas, w.replicas) AS replicas,
       w.profile_s, w.trace, w.slo_p99_ms, w.sent, w.errors, w.slo_misses, w.p99_ms, w.behind_schedule,
       w.replica_seconds, w.replica_seconds * (w.cpus_per_replica * CAST({param('prices.cpu_hour_usd')} AS DOUBLE)
           + coalesce(w.gpus_per_replica, 0) * CAST({param('prices.gpu_hour_usd')} AS DOUBLE)) / 3600 AS replica_usd, w.replicas_max, c.changes, c.scale_up_first_s, c.scale_up_s, c.scale_down_s,
       c.transition_slo_misses, c.transition_failed, c.new_replicas, c.cold_scheduling_s, c.cold_constructor_s,
       c.cold_load_s, c.cold_first_answer_s
FROM whole w JOIN trials t USING (trial_id)
LEFT JOIN changes c ON c.trial_id = w.trial_id AND c.config IS NOT DISTINCT FROM w.config
LEFT JOIN settings s ON s.trial_id = w.trial_id AND s.config IS NOT DISTINCT FROM w.config;

-- A decoder's streams ([tokens]): one row per trial and concurrency level or offered rate, recomputed from every request kept in
-- token_requests (ITL over every gap of every stream), as vLLM's bench serve and AIPerf report a run.
CREATE OR REPLACE VIEW token_summary AS
WITH gaps AS (
    SELECT trial_id, phase, concurrency, offered_rps, config, "repeat", quantile_cont(g, 0.5) AS itl_p50_ms,
           quantile_cont(g, 0.99) AS itl_p99_ms
    FROM (SELECT trial_id, phase, concurrency, offered_rps, config, "repeat", unnest(itl_ms) AS g FROM token_requests
          WHERE ok)
    GROUP BY ALL
)
SELECT t.run_id, r.trial_id, t.name AS trial, t.framework, t.model, r.phase, r.concurrency, r.offered_rps, r.config,
       r."repeat",
       count(*) AS requests, count(*) FILTER (WHERE NOT r.ok) AS failed,
       sum(r.output_tokens) FILTER (WHERE r.ok) AS output_tokens,
       quantile_cont(r.ttft_ms, 0.5) FILTER (WHERE r.ok) AS ttft_p50_ms,
       quantile_cont(r.ttft_ms, 0.99) FILTER (WHERE r.ok) AS ttft_p99_ms,
       any_value(g.itl_p50_ms) AS itl_p50_ms, any_value(g.itl_p99_ms) AS itl_p99_ms,
       quantile_cont(r.tpot_ms, 0.5) FILTER (WHERE r.ok) AS tpot_p50_ms,
       quantile_cont(r.tpot_ms, 0.99) FILTER (WHERE r.ok) AS tpot_p99_ms,
       quantile_cont(r.e2e_ms, 0.5) FILTER (WHERE r.ok) AS e2e_p50_ms,
       quantile_cont(r.e2e_ms, 0.99) FILTER (WHERE r.ok) AS e2e_p99_ms
FROM token_requests r JOIN trials t USING (trial_id)
LEFT JOIN gaps g ON g.trial_id = r.trial_id AND g.phase = r.phase
     AND g.concurrency IS NOT DISTINCT FROM r.concurrency AND g.offered_rps IS NOT DISTINCT FROM r.offered_rps
     AND g.config IS NOT DISTINCT FROM r.config AND g."repeat" = r."repeat"
GROUP BY ALL;

CREATE OR REPLACE VIEW load_timeline AS
SELECT t.run_id, l.trial_id, t.name AS trial, l.config, l.stage, l.second, l.offered_rps, l.achieved_rps, l.p99_ms,
       l.slo_misses, l.errors, l.replicas_running, l.replicas_starting
FROM timeline l JOIN trials t USING (trial_id);

-- Every metric over its repeats (trial repeats x [serve] repeats), per run, trial and labels: median, extremes,
-- and a 95% Student-t interval of the mean (t quantiles from SciPy, written in when the views are created).
-- Labels that differ between repeats of the same measurement (when, on which node or host, which replica) are left
-- out of the key (a worker placed on another node in the second repeat, a tail verdict resting on another count of
-- answers, are still the same measurement). A serving
-- configuration is matched by its key (label config), not by its place in the order.
CREATE OR REPLACE VIEW metric_stats AS
WITH m AS (
    SELECT t.run_id, t.name AS trial, t.variant, t.model, t.framework, t.num_workers, m.stage, m.metric, m.unit,
           CAST(json_merge_patch(json_merge_patch(coalesce(m.labels, '{{}}'),
                '{{"started_unix": null, "node": null, "node_id": null, "hostname": null, "replica": null, "error": null, "thin": null, "stable": null, "window_start_s": null, "window_end_s": null, "config_index": null, "attempt": null, "answers": null, "verdict": null, "needed": null, "over": null}}'),
                -- one replica's figure stays apart from the deployment's, whichever replica it was
                CASE WHEN m.labels->>'replica' IS NOT NULL THEN '{{"per_replica": true}}' ELSE '{{}}' END)
                AS VARCHAR) AS labels,
           m.value, coalesce(m.labels->>'thin', 'false') = 'true' AS thin
    FROM measurements m JOIN trials t USING (trial_id)
    WHERE t.status = 'ok' AND m.metric NOT IN ('errors_by_reason', 'telemetry_unavailable')
), g AS (
    SELECT run_id, trial, any_value(variant) AS variant, any_value(model) AS model, any_value(framework) AS framework,
           any_value(num_workers) AS num_workers, stage, metric, unit, labels,
           count(value) AS n, median(value) AS median, min(value) AS min, max(value) AS max, avg(value) AS mean,
           stddev_samp(value) AS sd, bool_or(thin) AS thin
    FROM m GROUP BY run_id, trial, stage, metric, unit, labels
)
SELECT g.run_id, g.trial, g.variant, g.model, g.framework, g.num_workers, g.stage, g.metric, g.unit,
       CAST(g.labels AS JSON) AS labels, g.n, g.median, g.min, g.max, g.mean, g.sd,
       q.t * g.sd / sqrt(g.n) AS ci95_half, g.mean - q.t * g.sd / sqrt(g.n) AS ci95_low,
       g.mean + q.t * g.sd / sqrt(g.n) AS ci95_high, g.thin
FROM g LEFT JOIN (VALUES __T95_VALUES__) AS q(df, t) ON q.df = least(g.n - 1, 1000);

CREATE OR REPLACE VIEW lifecycle AS
SELECT t.run_id, t.trial_id, t.name AS trial, coalesce(t.variant, t.name) AS variant, t.workload, t.model, t.framework, t.dataset, t.device,
       t.num_workers, t.status, t.error,
{LIFECYCLE_METRICS}
       any_value(s.small_batch) AS small_batch, any_value(s.p50_ms_small) AS p50_ms_small,
       any_value(s.p99_ms_small) AS p99_ms_small, any_value(s.large_batch) AS large_batch,
       any_value(s.p50_ms_large) AS p50_ms_large, any_value(s.p99_ms_large) AS p99_ms_large,
       any_value(s.peak_throughput_rps) AS peak_throughput_rps, any_value(s.peak_samples_per_s) AS peak_samples_per_s,
       t.wall_s AS trial_wall_s, e.hostname, e.cpu, e.gpu, e.nodes, e.ray, e.torch, e.tensorflow
FROM trials t
LEFT JOIN measurements m USING (trial_id)
LEFT JOIN environments e USING (trial_id)
LEFT JOIN serving s USING (trial_id)
GROUP BY ALL;

CREATE OR REPLACE VIEW costs AS
WITH held AS (
    SELECT t.run_id, t.trial_id, t.name AS trial, t.framework, t.num_workers,
           CAST({param('prices.cpu_hour_usd')} AS DOUBLE) AS cpu_hour_usd,
           CAST({param('prices.gpu_hour_usd')} AS DOUBLE) AS gpu_hour_usd,
           -- resources held while each part runs: training workers, or the Serve replicas
           t.num_workers * CAST({param('cpus_per_worker')} AS DOUBLE) AS train_cpus,
           CASE WHEN {param('device')} = 'gpu' THEN t.num_workers ELSE 0 END AS train_gpus,
           CAST({param('serve.replicas')} AS DOUBLE) * CAST({param('serve.cpus_per_replica')} AS DOUBLE) AS serve_cpus,
           -- replicas hold GPUs when they serve on one: [serve] device, or the trial's own
           CASE WHEN coalesce({param('serve.device')}, {param('device')}) = 'gpu'
                THEN CAST({param('serve.replicas')} AS DOUBLE) * coalesce(CAST({param('serve.gpus_per_replica')} AS DOUBLE), 1)
                ELSE 0 END AS serve_gpus,
           -- the trial's actor evaluates and persists with one worker's threads, on the GPU for a GPU trial
           CAST({param('cpus_per_worker')} AS DOUBLE) AS actor_cpus,
           CASE WHEN {param('device')} = 'gpu' THEN 1 ELSE 0 END AS actor_gpus
    FROM trials t
), rates AS (
    SELECT *, (train_cpus * cpu_hour_usd + train_gpus * gpu_hour_usd) / 3600 AS train_usd_per_s,
           (serve_cpus * cpu_hour_usd + serve_gpus * gpu_hour_usd) / 3600 AS serve_usd_per_s,
           (actor_cpus * cpu_hour_usd + actor_gpus * gpu_hour_usd) / 3600 AS actor_usd_per_s
    FROM held
), measured AS (
    SELECT trial_id,
           max(value) FILTER (WHERE stage = 'evaluate' AND metric = 'stage_wall_s') AS evaluate_wall_s,
           max(value) FILTER (WHERE stage = 'persist' AND metric = 'stage_wall_s') AS persist_wall_s,
           sum(value) FILTER (WHERE metric IN ('train_cpu_energy_j', 'train_gpu_energy_j')) / 3.6e6 AS train_kwh,
           sum(value) FILTER (WHERE metric IN ('retrain_cpu_energy_j', 'retrain_gpu_energy_j')) / 3.6e6 AS retrain_kwh,
           sum(value) FILTER (WHERE metric IN ('eval_cpu_energy_j', 'eval_gpu_energy_j')) / 3.6e6 AS eval_kwh,
           -- the replicas' nodes and GPUs while they answered: closed-loop cells, the open-loop sweep, the updates
           sum(value) FILTER (WHERE metric IN ('serve_cpu_energy_j', 'serve_gpu_energy_j', 'load_cpu_energy_j',
                                               'load_gpu_energy_j', 'update_cpu_energy_j', 'update_gpu_energy_j'))
               / 3.6e6 AS serve_kwh
    FROM measurements GROUP BY trial_id
)
SELECT r.run_id, r.trial_id, r.trial, r.framework, r.num_workers, r.cpu_hour_usd, r.gpu_hour_usd,
       r.train_gpus, r.serve_gpus, r.actor_gpus AS evaluate_gpus, e.train_kwh, e.retrain_kwh, e.eval_kwh, e.serve_kwh,
       l.train_wall_s * r.train_usd_per_s AS train_usd,
       l.retrain_wall_s * r.train_usd_per_s AS retrain_usd,
       e.evaluate_wall_s * r.actor_usd_per_s AS evaluate_usd,
       e.persist_wall_s * r.actor_usd_per_s AS persist_usd,
       l.deploy_ready_s * r.serve_usd_per_s AS deploy_usd,
       r.serve_usd_per_s / l.peak_samples_per_s * 1e6 AS usd_per_million_predictions,
       l.reconfigure_update_s * r.serve_usd_per_s AS reconfigure_usd,
       l.rollout_update_s * r.serve_usd_per_s AS rollout_usd
FROM rates r JOIN lifecycle l USING (trial_id) LEFT JOIN measured e USING (trial_id);
"""


@functools.cache
def views_sql() -> str:
    """The views, with Student's t quantiles (95%, two-sided) for 1..1000 degrees of freedom written in."""
    from scipy import stats

    values = ", ".join(f"({df}, {t:.6f})" for df, t in enumerate(stats.t.ppf(0.975, range(1, 1001)), start=1))
    return VIEWS.replace("__T95_VALUES__", values)


def _names(sql: str, kind: str) -> list[str]:
    import re

    return re.findall(rf"CREATE (?:OR REPLACE )?{kind} (?:IF NOT EXISTS )?(\w+)", sql)


def table_names() -> list[str]:
    """The tables, read from the DDL above (so help texts cannot drift from the schema)."""
    return _names(TABLES, "TABLE")


def view_names() -> list[str]:
    return _names(VIEWS, "VIEW")
