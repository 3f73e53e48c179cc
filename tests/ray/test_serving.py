"""Ray Serve on the session's cluster, driven stage by stage from this process: a replica lost under load, one
killed on purpose under the open-loop client, teardown after a failure, the handle path, Serve's own settings.
(The user errors raised before anything is deployed — a busy port, replicas that cannot fit — are tests/cli's.)"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from raylife.plan import plan_trials
from raylife.records import TrialRecord
from raylife.stages import STAGES, TrialContext
from raylife.serving import control as sc
from raylife.artifacts import Location
from raylife.suite import parse_suite
from raylife.errors import ClusterError
from tests.conftest import MINIMAL_SUITE

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def serve_port(ray_session):
    port = free_port()
    sc.start_serve("127.0.0.1", port, check_port=True)
    yield port
    sc.shutdown_serve()  # the runs submitted to the cluster after this module start their own Serve


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """An untrained cnn_small in the state_dict format: deployment does not care how good the weights are."""
    from raylife.frameworks import FRAMEWORKS

    from raylife.frameworks.model import Recipe

    backend = FRAMEWORKS.get("torch").load_backend()
    recipe = Recipe(builder="raylife.workloads.vision.torch_models:cnn_small", input_shape=(8, 8, 1), num_classes=10,
                    options={"width": 16}, framework="torch", model="cnn_small")
    directory = tmp_path_factory.mktemp("model") / "state_dict"
    directory.mkdir()
    import numpy as np

    backend.formats["state_dict"].save(backend.build_model(recipe), directory, np.zeros((1, 8, 8, 1), np.float32), recipe)
    return directory


def context(port: int, model_dir, tmp_path, extra: str = "", index: int = 0) -> TrialContext:
    # One window per cell (stable_windows = 1): these tests count the requests of faults, not stability; and
    # replicas that stop at once (Serve's 2 s graceful-shutdown loop would only add waiting to every cleanup).
    suite = parse_suite(MINIMAL_SUITE + f'frameworks = ["torch"]\n[serve]\nport = {port}\nstable_windows = 1\n'
                        f'graceful_shutdown_wait_loop_s = 0.1\n{extra}')
    trial = plan_trials(suite)[0]
    record = TrialRecord(run_id=f"test{index}", trial=trial)
    ctx = TrialContext(trial=trial, record=record, storage=Location.parse(tmp_path))
    ctx.artifacts.models = {"state_dict": str(model_dir)}
    return ctx


def replica_actors() -> list[str]:
    import ray

    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith("SERVE_REPLICA::")]


def test_a_replica_lost_under_load_is_recorded_and_the_stage_goes_on(serve_port, saved_model, tmp_path):
    import ray

    ctx = context(serve_port, saved_model, tmp_path,
                  "replicas = 2\nbatch_sizes = [32]\nconcurrency = [4]\nrequests = 200\nwarmup_requests = 0\n", index=1)
    try:
        STAGES.get("deploy")().run(ctx)
        assert len(replica_actors()) == 2

        def kill_replicas_under_load():
            # A request fails only when it is on a replica at the instant the replica dies (otherwise Serve routes
            # around the dead one). A kill from outside loses that race on a loaded machine (requests waited in the
            # proxy while both replicas died, and none failed), so each replica, mid-load, ends itself: a thread in
            # its own process exits the process the moment the replica holds a request.
            def exit_while_serving(replica) -> None:  # nested: cloudpickle sends it by value, not by module name
                import os

                def watch() -> None:
                    while replica.get_num_ongoing_requests() < 1:
                        time.sleep(0.0005)
                    os._exit(1)

                threading.Thread(target=watch, daemon=True).start()

            for name in replica_actors():
                time.sleep(0.4)
                try:
                    ray.get(ray.get_actor(name, namespace="serve").__ray_call__.remote(exit_while_serving))
                except ray.exceptions.RayActorError:
                    pass  # it held a request already and ended before answering

        killer = threading.Thread(target=kill_replicas_under_load)
        killer.start()
        STAGES.get("serve")().run(ctx)  # must not raise
        killer.join()
    finally:
        ctx.close()
    [requests] = [m.value for m in ctx.record.measurements if m.metric == "requests"]
    [errors] = [m.value for m in ctx.record.measurements if m.metric == "errors"]
    reasons = {m.labels["reason"]: m.value for m in ctx.record.measurements if m.metric == "errors_by_reason"}
    assert requests == 200  # every request is in the record, failed or not
    assert errors >= 1 and sum(reasons.values()) == errors
    assert all(reason.startswith("HTTP 5") or "Error" in reason for reason in reasons)
    assert len(ctx.record.latencies[0].seq) == 200
    assert sc.app_status(f"{sc.APP_PREFIX}{ctx.record.trial_id}")[0] == "NOT_STARTED"  # cleaned up


class Explode:
    name = "explode"

    def run(self, ctx):
        raise RuntimeError("boom after deploy")


def test_a_trial_that_fails_after_deploying_leaves_no_application(serve_port, saved_model, tmp_path, monkeypatch):
    from dataclasses import replace

    from raylife.runner.observer import SilentObserver
    from raylife.runner.run import run_trial

    ctx = context(serve_port, saved_model, tmp_path, "batch_sizes = [1]\nconcurrency = [1]\nrequests = 5\n", index=2)

    # run_trial builds its own context; give the deploy stage the saved model through a stage that runs first.
    class Seed:
        name = "seed"

        def run(self, inner):
            inner.artifacts.models = {"state_dict": str(saved_model)}

    trial = replace(ctx.trial, stages=("seed", "deploy", "explode", "teardown"))
    with STAGES.override("explode", Explode), STAGES.override("seed", Seed):  # registered for this test only
        record = run_trial(trial, "test2", Location.parse(tmp_path), SilentObserver())
    assert record.status == "failed" and record.error == "RuntimeError: boom after deploy"
    assert [a for a in __import__("ray").serve.status().applications if a.startswith(sc.APP_PREFIX)] == []
    assert replica_actors() == []


def test_a_suite_whose_port_is_not_the_running_serves_is_refused(serve_port):
    # On a cluster whose Serve already runs, clients would knock on the suite's port while Serve answers on its own.
    other = free_port()
    with pytest.raises(ClusterError, match=f"Ray Serve already runs on this cluster with HTTP on port {serve_port}, "
                                           f"not the suite's {other}"):
        sc.start_serve("127.0.0.1", other, check_port=True)
    assert sc.start_serve("127.0.0.1", serve_port, check_port=True) == 0.0  # the same port: joined, not restarted


def test_the_handle_path_is_measured_like_http_on_replicas_run_with_the_suites_serve_settings(serve_port, saved_model,
                                                                                              tmp_path):
    from ray.serve.context import _get_global_client

    # context() sets graceful_shutdown_wait_loop_s = 0.1: Serve runs the replicas with it, and teardown is timed
    ctx = context(serve_port, saved_model, tmp_path,
                  'paths = ["http", "handle"]\nbatch_sizes = [4]\nconcurrency = [2]\nrequests = 30\nwarmup_requests = 2\n', index=3)
    try:
        STAGES.get("deploy")().run(ctx)
        details = _get_global_client().get_serve_details()
        [deployment] = details["applications"][ctx.artifacts.app.name]["deployments"].values()
        assert deployment["deployment_config"]["graceful_shutdown_wait_loop_s"] == 0.1
        STAGES.get("serve")().run(ctx)
        STAGES.get("teardown")().run(ctx)
    finally:
        ctx.close()
    by_path = {batch.path: batch for batch in ctx.record.latencies}
    assert set(by_path) == {"http", "handle"} and all(len(b.seq) == 30 and all(b.ok) for b in by_path.values())
    accuracy = {(m.metric, m.labels["path"]): m.value for m in ctx.record.measurements if m.metric.endswith("_accuracy")}
    assert accuracy[("served_accuracy", "handle")] == accuracy[("offline_accuracy", "handle")]
    assert accuracy[("served_accuracy", "http")] == accuracy[("served_accuracy", "handle")]  # same inputs, same model
    [teardown] = [m.value for m in ctx.record.measurements if m.metric == "teardown_s"]
    assert teardown > 0 and sc.app_status(f"{sc.APP_PREFIX}{ctx.record.trial_id}")[0] == "NOT_STARTED"


def test_a_replica_killed_on_purpose_is_replaced_and_its_recovery_timed(serve_port, saved_model, tmp_path):
    # Requests caught by the outage wait for their answer up to request_timeout_s: 5 s keeps the window short
    ctx = context(serve_port, saved_model, tmp_path,
                  "replicas = 1\nbatch_sizes = [1]\nconcurrency = [1]\nrequests = 40\nwarmup_requests = 0\n"
                  "request_timeout_s = 5\n[faults]\nkill_replica_after_s = 0.5\nreplica_load_rps = 40\n", index=4)
    try:
        STAGES.get("deploy")().run(ctx)
        STAGES.get("serve")().run(ctx)
    finally:
        ctx.close()
    values = {m.metric: (m.value, m.labels) for m in ctx.record.measurements if m.stage == "serve"}
    recovery, labels = values["replica_recovery_s"]
    assert "error" not in labels and labels["after_s"] == 0.5 and labels["offered_rps"] == 40
    assert recovery > 0  # how long is the machine's business; that it was timed, and from a kill, is the test's
    assert values["requests"][0] == 40  # the closed-loop cell ran first, on the healthy deployment, and is whole
    [window] = [b for b in ctx.record.latencies if b.phase == "replica-fault"]
    sent = window.sent_s
    # the open loop kept its schedule through the outage (a closed loop would have stopped sending while it waited):
    # one request every 25 ms from before the kill until a second after the replacement answered
    assert sent == pytest.approx([i / 40 for i in range(len(sent))])
    assert sent[-1] >= 0.5 + recovery + 0.5
    failed = values["recovery_failed_requests"][0]
    # with the only replica dead, the requests sent meanwhile failed or waited for the new one
    assert 0 <= failed <= len(sent) - sum(window.ok)
    assert values["recovery_p99_ms"][0] is None or values["recovery_p99_ms"][0] > 0
    assert all(window.ok[-10:]), window.error[-10:]  # the service is back
