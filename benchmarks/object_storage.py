"""What copying a model folder to and from object storage costs, next to a local folder, through raylife's own
``raylife.storage`` (pyarrow's filesystems, the layer Ray Train uses).

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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from raylife.storage import Location, fetch, upload  # noqa: E402


def start_s3() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("moto's S3 server did not start") from None
            time.sleep(0.2)
    import pyarrow.fs

    query = f"endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    fs, _ = pyarrow.fs.FileSystem.from_uri(f"s3://bench:bench@bench?{query}&allow_bucket_creation=true")
    fs.create_dir("bench")
    return server, f"s3://bench:bench@bench/{{}}?{query}"


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
    server, uri = start_s3()
    root = Path(tempfile.mkdtemp(prefix="raylife-storage-bench-"))
    try:
        print(f"{'size':>8}  {'local copy':>12}  {'S3 upload':>12}  {'S3 fetch':>12}  (median of {args.runs}; MiB/s)")
        for mib in args.mib:
            folder = model_folder(root, mib)
            local, up, down = [], [], []
            for run in range(args.runs):
                local.append(upload(folder, str(root / f"copy-{mib:g}-{run}")).seconds)
                where = Location.parse(uri.format(f"m{mib:g}/{run}")).uri
                up.append(upload(folder, where).seconds)
                copy = fetch(where)
                down.append(copy.seconds)
                shutil.rmtree(copy.local)
            cells = [f"{statistics.median(v) * 1000:8.1f} ms ({mib / statistics.median(v):6.0f})" for v in (local, up, down)]
            print(f"{mib:>6g} MiB  " + "  ".join(cells))
    finally:
        shutil.rmtree(root, ignore_errors=True)
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
