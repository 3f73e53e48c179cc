"""Ray's own floor per Ray Train fit: a TorchTrainer whose loop returns at once (1 worker), three fits in one process.

    python benchmarks/empty_fit.py [--fits 3]

Prints each fit's wall time and how long after the fit() call the loop was entered, with raylife's Train
environment variables (the same for a bare script and for raylife). docs/ray-notes.md quotes its figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from raylife.remote.trial_actor import TRAIN_ENV_VARS  # noqa: E402

os.environ.update(TRAIN_ENV_VARS)  # Train v2 reads them in the process that calls fit()


def empty_loop(config: dict) -> float:
    return time.time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=3)
    args = parser.parse_args()
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    storage = tempfile.mkdtemp(prefix="raylife-empty-fit-")
    for i in range(args.fits):
        started = time.time()
        result = TorchTrainer(empty_loop, scaling_config=ScalingConfig(num_workers=1),
                              run_config=RunConfig(storage_path=storage, name=f"empty-{i}")).fit()
        print(f"fit {i + 1}: {time.time() - started:.2f} s, loop entered {result.return_value - started:.2f} s after fit()",
              flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
