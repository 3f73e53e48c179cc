"""A real S3 API on 127.0.0.1 (moto's server, a test dependency) for the object-storage tests and benchmark."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def local_s3(bucket: str, key: str = "test", secret: str = "test") -> Iterator[Callable[[str], str]]:
    """moto's server on a free port with ``bucket`` created; yields ``uri(prefix)``, a URI that carries the credentials
    and the endpoint, so every process reading it (Ray workers included) needs nothing else."""
    import pyarrow.fs

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    query = f"endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.2)
        fs, _ = pyarrow.fs.FileSystem.from_uri(f"s3://{key}:{secret}@{bucket}?{query}&allow_bucket_creation=true")
        fs.create_dir(bucket)
        yield lambda prefix: f"s3://{key}:{secret}@{bucket}/{prefix}?{query}"
    finally:
        server.terminate()
        server.wait(timeout=10)
