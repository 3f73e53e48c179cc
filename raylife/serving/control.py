"""Driving Ray Serve from the driver: start it, and one ``ServeApp`` per trial that deploys, updates and deletes
its application declaratively.

Applications are applied as a config (``ServeDeploySchema``) through the Serve controller — the path that
``serve deploy config.yaml``, the dashboard's REST API and KubeRay's RayService take — because only that path
updates ``user_config`` in place. The imperative ``serve.run`` replaces every replica on each call, even when
only ``user_config`` changed (measured: docs/ray-notes.md). Ray exposes the config path in
Python only through its internal client, so it is wrapped here, in one place.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raylife.errors import ClusterError, RaylifeError
from raylife.serving.messages import ModelVersion, ReplicaArgs, ReplicaStats

APP_PREFIX = "raylife-"
DEPLOYMENT = "ModelServer"
IMPORT_PATH = "raylife.serving.replica:app_builder"
# One HTTP proxy, on the head node: raylife's clients send every request to one address (the head), and nodes that
# share a host (a test cluster on one machine) cannot each bind the same port.
PROXY_LOCATION = "HeadOnly"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "0.0.0.0", "::1", "::"}


class ServeDeployError(RaylifeError):
    """Serve could not deploy or update an application."""


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another process holds: Serve's proxy would fail to bind it, and keep retrying."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host if host not in ("localhost",) else "127.0.0.1", port))
        except OSError as exc:
            raise ClusterError(
                f"port {port} on {host} is already in use ({exc.strerror})",
                where="serve.port / serve.host in the suite",
                hint="stop what listens there, or set serve.port to a free port",
            ) from None


def serve_running() -> bool:
    """Whether a Serve controller runs on the connected cluster (found by name, as Serve itself finds it)."""
    from ray.serve.context import _get_global_client

    return _get_global_client(raise_if_no_controller_running=False) is not None


def start_serve(host: str, port: int, check_port: bool, quiet: bool = True) -> float:
    """Start Serve with HTTP on host:port; returns seconds taken. Refuses a cluster whose Serve runs other apps."""
    import logging

    from ray import serve

    if quiet:
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
    if serve_running():
        foreign = [name for name in serve.status().applications if not name.startswith(APP_PREFIX)]
        if foreign:
            raise ClusterError(
                f"Ray Serve on this cluster already runs applications {', '.join(sorted(foreign))}",
                where="--address",
                hint="raylife deploys its applications declaratively, which would replace them: use a dedicated cluster",
            )
        from ray.serve.context import _get_global_client

        running = _get_global_client().http_config.port
        if running != port:  # clients would knock on the suite's port while Serve answers on its own
            raise ClusterError(
                f"Ray Serve already runs on this cluster with HTTP on port {running}, not the suite's {port}",
                where="serve.port in the suite",
                hint=f"set serve.port = {running}, or stop that Serve first (serve shutdown)",
            )
        return 0.0
    if check_port:
        check_port_free(host, port)
    started = time.perf_counter()
    serve.start(proxy_location=PROXY_LOCATION, http_options={"host": host, "port": port})
    elapsed = time.perf_counter() - started
    if quiet:
        import logging

        # Serve configures its driver-side logger on start and logs every deploy and delete at INFO.
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
    return elapsed


def shutdown_serve() -> None:
    from ray import serve

    serve.shutdown()


@dataclass(frozen=True)
class DeploymentSettings:
    """How Serve runs one trial's deployment: replicas, their resources, and the HTTP address clients use."""

    replicas: int
    cpus_per_replica: float
    max_ongoing_requests: int
    host: str
    port: int
    env_vars: Mapping[str, str] = field(default_factory=dict)
    max_surge_percent: int | None = None
    resources: Mapping[str, float] = field(default_factory=dict)  # the platform's custom resources
    labels: Mapping[str, str] = field(default_factory=dict)  # the platform's node labels
    gpus_per_replica: float = 0.0
    graceful_shutdown: Mapping[str, float] = field(default_factory=dict)  # Serve's own settings, only those set
    autoscaling: Mapping[str, Any] | None = None  # Serve's autoscaling_config; replaces a fixed replica count


def deploy_config(app: str, args: Any, user_config: ModelVersion | None, settings: DeploymentSettings,
                  import_path: str = IMPORT_PATH, deployment_name: str = DEPLOYMENT) -> dict[str, Any]:
    """The whole desired state of Serve, as the JSON-shaped config Serve's schema takes: this one application
    (raylife runs one trial's app at a time). ``args``: the application builder's (a pydantic model: ``ReplicaArgs``
    for a classifier's ``ModelServer``, ``CompletionArgs`` for a decoder's ``CompletionServer``)."""
    scaling = {"autoscaling_config": dict(settings.autoscaling)} if settings.autoscaling else {
        "num_replicas": settings.replicas}
    deployment: dict[str, Any] = {
        "name": deployment_name,
        **scaling,
        "max_ongoing_requests": settings.max_ongoing_requests,
        **dict(settings.graceful_shutdown),
        **({"user_config": user_config.model_dump()} if user_config is not None else {}),
        "ray_actor_options": {
            "num_cpus": settings.cpus_per_replica,
            **({"num_gpus": settings.gpus_per_replica} if settings.gpus_per_replica else {}),
            **({"resources": dict(settings.resources)} if settings.resources else {}),
            **({"label_selector": dict(settings.labels)} if settings.labels else {}),
        },
    }
    if settings.max_surge_percent is not None:
        deployment["max_surge_percent"] = settings.max_surge_percent
    runtime_env: dict[str, Any] = {"env_vars": dict(settings.env_vars)}
    py_modules = _job_py_modules()
    if py_modules:
        runtime_env["py_modules"] = py_modules  # replicas are not children of this job: ship raylife explicitly
    return {
        "proxy_location": PROXY_LOCATION,
        "http_options": {"host": settings.host, "port": settings.port},
        "applications": [
            {
                "name": app,
                "route_prefix": f"/{app}",
                "import_path": import_path,
                "args": args.model_dump(),
                "runtime_env": runtime_env,
                "deployments": [deployment],
            }
        ],
    }


def _job_py_modules() -> list[str]:
    """The uploaded (gcs://) py_modules of this job's runtime env, when raylife shipped itself (--address)."""
    import ray

    if not ray.is_initialized():
        return []
    modules = (ray.get_runtime_context().runtime_env or {}).get("py_modules") or []
    return [m for m in modules if isinstance(m, str) and "://" in m]


def apply_config(config: dict[str, Any]) -> None:
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeDeploySchema

    _get_global_client().deploy_apps(ServeDeploySchema.model_validate(config))


def app_status(app: str) -> tuple[str, str]:
    """(status, message) of an application; ("NOT_STARTED", "") when Serve does not know it."""
    from ray import serve

    status = serve.status().applications.get(app)
    if status is None:
        return "NOT_STARTED", ""
    messages = [status.message] + [d.message for d in status.deployments.values() if d.message]
    return str(getattr(status.status, "value", status.status)), " ".join(m for m in messages if m)


def wait_running(app: str, timeout_s: float, poll_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        status, message = app_status(app)
        if status == "RUNNING":
            return
        if status == "DEPLOY_FAILED":
            raise ServeDeployError(f"Serve could not deploy {app}: {message.strip()[:400]}")
        if time.monotonic() > deadline:
            raise ServeDeployError(
                f"{app} was not running after {timeout_s:.0f} s (status {status}: {message.strip()[:200]})",
                hint="raise serve.ready_timeout_s, or check that the cluster has CPUs free for the replicas",
            )
        time.sleep(poll_s)


def replica_stats(app: str, replicas: int, timeout_s: float = 30.0) -> dict[str, ReplicaStats]:
    """``stats()`` of every running replica, keyed by replica id (asks until each one has answered)."""
    from ray import serve

    handle = serve.get_app_handle(app)
    found: dict[str, ReplicaStats] = {}
    deadline = time.monotonic() + timeout_s
    while len(found) < replicas:
        if time.monotonic() > deadline:
            raise ServeDeployError(f"only {len(found)} of {replicas} replicas of {app} answered within {timeout_s:.0f} s")
        stats: ReplicaStats = handle.stats.remote().result(timeout_s=timeout_s)
        found[stats.replica] = stats
    return found


@dataclass(frozen=True)
class ReplicaCount:
    """What Serve's controller says of a deployment's replicas at one moment (``serve.status()``)."""

    at_unix: float
    running: int
    starting: int  # being scheduled or constructed
    stopping: int
    status: str  # HEALTHY | UPSCALING | DOWNSCALING | UPDATING | ...


def replica_count(app: str) -> ReplicaCount | None:
    """The deployment's replicas by state now; None when Serve does not know the application."""
    from ray import serve

    status = serve.status().applications.get(app)
    deployment = status.deployments.get(DEPLOYMENT) if status is not None else None
    if deployment is None:
        return None
    states = {str(getattr(k, "value", k)): v for k, v in deployment.replica_states.items()}
    return ReplicaCount(
        at_unix=time.time(), running=states.get("RUNNING", 0), starting=states.get("STARTING", 0),
        stopping=states.get("STOPPING", 0), status=str(getattr(deployment.status, "value", deployment.status)))


def delete_app(app: str) -> None:
    from ray import serve

    if app_status(app)[0] != "NOT_STARTED":
        serve.delete(app, _blocking=True)


def free_cpus() -> float:
    import ray

    return float(ray.available_resources().get("CPU", 0.0))


def free_gpus() -> float:
    import ray

    return float(ray.available_resources().get("GPU", 0.0))


@dataclass
class ServeApp:
    """One trial's Serve application: the config it was last given, and every operation on it.

    ``args`` are the replicas' constructor arguments and ``user_config`` what ``reconfigure()`` receives; an update
    changes one or both and re-applies the whole config, as ``serve deploy`` would.
    """

    name: str
    url: str
    args: ReplicaArgs
    user_config: ModelVersion
    settings: DeploymentSettings

    @property
    def version(self) -> str:
        return self.user_config.version

    def config(self) -> dict[str, Any]:
        return deploy_config(self.name, self.args, self.user_config, self.settings)

    def deploy(self, timeout_s: float) -> None:
        """Apply the config and wait until Serve reports the application running."""
        apply_config(self.config())
        wait_running(self.name, timeout_s)

    def update(self, strategy: str, model_dir: str, version: str) -> None:
        """Point the application at another model, without waiting.

        reconfigure: only user_config changes (Serve calls ``reconfigure()`` on the live replicas);
        rollout: the constructor arguments change too, so Serve starts new replicas and retires the old.
        """
        if strategy not in UPDATE_STRATEGIES:
            raise ValueError(f"unknown update strategy {strategy!r}")
        self.user_config = ModelVersion(model_dir=model_dir, version=version)
        if strategy == "rollout":
            self.args = self.args.model_copy(update={"model_dir": model_dir, "version": version})
        apply_config(self.config())

    def wait_running(self, timeout_s: float) -> None:
        wait_running(self.name, timeout_s)

    def status(self) -> tuple[str, str]:
        return app_status(self.name)

    def replica_stats(self, replicas: int | None = None, timeout_s: float = 30.0) -> dict[str, ReplicaStats]:
        """Every replica's own stats; ``replicas`` defaults to the deployment's count (an autoscaled one's now)."""
        if replicas is None:
            replicas = self.running_replicas() if self.settings.autoscaling else self.settings.replicas
        return replica_stats(self.name, replicas, timeout_s)

    def replica_count(self) -> ReplicaCount | None:
        return replica_count(self.name)

    def running_replicas(self) -> int:
        """Replicas running now (an autoscaled deployment's count changes with the load)."""
        count = replica_count(self.name)
        return max(1, count.running) if count else 1

    def handle(self) -> Any:
        from ray import serve

        return serve.get_app_handle(self.name)

    def delete(self) -> None:
        delete_app(self.name)


UPDATE_STRATEGIES = ("reconfigure", "rollout")
