"""update: roll the retrained model out under steady load and measure what the update costs the clients."""

from __future__ import annotations

import time

from raylife.measure.metrics import unit_of
from raylife.clients.open_loop import OpenLoopClient
from raylife.clients.requests import RequestSet
from raylife.clients.updates import failures_by_replica_state, update_metrics
from raylife.remote.messages import ServingData
from raylife.serving.control import ServeApp, ServeDeployError
from raylife.serving.watch import ReplicaWatch
from raylife.stages.context import TrialContext
from raylife.stages.hardware import ReplicaMeter
from raylife.suite.spec import UpdateSpec


STATS_NEVER_S = 3600.0  # the update's watch reads replica counts only (a replica's stats answer would load it)


class UpdateStage:
    name = "update"

    def run(self, ctx: TrialContext) -> None:
        t, spec, update = ctx.trial, ctx.trial.serve, ctx.trial.update
        app: ServeApp = ctx.artifacts.need("app")
        data: ServingData = ctx.artifacts.need("serving_data")
        ctx.on_progress(f"saving the retrained model as {t.serve_format}")
        [saved] = ctx.wait(
            ctx.on_trial_actor(
                "persist", t.data, ctx.artifacts.need("retrained_checkpoint"), [t.serve_format],
                ctx.storage.child("models-retrained").uri,
            ),
            f"saving the retrained model of {t.name}",
        ).formats
        requests = RequestSet(data.x, data.y, data.offline_pred, update.batch_size)
        for number, strategy in enumerate(update.strategies, start=2):
            version = f"{strategy}-{number}"
            ctx.on_progress(f"{strategy}: {update.rate_rps:g} req/s, steady")
            meter = ReplicaMeter(lambda: app.replica_stats(timeout_s=10))
            # the load stage's open-loop client, at a steady rate: its p99s compare with the sweep's
            client = OpenLoopClient(app.url, requests.bodies, requests.check, timeout_s=spec.request_timeout_s)
            # Serve's replica states over the window: what a failed request was sent into (no answer, no replica id)
            watch = ReplicaWatch(app, stats_every_s=STATS_NEVER_S).start()
            client.start(update.rate_rps)
            try:
                time.sleep(update.before_s)
                t_update = client.now_s()
                ctx.on_progress(f"{strategy}: updating under {update.rate_rps:g} req/s")
                app.update(strategy, saved.path, version)
                t_done = self._wait_until_all_new(client, t_update, version, update)
            finally:
                samples = client.stop().samples
                watch.stop()
            t0_unix = client.t0 + (time.time() - time.perf_counter())
            app.wait_running(update.timeout_s)
            meter.stop(ctx, self.name, t.serve_device == "gpu", strategy=strategy)  # old replicas' and new ones'
            metrics = {**update_metrics(samples, t_update, t_done, version),
                       **failures_by_replica_state(samples, watch.counts, t0_unix)}
            for metric, value in metrics.items():
                ctx.record.add(
                    self.name, metric, value, unit_of(self.name, metric), strategy=strategy, offered_rps=update.rate_rps,
                    max_surge_percent=update.max_surge_percent, replicas=spec.replicas,
                    # the update window on the latencies' clock (sent_s), for the report's timeline
                    window_start_s=round(t_update, 4), window_end_s=round(t_done, 4),
                )
            ctx.record.add_latencies(f"update-{strategy}", "http", samples, update.batch_size, offered_rps=update.rate_rps)

    @staticmethod
    def _wait_until_all_new(client: OpenLoopClient, t_update: float, version: str, update: UpdateSpec) -> float:
        """The moment from which every answer comes from ``version``, once that has held for settle_s."""
        deadline = t_update + update.timeout_s
        while True:
            time.sleep(0.05)
            answers = [(done, o.version) for done, o in client.answered() if o.ok and done >= t_update]
            new = [done for done, v in answers if v == version]
            if new:
                old = [done for done, v in answers if v != version]
                all_new_from = max(min(new), max(old, default=0.0))
                if client.now_s() - all_new_from >= update.settle_s:
                    return all_new_from
            if client.now_s() > deadline:
                raise ServeDeployError(
                    f"the update to {version} did not reach every answer within {update.timeout_s:.0f} s",
                    hint="raise update.timeout_s",
                )
