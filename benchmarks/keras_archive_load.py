"""tf_keras' ``load_model`` of a ``.keras`` archive against raylife's ``load_keras_archive`` (the weights member
extracted to disk first), alternating in one process, on the same file.

    python benchmarks/keras_archive_load.py [--model resnet50] [--rounds 3]

Models: ``resnet50`` (224x224x3, 1,000 classes), ``bert_base`` (128 tokens, 30,522 words). Both loads must give the same outputs (checked: max |difference| printed); printed are
their medians and ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = {
    "resnet50": ("raylife.workloads.vision.tf_models:resnet50", (224, 224, 3), 1000, {}),
    "bert_base": ("raylife.workloads.text.tf_models:bert_base", (128,), 2, {"vocab_size": 30522}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="resnet50")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from raylife.frameworks.tensorflow.backend import load_keras_archive
    from raylife.registry import import_object

    builder, shape, classes, options = MODELS[args.model]
    model = import_object(builder)(shape, classes, **options)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 100, (2, *shape)) if args.model != "resnet50" else rng.random((2, *shape), dtype=np.float32)
    expected = model(x).numpy()
    path = Path(tempfile.mkdtemp(prefix="raylife-keras-bench-")) / "model.keras"
    model.save(path, save_format="keras_v3")
    print(f"{args.model}: {path.stat().st_size / 2**20:.0f} MiB archive, {args.rounds} rounds, alternating", flush=True)
    times: dict[str, list[float]] = {"load_model": [], "load_keras_archive": []}
    for round_ in range(args.rounds):
        for name, load in (("load_model", lambda: tf.keras.models.load_model(str(path), compile=False)),
                           ("load_keras_archive", lambda: load_keras_archive(path))):
            started = time.perf_counter()
            loaded = load()
            times[name].append(time.perf_counter() - started)
            diff = float(np.abs(loaded(x).numpy() - expected).max())
            print(f"  round {round_ + 1} {name}: {times[name][-1]:.2f} s, max |difference| {diff:g}", flush=True)
    slow, fast = statistics.median(times["load_model"]), statistics.median(times["load_keras_archive"])
    print(f"{args.model}: median load_model {slow:.2f} s, load_keras_archive {fast:.2f} s → {slow / fast:.1f}x faster")


if __name__ == "__main__":
    main()
