"""Is streaming the bottleneck? ResNet-50 fed from a JPEG image folder through Ray Data against the same loop fed the
same images as in-memory tensors: one Ray Train worker, epochs alternating (stream, memory, stream, ...).

    python benchmarks/stream_vs_memory.py [--runs 3] [--images 96] [--size 224] [--batch 8] [--model resnet50]

Both sides run raylife's own training step function (``frameworks.torch.train_loop.train_steps``) in one Ray Train
worker, one CPU (``torch.set_num_threads(1)``, as raylife sets it for a 1-CPU worker), so "same worker, same device":

- stream: the worker's shard of ``FileSplits``' pipeline (``read_images`` → decode and resize in Ray Data's tasks →
  float32 rows) through ``iter_torch_batches``, exactly as a raylife trial reads ``format = "imagefolder"``;
- memory: the same files decoded once beforehand in the worker (PIL, the same resize), batches sliced from the array.

Ray Data's read tasks get the node's other CPU (raylife refuses a streamed trial that leaves none). The first epoch
of each side is warm-up and not counted. Printed: each epoch's samples/s and the medians' ratio; target >= 0.9.
Needs nothing downloaded: the images are written by ``raylife make-images``' writer (learnable stripes, JPEG).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def loop(config: dict[str, Any]) -> None:
    import numpy as np
    import ray.train
    import torch

    from raylife.frameworks.torch.train_loop import train_steps
    from raylife.registry import import_object
    from raylife.workloads.streamed import ImageReader

    torch.set_num_threads(1)
    torch.manual_seed(0)
    reader = ImageReader(size=config["size"], channels=3, classes=tuple(config["classes"]))
    x = reader.decode(tuple(config["paths"]))
    index = {name: i for i, name in enumerate(config["classes"])}
    y = np.asarray([index[Path(p).parent.name] for p in config["paths"]], dtype=np.int64)
    model = import_object(f"raylife.workloads.vision.torch_models:{config['model']}")(x.shape[1:], len(index))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch, device = config["batch"], torch.device("cpu")
    shard = ray.train.get_dataset_shard("train")
    figures: dict[str, list[float]] = {"stream": [], "memory": []}
    for epoch in range(config["runs"] + 1):
        for side in ("stream", "memory"):
            if side == "stream":
                batches = ((b["x"], b["y"]) for b in shard.iter_torch_batches(
                    batch_size=batch, drop_last=True, local_shuffle_buffer_size=4 * batch, local_shuffle_seed=epoch))
            else:
                order = np.random.default_rng(epoch).permutation(len(y))[: len(y) // batch * batch]
                batches = ((x[order[i:i + batch]], y[order[i:i + batch]]) for i in range(0, len(order), batch))
            _, seen, seconds = train_steps(model, optimizer, None, batches, device, "fp32")
            rate = seen / seconds
            if epoch > 0:  # the first epoch of each side warms up (allocator, Ray Data's first blocks)
                figures[side].append(rate)
            print(f"  epoch {epoch} {side:6s}: {seen} samples in {seconds:.1f} s → {rate:.2f} samples/s"
                  f"{' (warm-up, not counted)' if epoch == 0 else ''}", flush=True)
    # one node: the figures go back through a file (Ray Train 2.60 keeps reported metrics only with a checkpoint)
    Path(config["out"]).write_text(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="counted epochs per side")
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--model", default="resnet50")
    args = parser.parse_args()

    import ray
    import ray.data
    from ray.train import DataConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from raylife.workloads.streamed import ImageReader
    from raylife.workloads.vision.make_images import write_image_folder

    classes = 8
    root = Path(tempfile.mkdtemp(prefix="raylife-stream-bench-")) / "images"
    written = write_image_folder(root, classes, -(-args.images // classes), size=args.size, seed=0)
    paths = sorted(str(p) for p in root.rglob("*.jpg"))
    names = sorted(p.name for p in root.iterdir())
    print(f"{len(paths)} JPEGs {args.size}x{args.size} ({written.bytes / 2**20:.1f} MiB on disk), {args.model}, "
          f"batch {args.batch}, 1 Ray Train worker x 1 CPU, {os.cpu_count()} cores", flush=True)

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    reader = ImageReader(size=args.size, channels=3, classes=tuple(names))
    config = {"paths": paths, "classes": names, "size": args.size, "batch": args.batch, "runs": args.runs,
              "model": args.model, "out": str(root.parent / "figures.json")}
    started = time.perf_counter()
    result = TorchTrainer(
        loop, train_loop_config=config, datasets={"train": reader.dataset(tuple(paths))},
        dataset_config=DataConfig(datasets_to_split=["train"]),
        scaling_config=ScalingConfig(num_workers=1, resources_per_worker={"CPU": 1}),
        run_config=RunConfig(name=f"stream-bench-{time.time_ns()}", storage_path=str(root.parent / "ray")),
    ).fit()
    ray.shutdown()
    if result.error is not None:
        raise SystemExit(f"Error: the benchmark's fit failed: {result.error}")
    figures = json.loads((root.parent / "figures.json").read_text())
    stream, memory = figures["stream"], figures["memory"]
    paired = statistics.median(s / m for s, m in zip(stream, memory))
    print(f"{args.model} training samples/s, median of {args.runs} epochs each: streamed through Ray Data "
          f"{statistics.median(stream):.2f}, in-memory {statistics.median(memory):.2f} → ratio "
          f"{statistics.median(stream) / statistics.median(memory):.3f}; median paired ratio {paired:.3f} "
          f"(target >= 0.9); {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
