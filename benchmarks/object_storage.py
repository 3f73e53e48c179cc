"""What copying a model folder to and from object storage costs, next to a local folder, through raylife's own
``raylife.artifacts`` (pyarrow's filesystems, the layer Ray Train uses).

    python benchmarks/object_storage.py [--runs 5] [--mib 1 16]

Starts moto's S3 server on 127.0.0.1 (the test dependency ``moto[server]``), writes folders of the given sizes
(a few files each, like a saved model), and times, alternating: ``upload`` and ``fetch`` against S3, and the same
``upload`` to another local folder (shutil) as the baseline. Prints medians per size and MiB/s. A local endpoint
measures raylife's and pyarrow's own cost per copy, not a cloud's network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from raylife.artifacts import Location, fetch, upload  # noqa: E402
from tests.s3_server import local_s3  # noqa: E402


def model_folder(root: Path, mib: float) -> Path:
    folder = root / f"model-{mib:g}MiB"
    (folder / "variables").mkdir(parents=True)
    size = int(mib * 2**20)
    (folder / "weights.bin").write_bytes(os.urandom(size - 4096))
    (folder / "variables" / "index").write_bytes(os.urandom(2048))
    (folder / "recipe.json").write_bytes(b"{}" * 1024)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mib", type=float, nargs="+", default=[1.0, 16.0])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="raylife-storage-bench-"))
    with local_s3("bench") as uri:
        print(f"{'size':>8}  {'local copy':>12}  {'S3 upload':>12}  {'S3 fetch':>12}  (median of {args.runs}; MiB/s)")
        for mib in args.mib:
            folder = model_folder(root, mib)
            local, up, down = [], [], []
            for run in range(args.runs):
                local.append(upload(folder, str(root / f"copy-{mib:g}-{run}")).seconds)
                where = Location.parse(uri(f"m{mib:g}/{run}")).uri
                up.append(upload(folder, where).seconds)
                copy = fetch(where)
                down.append(copy.seconds)
                shutil.rmtree(copy.local)
            cells = [f"{statistics.median(v) * 1000:8.1f} ms ({mib / statistics.median(v):6.0f})" for v in (local, up, down)]
            print(f"{mib:>6g} MiB  " + "  ".join(cells))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
