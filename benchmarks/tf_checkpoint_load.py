"""How long TensorFlow takes to load a training checkpoint, with and without the optimizer's state in the file.

    python benchmarks/tf_checkpoint_load.py [--model resnet50] [--size 224] [--rounds 3]

Builds the model (raylife's builder), compiles it with Adam and trains one step (so Adam holds its two slots per
weight), then writes it twice: ``model.save`` as tf_keras does by default (optimizer included) and raylife's
checkpoint (``KerasFormat.save``: without it). Each file is loaded with ``load_model(compile=False)`` — what
evaluate does — in a fresh process per load, alternating, ``--rounds`` times; medians printed with the file sizes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOAD = """
import os, sys, time
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tensorflow as tf
import raylife.workloads.vision.tf_models  # registers the custom layers
start = time.perf_counter()
tf.keras.models.load_model(sys.argv[1], compile=False)
print(time.perf_counter() - start)
"""


def write_files(model: str, size: int, folder: Path) -> dict[str, Path]:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import numpy as np
    import tensorflow as tf

    from raylife.frameworks.model import Recipe
    from raylife.frameworks.tensorflow.backend import KerasFormat

    recipe = Recipe(builder=f"raylife.workloads.vision.tf_models:{model}", input_shape=(size, size, 3), num_classes=10,
                    options={}, model_args={}, framework="tensorflow", model=model)
    built = getattr(__import__("raylife.workloads.vision.tf_models", fromlist=[model]), model)((size, size, 3), 10)
    built.compile(optimizer=tf.keras.optimizers.Adam(1e-3),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).random((4, size, size, 3), dtype=np.float32)
    built.fit(x, np.arange(4) % 10, batch_size=4, epochs=1, verbose=0)
    files = {"with optimizer (tf_keras default)": folder / "with" / "model.keras",
             "without (raylife's checkpoint)": folder / "without" / "model.keras"}
    files["with optimizer (tf_keras default)"].parent.mkdir()
    built.save(str(files["with optimizer (tf_keras default)"]))
    (folder / "without").mkdir()
    KerasFormat().save(built, folder / "without", x[:1], recipe)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(args.model, args.size, Path(tmp))
        seconds: dict[str, list[float]] = {name: [] for name in files}
        for _ in range(args.rounds):
            for name, path in files.items():
                out = subprocess.run([sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True, check=True,
                                     cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
                seconds[name].append(float(out.stdout.strip().splitlines()[-1]))
        print(f"{args.model} at {args.size}x{args.size}x3, 10 classes; load_model(compile=False), fresh process each, "
              f"{args.rounds} rounds")
        for name, path in files.items():
            times = ", ".join(f"{s:.1f}" for s in seconds[name])
            print(f"  {name:36s} {path.stat().st_size / 2**20:7.1f} MiB   median {statistics.median(seconds[name]):6.1f} s"
                  f"   ({times})")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
