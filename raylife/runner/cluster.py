"""Connecting to Ray: an embedded local cluster by default, or an existing one with --address."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raylife.errors import ClusterError
from raylife.plan import Trial

CONNECT_CHECK_S = 3.0


@dataclass
class Cluster:
    address: str  # "local" for the embedded cluster
    started_locally: bool
    ray_start_s: float
    info: dict[str, Any] = field(default_factory=dict)  # nodes, cpus, gpus, memory_gb


def _host_port(address: str) -> tuple[str, int] | None:
    bare = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = bare.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host or "127.0.0.1", int(port)


def check_reachable(address: str) -> None:
    """A TCP connect with a short timeout: ray.init on a dead address retries for minutes."""
    target = _host_port(address)
    if target is None:
        return  # "auto" and friends: Ray itself answers quickly when there is nothing to find
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


def cluster_info() -> dict[str, Any]:
    import ray

    resources = ray.cluster_resources()
    return {
        "nodes": sum(1 for n in ray.nodes() if n.get("Alive")),
        "cpus": float(resources.get("CPU", 0)),
        "gpus": float(resources.get("GPU", 0)),
        "memory_gb": round(float(resources.get("memory", 0)) / 1024**3, 2),
    }


def user_modules(folders: list[str]) -> list[str]:
    """The modules and packages in the suite's python_path folders, to ship to a remote cluster."""
    found: list[str] = []
    for folder in map(Path, folders):
        found += [str(p) for p in sorted(folder.glob("*.py"))]
        found += [str(p) for p in sorted(folder.iterdir()) if p.is_dir() and (p / "__init__.py").exists()]
    return found


def connect(address: str | None, num_cpus: int | None = None, verbose: bool = False, python_path: list[str] | None = None) -> Cluster:
    """Start (or join) Ray quietly; ClusterError when the address cannot be reached."""
    if address:
        check_reachable(address)
    import ray

    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": verbose,
        "logging_level": logging.INFO if verbose else logging.ERROR,
    }
    if address:
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
    start = time.perf_counter()
    try:
        ray.init(**options)
    except ConnectionError as exc:
        raise ClusterError(
            f"cannot connect to Ray at {address}: {str(exc).splitlines()[0]}",
            where="--address / RAY_ADDRESS",
            hint="start the cluster first (`ray start --head`), or omit --address to use an embedded local Ray",
        ) from None
    elapsed = time.perf_counter() - start
    return Cluster(address=address or "local", started_locally=not address, ray_start_s=elapsed, info=cluster_info())


def disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def check_fits(trials: list[Trial], cluster: Cluster, source: str) -> None:
    """Refuse trials the cluster can never schedule: Ray would wait for the resources forever."""
    cpus, gpus = cluster.info.get("cpus", 0), cluster.info.get("gpus", 0)
    for trial in trials:
        need_cpu = trial.num_workers * trial.cpus_per_worker
        if need_cpu > cpus + 1e-9:
            raise ClusterError(
                f"trial {trial.name} needs {need_cpu:g} CPUs ({trial.num_workers} workers x {trial.cpus_per_worker:g}) "
                f"but the cluster has {cpus:g}",
                where=f"{source}, train.num_workers / train.cpus_per_worker",
                hint="lower them, start the embedded Ray with more logical CPUs (--num-cpus), or use a larger cluster",
            )
        if trial.serve is not None:
            need = trial.serve.replicas * trial.serve.cpus_per_replica
            if need > cpus + 1e-9:
                raise ClusterError(
                    f"trial {trial.name} deploys {trial.serve.replicas} replicas x {trial.serve.cpus_per_replica:g} CPUs "
                    f"= {need:g} CPUs but the cluster has {cpus:g}",
                    where=f"{source}, serve.replicas / serve.cpus_per_replica",
                    hint="lower them (fractional CPUs work, e.g. 0.5), or use a larger cluster",
                )
        if trial.device == "gpu" and trial.num_workers > gpus:
            raise ClusterError(
                f"trial {trial.name} needs {trial.num_workers} GPUs but the cluster has {gpus:g}",
                where=f"{source}, train.device",
                hint='use device = "cpu", or a cluster with GPUs',
            )
