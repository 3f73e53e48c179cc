"""The Serve deployment hosting one trial's model, in the model's own framework.

Deployed declaratively (``import_path = "raylife.serving.replica:app_builder"``), the way ``serve deploy``
and KubeRay's RayService deploy applications, so a ``user_config`` change is applied in place through
``reconfigure`` while a change of ``args`` starts new replicas (a rolling update).

Every answer names the model version and the replica that produced it, so the client can tell when an
update has reached every replica and whether replicas were replaced.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import numpy as np
import ray
from ray import serve
from starlette.requests import Request

from raylife.frameworks import FRAMEWORKS
from raylife.measure.environment import fingerprint
from raylife.measure.memory import RssSampler, rss_mb
from raylife.measure.telemetry import Meter
from raylife.storage import fetch


@serve.deployment(name="ModelServer")
class ModelServer:
    def __init__(
        self,
        framework: str,
        format: str,
        model_dir: str,
        version: str,
        threads: int = 1,
        max_batch_size: int = 1,
        batch_wait_timeout_s: float = 0.005,
        input_dtype: str = "float32",
        device: str = "cpu",
        precision: str = "fp32",
    ) -> None:
        started = time.perf_counter()
        self.rss = RssSampler(interval_s=0.1).start()
        # the devices' energy and (on a GPU) utilisation, power and memory, read by each stage at its ends
        self.meter = Meter(gpu=device == "gpu", node=ray.get_runtime_context().get_node_id()).start()
        self.format = format
        self.device, self.precision = device, precision  # gpu: the replica was given num_gpus; fails if none is seen
        self.input_dtype = np.dtype(input_dtype)  # JSON has no dtypes: token and id inputs are integers
        self.backend = FRAMEWORKS.get(framework).load_backend()  # imports torch / TensorFlow in this replica
        self.backend.set_threads(threads)
        self.batching = max_batch_size > 1
        if self.batching:
            self.infer_batched.set_max_batch_size(max_batch_size)
            self.infer_batched.set_batch_wait_timeout_s(batch_wait_timeout_s)
        self.loads: list[dict[str, Any]] = []
        self._load(model_dir, version)
        self.init_s = time.perf_counter() - started
        self.rss_loaded_mb = rss_mb()
        self.replica_id = serve.get_replica_context().replica_id.unique_id
        self.requests = 0
        self.environment = fingerprint()  # after timing: where this replica runs, for the placements table

    def _load(self, model_dir: str, version: str) -> None:
        copy = fetch(model_dir)  # an object store's folder comes down to this node first, timed on its own
        started = time.perf_counter()
        predictor = self.backend.formats[self.format].load(copy.local, self.device, self.precision)
        self.loads.append({"version": version, "load_s": time.perf_counter() - started, "at_unix": time.time(),
                           "fetch_s": copy.seconds if copy.copied else None})
        # Swap both together: an answer's version always names the weights that produced it.
        self.predictor, self.version, self.model_dir = predictor, version, model_dir
        self._drop_copy()
        self.copy = copy

    def _drop_copy(self) -> None:
        old = getattr(self, "copy", None)
        if old is not None and old.copied:
            shutil.rmtree(old.local, ignore_errors=True)

    def __del__(self) -> None:  # Serve calls it when it stops the replica: the model's copy goes with it
        self._drop_copy()

    def reconfigure(self, config: dict[str, Any]) -> None:
        """New weights into this live replica (a ``user_config`` update); a no-op for the ones it has."""
        if config.get("model_dir") and (config["model_dir"], config.get("version")) != (self.model_dir, self.version):
            self._load(config["model_dir"], config.get("version", "?"))

    async def __call__(self, request: Request) -> dict[str, Any]:
        body = await request.json()
        return await self.predict(np.asarray(body["inputs"], dtype=self.input_dtype))

    async def predict(self, x: np.ndarray) -> dict[str, Any]:
        """Top-1 classes for a batch of inputs (the DeploymentHandle path calls this directly)."""
        self.requests += 1
        logits = await self.infer_batched(x) if self.batching else self.predictor(x)
        return {"predictions": np.asarray(logits).argmax(axis=1).tolist(), "version": self.version, "replica": self.replica_id}

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005)
    async def infer_batched(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        # Requests carry batches of their own: run them as one forward pass, then split the answers back.
        sizes = [len(x) for x in inputs]
        logits = np.asarray(self.predictor(np.concatenate(inputs)))
        return np.split(logits, np.cumsum(sizes)[:-1])

    def stats(self) -> dict[str, Any]:
        return {
            "replica": self.replica_id,
            "pid": os.getpid(),
            "version": self.version,
            "init_s": self.init_s,
            "loads": self.loads,
            "rss_loaded_mb": self.rss_loaded_mb,
            "rss_mb": rss_mb(),
            "peak_rss_mb": self.rss.peak_mb,
            "requests": self.requests,
            "node_id": ray.get_runtime_context().get_node_id(),
            "environment": self.environment,
            "meter": self.meter.mark(),
            "gpu_memory_peak_mb": self.backend.gpu_memory_peak_mb(),
        }


def app_builder(args: dict[str, Any]) -> serve.Application:
    """The application builder named in the Serve config; ``args`` are ModelServer's arguments."""
    return ModelServer.bind(**args)
