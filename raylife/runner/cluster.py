"""Connecting to Ray: an embedded local cluster by default, or an existing one with --address."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raylife.errors import ClusterError
from raylife.measure.environment import ClusterInfo, NodeInfo
from raylife.plan import Trial

CONNECT_CHECK_S = 3.0


@dataclass(frozen=True)
class Cluster:
    address: str  # "local" for the embedded cluster
    started_locally: bool
    ray_start_s: float
    info: ClusterInfo


RAY_CLIENT_PORT = 10001
WHERE_ADDRESS = "--address / RAY_ADDRESS"


def _host_port(address: str) -> tuple[str, int]:
    """Host and port of an address as Ray takes it (``host:port`` or ``ray://host[:port]``); ClusterError otherwise."""
    scheme, sep, rest = address.partition("://")
    bare = (rest if sep else address).rstrip("/")
    if sep and scheme != "ray":
        raise ClusterError(f"--address {address} has an unknown scheme '{scheme}://'", where=WHERE_ADDRESS,
                           hint="give host:port (the GCS address, usually port 6379), ray://host:10001, or auto")
    host, colon, port = bare.rpartition(":")
    if not colon:
        if sep:
            return bare, RAY_CLIENT_PORT
        raise ClusterError(f"--address {address} has no port", where=WHERE_ADDRESS,
                           hint=f"give host:port, e.g. {bare}:6379 (the head node's GCS port), or ray://{bare}:10001")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ClusterError(f"--address {address}: port '{port}' is not a port number (1-65535)", where=WHERE_ADDRESS,
                           hint="the head node's GCS port is usually 6379; the Ray client port 10001")
    if not host:
        raise ClusterError(f"--address {address} has no host", where=WHERE_ADDRESS, hint="give host:port, e.g. 10.0.0.5:6379")
    return host.strip("[]"), int(port)


def resolve_address(address: str) -> str:
    """``auto`` → the cluster `ray start` left on this machine, as Ray itself finds it; ClusterError when none."""
    if address != "auto":
        return address
    from ray._private import services

    found = services.find_bootstrap_address(None) or next(iter(services.find_gcs_addresses()), None)
    if not found:
        raise ClusterError("--address auto found no running Ray cluster on this machine", where=WHERE_ADDRESS,
                           hint="start one (`ray start --head`), give its host:port, or omit --address for an embedded local Ray")
    return found


def check_reachable(address: str) -> None:
    """A TCP connect with a short timeout: ray.init on a dead address retries for minutes."""
    target = _host_port(resolve_address(address))
    try:
        with socket.create_connection(target, timeout=CONNECT_CHECK_S):
            pass
    except OSError as exc:
        raise ClusterError(
            f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}",
            where="--address / RAY_ADDRESS",
            hint="check that the cluster is up (`ray status` on its head node) and the host and port "
            "(GCS port, usually 6379; ray:// client port, usually 10001); omit --address to use an embedded local Ray",
        )


def node_list() -> tuple[NodeInfo, ...]:
    """The live nodes, read from Ray's own (dict-shaped) node table into typed values at this one place."""
    import ray

    nodes = []
    for n in ray.nodes():
        if not n.get("Alive"):
            continue
        resources = {k: float(v) for k, v in n.get("Resources", {}).items() if not k.startswith("node:")}
        labels = {k: str(v) for k, v in (n.get("Labels") or {}).items() if k != "ray.io/node-id"}
        nodes.append(NodeInfo(node_id=n["NodeID"], address=n.get("NodeManagerAddress"),
                              hostname=n.get("NodeManagerHostname"), resources=resources, labels=labels))
    return tuple(nodes)


def cluster_info() -> ClusterInfo:
    import ray

    resources = ray.cluster_resources()
    return ClusterInfo(
        cpus=float(resources.get("CPU", 0)),
        gpus=float(resources.get("GPU", 0)),
        memory_gb=round(float(resources.get("memory", 0)) / 1024**3, 2),
        nodes=node_list(),
    )


def platform_nodes(trial: Trial, nodes: tuple[NodeInfo, ...]) -> list[NodeInfo]:
    """The nodes a trial's platform selects: every custom resource it names, and every label it names, match."""
    return [
        n for n in nodes
        if all(n.resource(k) >= v for k, v in trial.platform_resources.items())
        and all(n.labels.get(k) == v for k, v in trial.platform_labels.items())
    ]


def describe_nodes(nodes: tuple[NodeInfo, ...]) -> str:
    parts = []
    for n in nodes:
        extra = ", ".join([*(f"{k}={v:g}" for k, v in sorted(n.custom_resources.items())),
                           *(f"{k}:{v}" for k, v in sorted(n.labels.items()))])
        parts.append(f"{n.address} ({n.resource('CPU'):g} CPUs{', ' + extra if extra else ''})")
    return "; ".join(parts) or "no live nodes"


def user_modules(folders: list[str]) -> list[str]:
    """The modules and packages in the suite's python_path folders, to ship to a remote cluster."""
    found: list[str] = []
    for folder in map(Path, folders):
        found += [str(p) for p in sorted(folder.glob("*.py"))]
        found += [str(p) for p in sorted(folder.iterdir()) if p.is_dir() and (p / "__init__.py").exists()]
    return found


def connect(address: str | None, num_cpus: int | None = None, verbose: bool = False, python_path: list[str] | None = None) -> Cluster:
    """Start (or join) Ray quietly; ClusterError when the address cannot be reached."""
    import ray

    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": verbose,
        "logging_level": logging.INFO if verbose else logging.ERROR,
    }
    if address:
        address = resolve_address(address)
        options["address"] = address
        # Ship this raylife to the cluster so its workers run the same code as the driver,
        # whether or not the cluster image has raylife installed.
        # The user's own model modules travel the same way (locally, PYTHONPATH points at them instead).
        options["runtime_env"] = {"py_modules": [str(Path(__file__).resolve().parents[1]), *user_modules(python_path or [])]}
    else:
        # "local" always starts a new embedded instance; None would silently join any cluster that
        # `ray start` left running on this machine, and measure on it.
        options["address"] = "local"
        options["num_cpus"] = num_cpus
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # Ray starts its workers at niceness 15: every ordinary process on the host then takes the CPU from the
        # trials, replicas and training workers raylife times (two busy loops beside a run made a 3-minute suite take
        # 25). Measured processes run at the host's normal priority; `RAY_worker_niceness` set by the user wins.
        os.environ.setdefault("RAY_worker_niceness", "0")
    start = time.perf_counter()
    try:
        with _stderr_kept(quiet=not verbose) as said:
            ray.init(**options)
    except ConnectionError as exc:
        if _refused_for_a_token(exc) or "InvalidAuthToken" in said():
            raise ClusterError(
                f"the Ray cluster at {address} requires an authentication token, and this driver sent none",
                where="--address / RAY_ADDRESS",
                hint="set RAY_AUTH_MODE=token and make the cluster's token available here (~/.ray/auth_token, "
                "RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN; `ray get-auth-token` on the head node prints it)",
            ) from None
        raise ClusterError(
            f"cannot connect to Ray at {address}: {str(exc).splitlines()[0]}",
            where="--address / RAY_ADDRESS",
            hint="start the cluster first (`ray start --head`), or omit --address to use an embedded local Ray",
        ) from None
    elapsed = time.perf_counter() - start
    return Cluster(address=address or "local", started_locally=not address, ray_start_s=elapsed, info=cluster_info())


@contextmanager
def _stderr_kept(quiet: bool) -> Iterator[Callable[[], str]]:
    """While Ray connects, what its C++ core writes to this process's stderr (a warning a second while it retries a
    cluster that refuses it) goes to a file instead, read back when the connection fails; ``-v`` shows it."""
    if not quiet:
        yield lambda: ""
        return
    import tempfile

    with tempfile.TemporaryFile(mode="w+b") as kept:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(kept.fileno(), 2)
        try:
            yield lambda: _read(kept)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _read(kept: Any) -> str:
    kept.flush()
    kept.seek(0)
    return kept.read().decode("utf-8", "replace")


def _refused_for_a_token(exc: BaseException) -> bool:
    """Whether Ray refused the connection for want of a token: since 2.60 `ray start` turns token authentication on
    where a token exists, while a driver given an explicit address only sends one with RAY_AUTH_MODE=token."""
    seen: set[int] = set()
    inner: BaseException | None = exc
    while inner is not None and id(inner) not in seen:
        # Ray keeps the last connection error as text inside a RuntimeError (ray/_private/node.py)
        if type(inner).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(inner):
            return True
        seen.add(id(inner))
        inner = inner.__cause__ or inner.__context__
    return False


def disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def embedded_resources(num_cpus: int | None, need_gpus: bool) -> ClusterInfo:
    """What an embedded Ray will offer, known before it starts: Ray's own CPU count (cgroup-aware) and GPU count."""
    from ray._private.utils import get_num_cpus

    gpus = 0.0
    if need_gpus:  # NVML is only asked when a trial wants a GPU
        from ray._private.accelerators.nvidia_gpu import NvidiaGPUAcceleratorManager

        gpus = float(NvidiaGPUAcceleratorManager.get_current_node_num_accelerators())
        visible = NvidiaGPUAcceleratorManager.get_current_process_visible_accelerator_ids()
        if visible is not None:
            gpus = min(gpus, float(len(visible)))
    return ClusterInfo(cpus=float(num_cpus or get_num_cpus()), gpus=gpus, cpu_bf16=cpu_has_bf16())


def cpu_has_bf16(cpuinfo: str | None = None) -> bool | None:
    """Whether this machine's CPU has native bf16 instructions (None where /proc/cpuinfo does not tell)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    flags = {f for line in cpuinfo.splitlines() if line.startswith(("flags", "Features")) for f in line.split(":", 1)[1].split()}
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def _check_replicas(trial: Trial, what: str, setting: str, available: float, where: str, hint: str) -> None:
    """Every serving configuration of the trial (or its one deployment) must fit the cluster."""
    for key, spec in [(c.key, c.spec) for c in trial.serve_configs] or [(None, trial.serve)]:
        per_replica = getattr(spec, setting)
        need = spec.most_replicas * per_replica  # an autoscaled deployment must fit at its max_replicas
        if need > available + 1e-9:
            config = f" (serving configuration {key})" if key else ""
            up_to = "up to " if spec.autoscaling else ""
            raise ClusterError(
                f"trial {trial.name}{config} deploys {up_to}{spec.most_replicas} replicas x {per_replica:g} {what} = {need:g} {what} "
                f"but the cluster has {available:g}",
                where=where, hint=hint,
            )


def check_fits(trials: list[Trial], info: ClusterInfo, source: str) -> None:
    """Refuse trials the cluster can never schedule: Ray would wait for the resources forever."""
    cpus, gpus, nodes = info.cpus, info.gpus, info.nodes
    on_gpu = [t for t in trials if t.device == "gpu" or (t.serve is not None and t.serve_device == "gpu")]
    if on_gpu and gpus == 0:  # the first thing to say on a machine without GPUs, before any per-trial detail
        raise ClusterError(
            f"{len(on_gpu)} of {len(trials)} trials need a GPU (first: {on_gpu[0].name}) but the "
            f"{'cluster' if nodes and len(nodes) > 1 else 'machine'} has none",
            where=f"{source}, train.device / serve.device",
            hint='run it where Ray sees NVIDIA GPUs (and CUDA builds of the frameworks: README, "GPUs"), '
                 'or use device = "cpu"',
        )
    for trial in trials:
        if trial.platform and nodes is not None:
            selected = platform_nodes(trial, nodes)
            if not selected:
                wanted = ", ".join([*(f"resource {k} >= {v:g}" for k, v in trial.platform_resources.items()),
                                    *(f"label {k}={v}" for k, v in trial.platform_labels.items())])
                raise ClusterError(
                    f"platform '{trial.platform}' of trial {trial.name} needs a node with {wanted}; the cluster has: "
                    f"{describe_nodes(nodes)}",
                    where=f"{source}, platforms.{trial.platform}",
                    hint="start nodes with those resources or labels (ray start --resources/--labels), or change the platform",
                )
        need_cpu = trial.num_workers * trial.cpus_per_worker
        if need_cpu > cpus + 1e-9:
            raise ClusterError(
                f"trial {trial.name} needs {need_cpu:g} CPUs ({trial.num_workers} workers x {trial.cpus_per_worker:g}) "
                f"but the cluster has {cpus:g}",
                where=f"{source}, train.num_workers / train.cpus_per_worker",
                hint="lower them, start the embedded Ray with more logical CPUs (--num-cpus), or use a larger cluster",
            )
        if trial.streamed and need_cpu > cpus - 1 + 1e-9:
            # Ray Data's read and decode tasks take a CPU each: with every CPU held by a training worker they never
            # run, and the fit would wait for its first batch forever.
            raise ClusterError(
                f"trial {trial.name} streams its data through Ray Data, which needs a CPU beside the training workers' "
                f"{need_cpu:g}; the cluster has {cpus:g}",
                where=f"{source}, train.num_workers / train.cpus_per_worker",
                hint="lower them so that at least one CPU stays free, or use more CPUs (--num-cpus)",
            )
        if trial.serve is not None:
            _check_replicas(trial, "CPUs", "cpus_per_replica", cpus, f"{source}, serve.replicas / serve.cpus_per_replica",
                            "lower them (fractional CPUs work, e.g. 0.5), or use a larger cluster")
        if trial.device == "gpu" and trial.num_workers > gpus:
            raise ClusterError(
                f"trial {trial.name} needs {trial.num_workers} GPUs but the cluster has {gpus:g}",
                where=f"{source}, train.device",
                hint='use device = "cpu", or a machine or cluster with GPUs (and a CUDA build of the framework)',
            )
        if trial.serve is not None and trial.serve_device == "gpu":
            _check_replicas(trial, "GPUs", "gpus_per_replica", gpus, f"{source}, serve.device / serve.gpus_per_replica",
                            'fractions share a GPU (gpus_per_replica = 0.25); or serve on the CPU: serve.device = "cpu"')
    for trial in trials:  # after the resource checks: a GPU suite on a GPU-less machine says that first
        if trial.precision == "bf16" and trial.device == "cpu" and info.cpu_bf16 is False:
            raise ClusterError(
                f"trial {trial.name} trains in bf16 on the CPU, but this CPU has no bf16 instructions "
                "(avx512_bf16, amx_bf16 or Arm bf16): it would be emulated, not measured",
                where=f"{source}, train.precision",
                hint='use precision = "fp32" on this machine, or a CPU with bf16 (Sapphire Rapids, Zen 4, Graviton 3)',
            )


SHARED_CHECK_S = 90.0  # a task on each node, worker start included: 30 s ran out on a busy 2-core machine


def _storage_probe(path: str, marker: str, action: str) -> bool:
    """Runs on one node: write the marker, say whether it exists, or remove it."""
    import os

    target = os.path.join(path, marker)
    if action == "write":
        os.makedirs(path, exist_ok=True)
        with open(target, "w") as handle:
            handle.write("raylife shared-storage check\n")
    elif action == "remove" and os.path.exists(target):
        os.remove(target)
    return os.path.exists(target)


def check_shared_storage(storage: str, nodes: tuple[NodeInfo, ...], source: str) -> None:
    """On several nodes, storage must be one folder every node sees (Ray Train writes checkpoints there and the trial's
    actor reads them, perhaps on another node): a file written there from one node must exist on every other."""
    if len(nodes) < 2:
        return
    import uuid

    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(num_cpus=0, max_retries=0)(_storage_probe)
    marker = f".raylife-shared-check-{uuid.uuid4().hex}"
    where = f"{source}, run.storage_path / --storage-path"

    def on(node: NodeInfo, action: str) -> Any:
        strategy = NodeAffinitySchedulingStrategy(node_id=node.node_id, soft=False)
        return probe.options(scheduling_strategy=strategy).remote(storage, marker, action)

    try:
        ray.get(on(nodes[0], "write"), timeout=SHARED_CHECK_S)
        seen = ray.get([on(n, "exists") for n in nodes[1:]], timeout=SHARED_CHECK_S)
        ray.get(on(nodes[0], "remove"), timeout=SHARED_CHECK_S)
    except Exception as exc:  # noqa: BLE001 - an unwritable path, or a node that cannot run the probe in time
        raise ClusterError(f"cannot check storage_path {storage} on the cluster's nodes: {str(exc).splitlines()[0][:200]}",
                           where=where, hint="give a path every node can write, e.g. an NFS or EFS mount") from None
    blind = [n.address for n, ok in zip(nodes[1:], seen) if not ok]
    if blind:
        raise ClusterError(
            f"storage_path {storage} is not shared: a file written there on node {nodes[0].address} does not "
            f"exist on {', '.join(blind)}",
            where=where,
            hint="checkpoints must be readable from every node: use a shared mount (NFS, EFS, a ReadWriteMany volume) "
                 "at the same path on every node",
        )
