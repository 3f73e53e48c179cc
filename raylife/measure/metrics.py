"""The one catalogue of metrics: every number raylife stores, with its unit, the stage that records it, and what it means.

``TrialRecord.add`` refuses a metric that is not here or comes with another unit, so a new metric is added here
first; the ``lifecycle`` view's columns are built from ``LIFECYCLE_COLUMNS`` below (each names a catalogued metric),
and ``raylife metrics`` prints the catalogue. No heavy imports: the CLI and the store read it.
"""

from __future__ import annotations

from dataclasses import dataclass

DEVELOP = ("train", "retrain")
ANY_STAGE = "*"


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    stages: tuple[str, ...]
    meaning: str
    quality: bool = False  # how right a model is: never stored for random inputs, where there is nothing to be right about


def _m(name: str, unit: str, stages: str | tuple[str, ...], meaning: str, quality: bool = False) -> Metric:
    return Metric(name, unit, (stages,) if isinstance(stages, str) else stages, meaning, quality)


def _fit(prefix: str, stage: str) -> list[Metric]:
    """The breakdown of one Ray Train fit: train_* in the train stage, retrain_* in the retrain stage."""
    return [
        _m(f"{prefix}_wall_s", "s", stage, "the Ray Train fit() call, start to return"),
        _m(f"{prefix}_setup_s", "s", stage, "fit() call to the first training step (= worker start + loop setup)"),
        _m(f"{prefix}_worker_start_s", "s", stage, "fit() call until the training loop runs on every worker"),
        _m(f"{prefix}_loop_setup_s", "s", stage, "loop entry to first step: data, model, process group"),
        _m(f"{prefix}_compute_s", "s", stage, "the training steps of every epoch (validation excluded)"),
        _m(f"{prefix}_teardown_s", "s", stage, "last worker leaving its loop until fit() returns"),
        _m(f"{prefix}_samples_per_s", "samples/s", stage, "training samples per second of compute"),
        _m(f"{prefix}_tokens_per_s", "tokens/s", stage, "a decoder's training tokens (next-token predictions) per second "
           "of compute: samples/s x tokens per row"),
        _m(f"{prefix}_peak_rss_mb", "MiB", stage, "largest resident memory of any training worker (sampled every 50 ms)"),
        _m(f"{prefix}_replicas", "count", stage, "data-parallel replicas as the framework itself counts them"),
        _m(f"{prefix}_nodes", "count", stage, "distinct nodes the training workers ran on"),
        _m(f"{prefix}_cpu_energy_j", "J", stage, "CPU package energy (RAPL) of the workers' nodes over the loop, "
           "other processes on them included; NULL where RAPL is not readable"),
        _m(f"{prefix}_gpu_energy_j", "J", stage, "GPU energy over the loop (NVML counter), summed over workers"),
        _m(f"{prefix}_gpu_util_pct", "%", stage, "mean GPU utilisation over the loop (NVML, sampled every 0.1 s)"),
        _m(f"{prefix}_gpu_power_w", "W", stage, "mean GPU power over the loop (NVML)"),
        _m(f"{prefix}_gpu_mem_peak_mb", "MiB", stage, "largest GPU memory in use on any worker's GPU (NVML)"),
    ]


def _hardware(prefix: str, stage: str, who: str) -> list[Metric]:
    """Energy and GPU counters of a non-training stage, read by the processes that do its work (``who``)."""
    return [
        _m(f"{prefix}_cpu_energy_j", "J", stage, f"CPU package energy (RAPL) of the nodes {who} ran on over the stage, "
           "other processes on them included; NULL where RAPL is not readable"),
        _m(f"{prefix}_gpu_energy_j", "J", stage, f"energy of the GPUs {who} used over the stage (NVML counter, each GPU "
           "once)"),
        _m(f"{prefix}_gpu_util_pct", "%", stage, f"mean GPU utilisation seen by {who} (NVML, sampled every 0.1 s)"),
        _m(f"{prefix}_gpu_power_w", "W", stage, f"mean GPU power seen by {who} (NVML)"),
        _m(f"{prefix}_gpu_mem_peak_mb", "MiB", stage, f"largest GPU memory in use on the GPU {who} used (NVML)"),
    ]


CATALOGUE: tuple[Metric, ...] = (
    # run and trial bookkeeping: where the time went
    _m("stage_wall_s", "s", ANY_STAGE, "wall time of the stage on the driver, start to end (its row's stage says which; "
       "every stage has one, plug-in stages included)"),
    _m("unaccounted_s", "s", ANY_STAGE, "the stage's wall time that none of its named parts (STAGE_PARTS) covers: "
       "round trips to the trial's actor, Ray scheduling — a large value is a hole to name, not a cost to trust"),
    _m("trial_actor_start_s", "s", ANY_STAGE, "starting the trial's actor, the process that runs the fits and "
       "evaluates, persists and prepares requests: its start and the framework's import (in the first stage that "
       "needs it; stage 'trial' outside any)"),
    _m("overhead_s", "s", "trial", "trial wall time minus the sum of its stages: raylife's own work between them"),
    _m("telemetry_unavailable", "count", "train", "a hardware counter this trial could not read, once per trial "
       "(labels: what, reason) — its metrics are NULL, not zero"),
    _m("trials_beside", "count", ANY_STAGE, "other trials of the run active at any moment of this stage (0: it ran alone; "
       "labels: max_concurrent_trials)"),
    _m("host_load_1m", "load", ANY_STAGE, "the driver machine's 1-minute load average (runnable processes) at the stage's end"),
    _m("host_busy_pct", "%", ANY_STAGE, "CPU busy on the driver's machine during the stage, every process, of all CPUs"),
    _m("host_steal_pct", "%", ANY_STAGE, "CPU time the hypervisor gave other guests during the stage (Linux steal)"),
    _m("host_other_pct", "%", ANY_STAGE, "CPU busy outside raylife's own process tree (driver, Ray, workers, replicas) "
       "during the stage: other programs on the machine"),
    # train / retrain
    *_fit("train", "train"),
    *_fit("retrain", "retrain"),
    _m("epoch_s", "s", DEVELOP, "mean training time of one epoch"),
    _m("epochs", "count", DEVELOP, "epochs run"),
    _m("final_loss", "loss", DEVELOP, "training loss of the last epoch"),
    _m("val_accuracy", "ratio", DEVELOP, "validation accuracy after the last epoch", quality=True),
    _m("checkpoint_bytes", "bytes", DEVELOP, "one training checkpoint on disk (label: epoch it was taken after)"),
    _m("checkpoint_stall_s", "s", DEVELOP, "rank 0's training loop blocked by one checkpoint: writing it and Ray Train's "
       "report, which copies it to the storage path unless train.checkpoint_upload = 'async' (label: epoch)"),
    _m("restore_s", "s", DEVELOP, "rank 0 fetching the checkpoint its fit starts from (retraining) from the storage "
       "path and loading it; part of the fit's loop setup"),
    _m("time_to_first_batch_s", "s", DEVELOP, "data streamed by Ray Data: rank 0 asking its shard for the fit's first "
       "batch until it arrived (the pipeline's start: read, decode, resize)"),
    _m("ingest_samples_per_s", "samples/s", DEVELOP, "data streamed by Ray Data: the pipeline alone (no model), rows "
       "per second after its first batch, timed by the trial's actor before the fit (label: samples)"),
    _m("ingest_probe_s", "s", DEVELOP, "timing the pipeline alone before the fit (ingest_samples_per_s)"),
    _m("files_skipped", "count", DEVELOP, "data streamed from files: files that did not decode and were left out "
       "(data.on_bad_file = \"skip\"; label files: their paths, and reasons: what the decoder said)"),
    _m("files_ignored", "count", DEVELOP, "data streamed from files: files in the class folders that are not of the "
       "format (by suffix), never decoded (label files: their paths)"),
    _m("data_wait_pct", "%", DEVELOP, "data streamed by Ray Data: the share of rank 0's training-step time spent waiting "
       "for the next batch (0: the pipeline kept up)"),
    _m("object_store_peak_bytes", "bytes", DEVELOP, "data streamed by Ray Data: most bytes the cluster's object stores "
       "held at once during the fit (sampled every 0.5 s)"),
    _m("object_store_spilled_bytes", "bytes", DEVELOP, "data streamed by Ray Data: bytes Ray spilled from the object "
       "stores to disk during the fit"),
    _m("worker_peak_private_mb", "MiB", DEVELOP, "largest memory of one training worker that is its own: RSS less "
       "pages shared with other processes (Ray's object store maps the blocks a worker reads into its RSS; labels: rank, "
       "node)"),
    _m("worker_peak_rss_mb", "MiB", DEVELOP, "largest resident memory of one training worker (labels: rank, node)"),
    _m("failures", "count", "train", "training workers lost during the fit (faults.kill_worker_at_epoch)"),
    _m("recovery_s", "s", "train", "a worker's death until the restarted workers ran their first training step"),
    _m("epochs_lost", "epochs", "train", "training done when the worker died minus what the checkpoint resumed from held"),
    _m("time_to_target_s", "s", "train", "fit() call to the end of the first epoch reaching target_accuracy; NULL if never",
       quality=True),
    # evaluate (and retrain's evaluation)
    _m("accuracy", "ratio", ("evaluate", "retrain"), "top-1 accuracy on the held-out test split", quality=True),
    _m("eval_loss", "loss", ("evaluate", "retrain"), "cross-entropy on the held-out test split", quality=True),
    _m("top5_accuracy", "ratio", "evaluate", "top-5 accuracy on the test split (more than 5 classes)", quality=True),
    _m("baseline_accuracy", "ratio", "evaluate", "accuracy of always predicting the majority training class", quality=True),
    _m("train_flops_per_token", "FLOPs", "train", "a decoder's training FLOPs per token: 6N + 12·L·d·T (PaLM's MFU "
       "numerator; N parameters, L layers, d width, T tokens per row)"),
    _m("train_flops_per_s", "FLOP/s", "train", "a decoder's achieved training FLOPs per second: train_flops_per_token "
       "x train_tokens_per_s"),
    _m("mfu", "ratio", "train", "model-FLOPs utilisation: train_flops_per_s over the devices' dense peak at the "
       "training precision; NULL with the reason on CPUs and on GPUs raylife has no peak for"),
    _m("eval_tokens", "count", "evaluate", "a decoder's next-token predictions scored on the test split"),
    _m("perplexity", "ppl", "evaluate", "a decoder's perplexity on the test split: exp of the mean next-token "
       "cross-entropy (natural log)", quality=True),
    _m("baseline_perplexity", "ppl", "evaluate", "perplexity of the unigram model of the training split (add-one "
       "smoothed) on the same test tokens: the bar a decoder must clear", quality=True),
    _m("eval_samples", "count", "evaluate", "test samples scored"),
    _m("eval_predict_s", "s", ("evaluate", "retrain"), "predicting the whole test split, model loaded (random inputs: its first 32 rows, a timing only)"),
    _m("checkpoint_load_s", "s", ("evaluate", "persist", "retrain"), "loading the final checkpoint on the trial's actor, from the "
       "node's disk: for evaluation, and again for persisting it in each format"),
    _m("model_facts_s", "s", ("evaluate", "retrain"), "counting the model's parameters and FLOPs (TensorFlow traces and freezes its graph)"),
    _m("data_load_s", "s", ("evaluate", "persist", "retrain"), "loading the trial's data into the trial's actor (the first stage "
       "that needs it; absent where it was loaded already)"),
    _m("checkpoint_fetch_s", "s", ("evaluate", "retrain"), "copying the final checkpoint down from an object-store storage_path to "
       "the evaluating node (absent when storage_path is a folder)"),
    _m("split_samples", "count", "evaluate", "samples in each split (label: split)"),
    _m("quality_measured", "bool", "evaluate", "0 where no accuracy is measured (random inputs)"),
    *_hardware("eval", "evaluate", "the evaluating process (the trial's actor)"),
    # model facts
    _m("params", "count", ("model", "persist"), "trainable parameters"),
    _m("flops_per_sample", "FLOPs", "model", "one forward pass, multiply and add counted apart; NULL where not countable"),
    _m("model_memory_bytes", "bytes", "model", "weights and buffers in memory"),
    # persist
    _m("save_s", "s", "persist", "saving the model in the format (label: format)"),
    _m("load_s", "s", "persist", "loading the saved format back (recovery), in a process that has loaded the framework"),
    _m("first_predict_s", "s", "persist", "first prediction of the loaded format (16 samples)"),
    _m("bytes", "bytes", "persist", "size on disk of the saved format"),
    _m("roundtrip_max_abs_diff", "logit", "persist", "largest difference between loaded and original model outputs"),
    _m("reference_predict_s", "s", "persist", "the checkpoint's own predictions of 16 test samples, which every saved "
       "format must reproduce"),
    _m("upload_s", "s", "persist", "copying the saved format up to an object-store storage_path (save_s is the local "
       "write before it; absent when storage_path is a folder)"),
    # deploy
    _m("request_data_s", "s", "deploy", "preparing the requests: the served format loaded on the trial's actor and the "
       "test split predicted offline (the answers' check), the inputs sent to the driver"),
    _m("request_bodies_s", "s", "deploy", "encoding the held-out inputs as JSON request bodies (at reference scale a "
       "224x224x3 image is ~3 MB of JSON), before the first request"),
    _m("deploy_ready_s", "s", "deploy", "Serve config applied until every replica answers"),
    _m("first_request_ms", "ms", "deploy", "the first (cold) request"),
    _m("replica_init_s", "s", "deploy", "replica constructor, framework import included"),
    _m("replica_load_s", "s", "deploy", "model load from the served format, inside the replica (from its node's disk)"),
    _m("replica_fetch_s", "s", "deploy", "copying the served format down from an object-store storage_path into the "
       "replica's node, before replica_load_s (label: replica; absent when storage_path is a folder)"),
    _m("replica_rss_mb", "MiB", "deploy", "replica resident memory once the model is loaded"),
    _m("replicas", "count", "deploy", "replicas running"),
    _m("serving_config", "count", "deploy", "a serving configuration of the trial ([serve] settings given as lists): "
       "its index in the order measured (labels: its key and every setting); its measurements carry label 'config'"),
    _m("serving_config_stopped", "count", "serve", "a serving configuration stopped early by the search: a figure "
       "already broke one of [serve.search] constraints, so its open-loop sweep was skipped (label: reason)"),
    _m("serving_config_confirmed", "score", "deploy", "a best configuration of a serving search measured again in "
       "fresh windows: its objective then (labels config, objective, per_cpu, first_score, first_rank, seconds)"),
    _m("serving_config_best", "count", "deploy", "the serving search's best configuration after confirming its best "
       "(the configuration's index; labels config, score, first_score, first_rank, confirmed)"),
    _m("serving_config_failed", "count", ("deploy", "serve", "load", "update", "teardown"), "a serving configuration "
       "that could not be deployed or measured, stored where it failed (label: error); the others are measured"),
    # serve
    *(_m(f"{p}_ms", "ms", "serve", f"{label} request latency (labels: path, batch_size, concurrency; thin = true when too few "
         "samples lie beyond it to read it as exact)")
      for p, label in (("p50", "median"), ("p90", "90th percentile"), ("p95", "95th percentile"),
                       ("p99", "99th percentile"), ("p999", "99.9th percentile"), ("mean", "mean"), ("max", "largest"))),
    _m("requests", "count", "serve", "measured requests of a cell (those of its agreeing windows)"),
    _m("windows", "count", "serve", "consecutive measurement windows the cell took to agree (stable_windows in a row)"),
    _m("stable", "bool", "serve", "1 when the cell's last stable_windows windows agreed on throughput and p99 within "
       "stability_tolerance; 0 when max_windows passed first (the figures are then the last windows', unsettled)"),
    _m("errors", "count", "serve", "failed requests of a cell"),
    _m("errors_by_reason", "count", "serve", "failed requests per reason"),
    _m("throughput_rps", "requests/s", "serve", "successful requests per second of a cell"),
    _m("samples_per_s", "samples/s", "serve", "successful samples per second of a cell"),
    # a decoder's cells ([tokens]): closed-loop streams, label concurrency; p50/p90/p99 over the cell's requests
    *[_m(f"{what}_{p}_ms", "ms", "serve", f"{meaning} ({p} of the cell's requests)")
      for what, meaning in (("ttft", "time to the first token"), ("itl", "gap between two tokens of a stream, every "
                            "gap"), ("tpot", "time per output token after the first: (e2e - ttft) / (tokens - 1)"),
                            ("e2e", "a streamed request, sent to its last token"))
      for p in ("p50", "p90", "p99")],
    _m("output_tokens_per_s", "tokens/s", "serve", "tokens streamed per second of a cell, every stream together"),
    _m("output_tokens_per_s_per_user", "tokens/s", "serve", "one stream's decoding rate: 1 / its median TPOT"),
    _m("stream_requests", "count", "serve", "streamed requests of a cell"),
    _m("stream_failed", "count", "serve", "streamed requests of a cell that failed"),
    _m("token_goodput_rps", "requests/s", "serve", "streamed requests per second within the TTFT and TPOT limits "
       "(labels slo_ttft_ms, slo_tpot_ms)"),
    _m("token_slo_answers", "count", "serve", "a decoder's open loop: answers behind a rate's p99 verdict on TTFT or "
       "TPOT (labels figure, limit_ms, verdict met/broken/undecided, needed: MLPerf's early stopping)"),
    _m("max_token_rps_at_slo", "requests/s", "serve", "a decoder's open loop: the highest offered rate whose p99 TTFT "
       "and TPOT met the limits with enough answers; NULL with the reason when none did"),
    _m("stream_matches_offline", "bool", "deploy", "the first served stream's tokens equal the saved model's own "
       "greedy tokens for the same prompt"),
    _m("offline_generate_s", "s", "deploy", "the saved model generating the first prompt's tokens offline, KV cache on"),
    _m("served_accuracy", "ratio", "serve", "accuracy of the served answers", quality=True),
    _m("offline_accuracy", "ratio", "serve", "accuracy of the served format's own offline predictions of the same inputs",
       quality=True),
    _m("replica_peak_rss_mb", "MiB", "serve", "largest replica resident memory during the load"),
    _m("replica_gpu_allocated_peak_mb", "MiB", "serve", "largest GPU memory the replica's tensors held since it started, "
       "by the framework's own count (label: replica)"),
    _m("replica_gpu_reserved_peak_mb", "MiB", "serve", "largest GPU memory the replica's caching allocator reserved "
       "since it started (PyTorch; label: replica)"),
    *_hardware("serve", "serve", "the replicas"),
    *_hardware("load", "load", "the replicas"),
    *_hardware("update", "update", "the replicas (old and new)"),
    _m("replica_recovery_s", "s", "serve", "a replica killed (faults.kill_replica_after_s) until a new one answers"),
    _m("recovery_failed_requests", "count", "serve", "requests that failed from the replica kill until a new one answered"),
    _m("recovery_p99_ms", "ms", "serve", "p99 latency of the requests sent between the replica kill and its replacement"),
    # load (open loop, [load])
    _m("achieved_rps", "requests/s", "load", "successful answers per second at an offered rate (label: offered_rps)"),
    _m("sent", "count", "load", "requests sent at an offered rate"),
    *(_m(f"{p}_ms", "ms", "load", f"{label} latency from the request's scheduled send time (queueing included)")
      for p, label in (("p50", "median"), ("p90", "90th percentile"), ("p99", "99th percentile"), ("mean", "mean"),
                       ("max", "largest"))),
    _m("errors", "count", "load", "failed requests at an offered rate"),
    _m("goodput_rps", "requests/s", "load", "answers within slo_p99_ms per second at an offered rate"),
    _m("send_lag_p99_ms", "ms", ("load", "serve"), "99th percentile of how late the client sent requests after their "
       "scheduled time (serve: a decoder's open loop, a wait for a slot under max_concurrency included)"),
    _m("behind_schedule", "bool", "load", "1 when the client's p99 send lag exceeded 5 ms: it could not keep the schedule "
       "and the rate's figures include its own delay"),
    _m("max_rps_at_slo", "requests/s", "load", "the highest offered rate whose p99 met slo_p99_ms at 99% confidence "
       "(MLPerf's early stopping: 459 answers with none over, 662 with one…) with no failed request (label answers: "
       "the answers behind it; bound = lower: the sweep never saturated; reason: none did, or too few answers)"),
    _m("slo_answers", "count", "load", "answers the rate's p99 verdict rests on (labels verdict: met, broken or "
       "undecided — within the SLO on too few answers; needed: answers the early-stopping rule asks for with over of "
       "them over the SLO; window_s: the window's length, sized for the rule up to load.max_duration_s)"),
    _m("saturated", "bool", "load", "1 when some offered rate saturated the service (p99 over the SLO, failures, or "
       "achieved below 90% of offered)"),
    _m("saturation_rps", "requests/s", "load", "the first offered rate that saturated the service"),
    # load, changing ([load] profile or trace; labels profile or trace, and config)
    _m("profile_s", "s", "load", "length of the changing load (the profile's steps, or the trace's last send time)"),
    _m("slo_misses", "count", "load", "requests of the changing load answered over slo_p99_ms (failed ones are errors)"),
    _m("replica_seconds", "s", "load", "replica time held during the changing load: Serve's replica count (running, "
       "starting or stopping: each holds its CPUs), polled every 0.25 s, integrated over the load (label: "
       "cpus_per_replica)"),
    _m("replicas_max", "count", "load", "most replicas running at once during the changing load"),
    _m("replicas_at_start", "count", "load", "replicas running when the changing load began (an autoscaled deployment "
       "is first given time to return to its start count: label waited_s, and settled = false when it did not)"),
    _m("watch_errors", "count", "load", "reads of the replica count or the replicas' clocks that failed during the "
       "changing load (label: the first); the series has gaps there"),
    _m("scale_up_s", "s", "load", "a profile's rate going up until the replica count reached the highest it reached "
       "before the next change (labels: change, from_rps, to_rps, replicas_before, replicas_after; reason where the "
       "count did not move)"),
    _m("scale_up_first_s", "s", "load", "a profile's rate going up until the first replica started after it answered "
       "its first request"),
    _m("scale_down_s", "s", "load", "a profile's rate going down until the replica count reached the lowest it reached "
       "before the next change (or the load's end)"),
    _m("scale_decision_s", "s", "load", "a profile's rate changing until Serve began adding or removing replicas (up: "
       "the first poll whose running + starting count exceeds the one at the change; down: whose running count is "
       "below it)"),
    _m("transition_sent", "count", "load", "requests sent from a load change until the replica count settled (label "
       "window_end_s), or until the next change where it never moved"),
    _m("transition_slo_misses", "count", "load", "requests of that window answered over slo_p99_ms"),
    _m("transition_failed", "count", "load", "requests of that window that failed"),
    _m("cold_start_scheduling_s", "s", "load", "a new replica: Serve's decision to add it (the last poll before it "
       "that saw running + starting replicas rise) until its constructor began (placement, worker process start; "
       "driver and replica clocks; labels change, replica)"),
    _m("cold_start_constructor_s", "s", "load", "a new replica: its constructor's start until its model load began "
       "(framework import, set-up), on the replica's own clock"),
    _m("cold_start_load_s", "s", "load", "a new replica: fetching and loading the model, on the replica's own clock"),
    _m("cold_start_first_answer_s", "s", "load", "a new replica: its constructor's end until it finished its first "
       "request (Serve marking it ready, routers learning of it, the request)"),
    # update
    _m("update_s", "s", "update", "update call until every answer comes from the new model (label: strategy)"),
    _m("failed_requests", "count", "update", "failed requests from the update call on"),
    _m("failed_while_stopping", "count", "update", "failed requests sent while Serve's controller reported a replica "
       "stopping (a rollout's old replica in its graceful shutdown): a request that hangs there has no replica id"),
    _m("failed_while_starting", "count", "update", "failed requests sent while Serve reported a replica starting"),
    _m("replica_stopping_s", "s", "update", "how long during the window some replica was stopping (counts polled "
       "every 0.25 s)"),
    _m("requests_during_update", "count", "update", "requests answered during the update"),
    _m("max_gap_s", "s", "update", "longest time without a successful answer during the update"),
    _m("p99_during_update_ms", "ms", "update", "p99 latency during the update"),
    _m("max_during_update_ms", "ms", "update", "largest latency during the update"),
    _m("p99_before_ms", "ms", "update", "p99 latency under the same load before the update"),
    _m("replicas_before", "count", "update", "replicas answering before the update"),
    _m("replicas_after", "count", "update", "replicas answering after the update"),
    _m("replicas_replaced", "count", "update", "replicas that stopped answering (replaced)"),
    # teardown
    _m("teardown_s", "s", "teardown", "deleting the Serve application"),
)

BY_KEY: dict[tuple[str, str], Metric] = {(stage, m.name): m for m in CATALOGUE for stage in m.stages}


# Which way is better, for `compare` and `choose`: by unit, with the exceptions named. 0: neither (a fact or context).
_LOWER_UNITS = {"s", "ms", "MiB", "bytes", "J", "W", "loss", "logit", "epochs", "ppl"}
_HIGHER_UNITS = {"ratio", "requests/s", "samples/s", "tokens/s", "FLOP/s"}
_LOWER = {"errors", "stream_failed", "failed_requests", "slo_misses", "transition_slo_misses", "transition_failed", "watch_errors", "failures", "recovery_failed_requests", "behind_schedule", "windows",
          "replicas_replaced", "usd", "train_usd", "retrain_usd", "evaluate_usd", "persist_usd", "deploy_usd",
          "usd_per_million_predictions", "reconfigure_usd", "rollout_usd", "train_kwh", "retrain_kwh", "eval_kwh", "serve_kwh", "flops_per_sample",
          "params"}
_HIGHER = {"stable"}
_NEITHER = {"baseline_accuracy", "baseline_perplexity", "eval_tokens", "stream_requests", "saturation_rps", "host_load_1m", "host_busy_pct", "host_steal_pct", "host_other_pct",
            "trials_beside", "offline_accuracy", "replicas_max", "replicas_at_start", "transition_sent", "profile_s"}


def direction(name: str, unit: str | None = None) -> int:
    """-1 when lower is better, +1 when higher is better, 0 when a change is neither."""
    if name in _NEITHER:
        return 0
    if name in _LOWER:
        return -1
    if name in _HIGHER:
        return 1
    if unit is None:
        found = next((m for m in CATALOGUE if m.name == name), None)
        unit = found.unit if found else None
    return -1 if unit in _LOWER_UNITS else 1 if unit in _HIGHER_UNITS else 0


class UnknownMetric(ValueError):
    """A stage recorded a metric the catalogue does not have, or with another unit: a bug, caught by the tests."""


def unit_of(stage: str, name: str) -> str:
    """The catalogued unit of a metric (for code that records metrics computed elsewhere)."""
    return (BY_KEY.get((stage, name)) or BY_KEY[(ANY_STAGE, name)]).unit


def check(stage: str, name: str, unit: str) -> Metric:
    metric = BY_KEY.get((stage, name)) or BY_KEY.get((ANY_STAGE, name))
    if metric is None:
        raise UnknownMetric(f"metric {stage}.{name} is not in raylife.measure.metrics.CATALOGUE")
    if metric.unit != unit:
        raise UnknownMetric(f"metric {stage}.{name} is catalogued in {metric.unit}, recorded in {unit}")
    return metric


@dataclass(frozen=True)
class Column:
    """One column of the ``lifecycle`` view: a catalogued metric, optionally narrowed by its labels (SQL)."""

    alias: str
    stage: str
    metric: str
    where: str = ""


NATIVE = "m.labels->>'native' = 'true'"
WHOLE = "m.labels->>'replica' IS NULL"  # the deployment's figure, not one replica's
HTTP = "m.labels->>'path' = 'http'"
ONE_STREAM = "m.labels->>'concurrency' = '1'"
RECONFIGURE = "m.labels->>'strategy' = 'reconfigure'"
ROLLOUT = "m.labels->>'strategy' = 'rollout'"

# The timed parts of a stage's wall time, each a catalogued metric of that stage (every labelled value counts; ms
# are converted): the runner stores what they leave as the stage's unaccounted_s, so a hole in a big model's
# trial cannot hide. Stages not listed (the request windows of serve, load, update, faults) are their windows.
STAGE_PARTS: dict[str, tuple[str, ...]] = {
    "train": ("trial_actor_start_s", "ingest_probe_s", "train_wall_s"),
    # retraining then scores the retrained model: loading its checkpoint and predicting are named parts too
    "retrain": ("trial_actor_start_s", "ingest_probe_s", "retrain_wall_s", "data_load_s", "checkpoint_fetch_s",
                "checkpoint_load_s", "eval_predict_s", "model_facts_s"),
    "evaluate": ("trial_actor_start_s", "data_load_s", "checkpoint_fetch_s", "checkpoint_load_s", "eval_predict_s",
                 "model_facts_s"),
    "persist": ("trial_actor_start_s", "data_load_s", "checkpoint_load_s", "reference_predict_s", "save_s", "load_s",
                "first_predict_s", "upload_s"),
    "deploy": ("trial_actor_start_s", "request_data_s", "deploy_ready_s", "request_bodies_s", "first_request_ms"),
}


def unaccounted_s(stage: str, wall_s: float, measured: list[tuple[str, str, float | None, dict]]) -> float | None:
    """``wall_s`` minus the stage's named parts among ``measured`` (stage, metric, value, labels); None for a stage
    without declared parts. Per-replica figures are inside the deployment's and are not counted twice."""
    parts = STAGE_PARTS.get(stage)
    if parts is None:
        return None
    total = 0.0
    for m_stage, metric, value, labels in measured:
        if m_stage != stage or metric not in parts or value is None or "replica" in labels:
            continue
        total += value / 1000 if metric.endswith("_ms") else value
    return wall_s - total


LIFECYCLE_COLUMNS: tuple[Column, ...] = (
    Column("accuracy", "evaluate", "accuracy"),
    Column("baseline_accuracy", "evaluate", "baseline_accuracy"),
    Column("top5_accuracy", "evaluate", "top5_accuracy"),
    Column("eval_loss", "evaluate", "eval_loss"),
    Column("perplexity", "evaluate", "perplexity"),
    Column("baseline_perplexity", "evaluate", "baseline_perplexity"),
    Column("quality_measured", "evaluate", "quality_measured"),
    Column("train_wall_s", "train", "train_wall_s"),
    Column("train_setup_s", "train", "train_setup_s"),
    Column("time_to_target_s", "train", "time_to_target_s"),
    Column("train_samples_per_s", "train", "train_samples_per_s"),
    Column("train_tokens_per_s", "train", "train_tokens_per_s"),
    Column("mfu", "train", "mfu"),
    Column("final_loss", "train", "final_loss"),
    Column("train_peak_rss_mb", "train", "train_peak_rss_mb"),
    Column("params", "model", "params"),
    Column("flops_per_sample", "model", "flops_per_sample"),
    Column("model_memory_bytes", "model", "model_memory_bytes"),
    Column("native_bytes", "persist", "bytes", NATIVE),
    Column("native_save_s", "persist", "save_s", NATIVE),
    Column("native_load_s", "persist", "load_s", NATIVE),
    Column("retrain_wall_s", "retrain", "retrain_wall_s"),
    Column("retrain_accuracy", "retrain", "accuracy"),
    Column("deploy_ready_s", "deploy", "deploy_ready_s"),
    Column("first_request_ms", "deploy", "first_request_ms"),
    Column("replica_load_s", "deploy", "replica_load_s", WHOLE),
    Column("replica_rss_mb", "deploy", "replica_rss_mb", WHOLE),
    Column("served_accuracy", "serve", "served_accuracy", HTTP),
    # a decoder's streams: one stream's latency, and the most tokens/s of any concurrency level
    Column("ttft_p50_ms", "serve", "ttft_p50_ms", ONE_STREAM),
    Column("tpot_p50_ms", "serve", "tpot_p50_ms", ONE_STREAM),
    Column("output_tokens_per_s", "serve", "output_tokens_per_s"),
    Column("max_rps_at_slo", "load", "max_rps_at_slo"),
    Column("reconfigure_update_s", "update", "update_s", RECONFIGURE),
    Column("reconfigure_failed_requests", "update", "failed_requests", RECONFIGURE),
    Column("rollout_update_s", "update", "update_s", ROLLOUT),
    Column("rollout_failed_requests", "update", "failed_requests", ROLLOUT),
    Column("rollout_max_gap_s", "update", "max_gap_s", ROLLOUT),
    Column("teardown_s", "teardown", "teardown_s"),
    Column("overhead_s", "trial", "overhead_s"),
)
