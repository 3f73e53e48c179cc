"""Image-folder ingest: raylife's pipeline against a plain Ray Data pipeline on the same folder, side by side.

    python benchmarks/ingest.py [--files 2000] [--size 224] [--classes 4] [--rounds 3] [--folder PATH]

The baseline is what a user would write without raylife: ``ray.data.read_images(folder, size=(S, S))`` followed by a
float normalisation. raylife's is ``FileSplits.dataset`` over the same files (bytes read by Ray Data, decoded per
file by raylife's own step, so that a bad file is named). Each round times both, in alternating order, as the trial's
ingest probe does: rows per second after the first batch, batch 32. Prints every round and the medians' ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def rate(dataset, batch: int = 32) -> float:
    """Rows per second after the first batch (the trial's ingest probe's own measure)."""
    first, rows = None, 0
    for b in dataset.iter_batches(batch_size=batch, batch_format="numpy"):
        if first is None:
            first = time.perf_counter()
            continue
        rows += len(b["x"] if "x" in b else b["image"])
    return rows / (time.perf_counter() - first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=None, help="an image folder to reuse (written when missing)")
    args = parser.parse_args()

    import ray

    from raylife.workloads.vision.data import stream_imagefolder
    from raylife.workloads.vision.make_images import write_image_folder

    folder = args.folder or Path(tempfile.mkdtemp(prefix="raylife-ingest-")) / "images"
    if not folder.exists():
        write_image_folder(folder, args.classes, args.files // args.classes, size=args.size, seed=0)
    ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray.data.DataContext.get_current().enable_progress_bars = False
    splits = stream_imagefolder(str(folder), seed=0, size=args.size)
    every = tuple(p for paths, _ in splits.files.values() for p in paths)

    def plain():
        images = ray.data.read_images(str(folder), size=(args.size, args.size), mode="RGB")
        return images.map_batches(lambda b: {"image": b["image"].astype(np.float32) / np.float32(255.0)},
                                  batch_format="numpy")

    def raylife_pipeline():
        return splits.reader.dataset(every, splits._ledger)

    figures: dict[str, list[float]] = {"read_images + normalise": [], "raylife": []}
    for r in range(args.rounds):
        order = [("read_images + normalise", plain), ("raylife", raylife_pipeline)]
        for name, make in order if r % 2 == 0 else order[::-1]:
            figures[name].append(rate(make()))
            print(f"round {r + 1}: {name:<24} {figures[name][-1]:8.1f} images/s", flush=True)
    medians = {k: statistics.median(v) for k, v in figures.items()}
    print(f"{len(every)} files at {args.size}x{args.size}, {args.rounds} rounds, medians: "
          + ", ".join(f"{k} {v:.1f} images/s" for k, v in medians.items())
          + f"; ratio raylife / plain = {medians['raylife'] / medians['read_images + normalise']:.2f}")
    ray.shutdown()


if __name__ == "__main__":
    main()
