"""The Serve deployment hosting one trial's model, in the model's own framework.

Deployed declaratively (``import_path = "raylife.serving.replica:app_builder"``), the way ``serve deploy``
and KubeRay's RayService deploy applications, so a ``user_config`` change is applied in place through
``reconfigure`` while a change of ``args`` starts new replicas (a rolling update).

Every answer names the model version and the replica that produced it, so the client can tell when an
update has reached every replica and whether replicas were replaced.
"""

# No ``from __future__ import annotations`` here: Serve reads the application builder's parameter annotation as a
# class (``ReplicaArgs``) to validate the config's ``args`` into it.

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
from raylife.serving.messages import Answer, ModelLoad, ModelVersion, ReplicaArgs, ReplicaStats
from raylife.artifacts import fetch


@serve.deployment(name="ModelServer")
class ModelServer:
    def __init__(self, args: ReplicaArgs) -> None:
        started = time.perf_counter()
        self.started_unix = time.time()  # the replica's own clock: its cold start split (autoscaling) starts here
        self.first_answer_unix: float | None = None
        self.rss = RssSampler(interval_s=0.1).start()
        # the devices' energy and (on a GPU) utilisation, power and memory, read by each stage at its ends
        self.meter = Meter(gpu=args.device == "gpu", node=ray.get_runtime_context().get_node_id()).start()
        self.format = args.format
        # gpu: the replica was given num_gpus; fails if none is seen
        self.device, self.precision = args.device, args.precision
        self.input_dtype = np.dtype(args.input_dtype)
        self.backend = FRAMEWORKS.get(args.framework).load_backend()  # imports torch / TensorFlow in this replica
        self.backend.set_threads(args.threads)
        self.batching = args.max_batch_size > 1
        if self.batching:
            self.infer_batched.set_max_batch_size(args.max_batch_size)
            self.infer_batched.set_batch_wait_timeout_s(args.batch_wait_timeout_s)
        self.loads: list[ModelLoad] = []
        self._load(ModelVersion(model_dir=args.model_dir, version=args.version))
        self.init_s = time.perf_counter() - started
        self.rss_loaded_mb = rss_mb()
        self.replica_id = serve.get_replica_context().replica_id.unique_id
        self.requests = 0
        self.environment = fingerprint()  # after timing: where this replica runs, for the placements table

    def _load(self, model: ModelVersion) -> None:
        copy = fetch(model.model_dir)  # an object store's folder comes down to this node first, timed on its own
        started = time.perf_counter()
        predictor = self.backend.formats[self.format].load(copy.local, self.device, self.precision)
        self.loads.append(ModelLoad(version=model.version, load_s=time.perf_counter() - started, at_unix=time.time(),
                                    fetch_s=copy.seconds if copy.copied else None))
        # Swap both together: an answer's version always names the weights that produced it.
        self.predictor, self.version, self.model_dir = predictor, model.version, model.model_dir
        self._drop_copy()
        self.copy = copy

    def _drop_copy(self) -> None:
        old = getattr(self, "copy", None)
        if old is not None and old.copied:
            shutil.rmtree(old.local, ignore_errors=True)

    def __del__(self) -> None:  # Serve calls it when it stops the replica: the model's copy goes with it
        self._drop_copy()

    def reconfigure(self, config: dict[str, Any]) -> None:
        """New weights into this live replica (a ``user_config`` update); a no-op for the ones it has. Serve hands
        ``user_config`` over as the JSON object it is; it is validated into its type here, at the boundary."""
        model = ModelVersion.model_validate(config)
        if (model.model_dir, model.version) != (self.model_dir, self.version):
            self._load(model)

    async def __call__(self, request: Request) -> dict[str, Any]:
        body = await request.json()
        return await self.predict(np.asarray(body["inputs"], dtype=self.input_dtype))

    async def predict(self, x: np.ndarray) -> dict[str, Any]:
        """Top-1 classes for a batch of inputs (the DeploymentHandle path calls this directly)."""
        self.requests += 1
        logits = await self.infer_batched(x) if self.batching else self.predictor(x)
        if self.first_answer_unix is None:
            self.first_answer_unix = time.time()
        return Answer(predictions=np.asarray(logits).argmax(axis=1).tolist(), version=self.version,
                      replica=self.replica_id).model_dump()

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005)
    async def infer_batched(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        # Requests carry batches of their own: run them as one forward pass, then split the answers back.
        sizes = [len(x) for x in inputs]
        logits = np.asarray(self.predictor(np.concatenate(inputs)))
        return np.split(logits, np.cumsum(sizes)[:-1])

    def stats(self) -> ReplicaStats:
        return ReplicaStats(
            replica=self.replica_id,
            pid=os.getpid(),
            node_id=ray.get_runtime_context().get_node_id(),
            version=self.version,
            init_s=self.init_s,
            loads=tuple(self.loads),
            rss_loaded_mb=self.rss_loaded_mb,
            rss_mb=rss_mb(),
            peak_rss_mb=self.rss.peak_mb,
            requests=self.requests,
            environment=self.environment,
            meter=self.meter.mark(),
            gpu_memory_peak=self.backend.gpu_memory_peak(),
            started_unix=self.started_unix,
            first_answer_unix=self.first_answer_unix,
        )


def app_builder(args: ReplicaArgs) -> serve.Application:
    """The application builder named in the Serve config: Serve validates the config's ``args`` into
    ``ReplicaArgs`` (its annotation) before calling it."""
    return ModelServer.bind(args)
