"""deploy: host the trial's saved model on Ray Serve and time it until every replica answers."""

from __future__ import annotations

import time
from typing import Any

from raylife.errors import ClusterError
from raylife.plan import Trial
from raylife.clients.http_client import JsonClient
from raylife.clients.requests import RequestSet, http_sender
from raylife.remote.messages import ServingData
from raylife.serving import control as sc
from raylife.serving.messages import ModelVersion, ReplicaArgs
from raylife.stages.context import TrialContext


def serving_url(ctx: TrialContext, app: str) -> str:
    spec = ctx.trial.serve
    host = ctx.artifacts.serve_client_host or ("127.0.0.1" if spec.host in sc.LOCAL_HOSTS else spec.host)
    return f"http://{host}:{spec.port}/{app}"


class DeployStage:
    name = "deploy"

    def run(self, ctx: TrialContext) -> None:
        data = self._serving_data(ctx)
        _check_room(ctx.trial)
        app = self._app(ctx, data)
        ctx.artifacts.app = app
        ctx.add_cleanup(app.delete)  # never leave an application behind, also when the trial fails
        spec, replicas = ctx.trial.serve, ctx.trial.serve.start_replicas
        scaled = f" (autoscaling up to {spec.autoscaling.max_replicas})" if spec.autoscaling else ""
        ctx.on_progress(f"deploying {replicas} replica{'s' if replicas > 1 else ''}{scaled}")
        started = time.perf_counter()
        app.deploy(spec.ready_timeout_s)
        stats = app.replica_stats(replicas, timeout_s=spec.ready_timeout_s)
        ctx.record.add(self.name, "deploy_ready_s", time.perf_counter() - started, "s", replicas=replicas)
        self._first_request(ctx, app, data)
        self._record_replicas(ctx, stats)

    def _serving_data(self, ctx: TrialContext) -> ServingData:
        """The held-out requests and the served format's offline answers, prepared on the trial's actor."""
        t = ctx.trial
        model_dir = ctx.artifacts.need("models")[t.serve_format]
        ctx.on_progress("preparing requests from held-out data")
        prepared = time.perf_counter()
        data: ServingData = ctx.wait(
            ctx.on_trial_actor("serving_data", t.data, t.serve_format, model_dir),
            f"request preparation for {t.name}",
        )
        ctx.record.add(self.name, "request_data_s", time.perf_counter() - prepared, "s")
        ctx.artifacts.serving_data = data
        return data

    def _app(self, ctx: TrialContext, data: ServingData) -> sc.ServeApp:
        """The trial's Serve application: the served format, the suite's serving settings, the trial's platform."""
        t, spec = ctx.trial, ctx.trial.serve
        model_dir = ctx.artifacts.need("models")[t.serve_format]
        on_gpu = t.serve_device == "gpu"
        name = f"{sc.APP_PREFIX}{ctx.record.trial_id}"
        return sc.ServeApp(
            name=name,
            url=serving_url(ctx, name),
            args=ReplicaArgs(
                framework=t.framework, format=t.serve_format, model_dir=model_dir, version="trained-1",
                threads=max(1, int(spec.cpus_per_replica)), max_batch_size=spec.max_batch_size,
                batch_wait_timeout_s=spec.batch_wait_timeout_s, input_dtype=str(data.x.dtype),
                device=t.serve_device, precision=t.precision,
            ),
            user_config=ModelVersion(model_dir=model_dir, version="trained-1"),
            settings=sc.DeploymentSettings(
                replicas=spec.replicas, cpus_per_replica=spec.cpus_per_replica,
                max_ongoing_requests=spec.max_ongoing_requests, host=spec.host, port=spec.port,
                env_vars=ctx.runtime_env()["env_vars"],
                max_surge_percent=t.update.max_surge_percent if t.update else None,
                resources=dict(t.platform_resources), labels=dict(t.platform_labels),
                gpus_per_replica=spec.gpus_per_replica if on_gpu else 0.0,
                graceful_shutdown=spec.graceful_shutdown(),
                autoscaling=spec.autoscaling.serve_config() if spec.autoscaling else None,
            ),
        )

    def _first_request(self, ctx: TrialContext, app: sc.ServeApp, data: ServingData) -> None:
        """The first, cold request over HTTP, timed and checked (a deployment that answers wrongly fails here)."""
        encoded = time.perf_counter()
        requests = RequestSet(data.x, data.y, data.offline_pred, 1)
        ctx.record.add(self.name, "request_bodies_s", time.perf_counter() - encoded, "s", batch_size=1)
        client = JsonClient(app.url, ctx.trial.serve.request_timeout_s)
        first_start = time.perf_counter()
        first = http_sender(requests, client)(0)
        first_ms = (time.perf_counter() - first_start) * 1000
        client.close()
        if not first.ok:
            raise sc.ServeDeployError(f"the first request to {app.url} failed: {first.error}")
        ctx.record.add(self.name, "first_request_ms", first_ms, "ms", path="http", batch_size=1)

    def _record_replicas(self, ctx: TrialContext, stats: dict[str, Any]) -> None:
        """Each replica's start, load and memory (the slowest as the deployment's figure), and where it ran."""
        add, fmt = ctx.record.add, ctx.trial.serve_format
        add(self.name, "replica_init_s", max(s.init_s for s in stats.values()), "s")
        add(self.name, "replica_load_s", max(s.first_load.load_s for s in stats.values()), "s", format=fmt)
        add(self.name, "replica_rss_mb", max(s.rss_loaded_mb for s in stats.values()), "MiB")
        add(self.name, "replicas", len(stats), "count")
        for replica, s in stats.items():
            add(self.name, "replica_load_s", s.first_load.load_s, "s", format=fmt, replica=replica)
            if s.first_load.fetch_s is not None:
                add(self.name, "replica_fetch_s", s.first_load.fetch_s, "s", format=fmt, replica=replica)
            add(self.name, "replica_rss_mb", s.rss_loaded_mb, "MiB", replica=replica)
            ctx.record.add_placement(self.name, "replica", None, s.node_id, s.environment)


def _check_room(t: Trial) -> None:
    """The replicas fit in what the cluster has free now (Serve would otherwise wait for resources forever)."""
    spec = t.serve
    replicas = spec.start_replicas
    need, free = replicas * spec.cpus_per_replica, sc.free_cpus()
    if need > free + 1e-9:
        raise ClusterError(
            f"{replicas} replicas x {spec.cpus_per_replica:g} CPUs need {need:g} CPUs, only {free:g} are free",
            where="serve.replicas / serve.cpus_per_replica",
            hint="lower them, or use a larger cluster",
        )
    if t.serve_device == "gpu" and replicas * spec.gpus_per_replica > sc.free_gpus() + 1e-9:
        raise ClusterError(
            f"{replicas} replicas x {spec.gpus_per_replica:g} GPUs need {replicas * spec.gpus_per_replica:g} "
            f"GPUs, only {sc.free_gpus():g} are free", where="serve.replicas / serve.gpus_per_replica",
            hint="share a GPU with a fraction (gpus_per_replica = 0.25), or use a cluster with more GPUs",
        )
