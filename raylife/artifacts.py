"""Where a run's artifacts live: a folder (a shared mount on a multi-node cluster) or an object store.

``storage_path`` may be a path or a URI that pyarrow's filesystems understand (``s3://``, ``gs://``, ``abfs://``,
``hdfs://``, with pyarrow's query options such as ``?endpoint_override=…&region=…``), the way Ray Train takes it.
Ray Train writes its checkpoints there itself; raylife's own processes (the trial's actor, training workers that
start from a checkpoint, Serve replicas) copy a folder down before they read it and up after they write it, and
time each copy apart from the load or save it serves, so ``load_s`` and ``save_s`` mean the same for every kind of
storage. pyarrow is imported on first use only.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from raylife.errors import StorageError

if TYPE_CHECKING:
    import pyarrow.fs

# pyarrow's filesystems by URI scheme (what FileSystem.from_uri opens; fsspec-only schemes are not taken)
URI_SCHEMES = ("s3", "gs", "gcs", "abfs", "abfss", "hdfs", "viewfs", "file")
PROBE_TIMEOUT_S = 30.0  # an unreachable endpoint must not hang the submission (pyarrow retries for minutes)


def is_uri(text: str) -> bool:
    return "://" in text


@dataclass(frozen=True)
class Location:
    """A folder of artifacts: an absolute local path, or a URI whose query options travel with every child."""

    uri: str

    @classmethod
    def parse(cls, text: str | Path) -> Location:
        text = str(text)
        if text.startswith("file://"):  # a local folder by another name: checked and used as one
            text = urlsplit(text).path
        if is_uri(text):
            return cls(text.rstrip("/") if "?" not in text else text)
        return cls(str(Path(text).expanduser().resolve()))

    @property
    def remote(self) -> bool:
        return is_uri(self.uri)

    @property
    def scheme(self) -> str:
        return urlsplit(self.uri).scheme if self.remote else "file"

    def child(self, *parts: str) -> Location:
        rel = "/".join(p.strip("/") for p in parts if p.strip("/"))
        if not self.remote:
            return Location(str(Path(self.uri, rel)))
        split = urlsplit(self.uri)
        return Location(urlunsplit(split._replace(path=f"{split.path.rstrip('/')}/{rel}")))

    def filesystem(self) -> tuple[pyarrow.fs.FileSystem, str]:
        """(filesystem, path in it); a clear StorageError for a URI pyarrow cannot open."""
        import pyarrow.fs

        if not self.remote:
            return pyarrow.fs.LocalFileSystem(), self.uri
        try:
            return pyarrow.fs.FileSystem.from_uri(self.uri)
        except Exception as exc:  # noqa: BLE001 - ArrowInvalid (scheme), ValueError (options), OSError (credentials)
            raise StorageError(f"cannot open storage_path '{self.redacted()}': {_first_line(exc)}",
                               hint=SCHEME_HINT) from None

    def redacted(self) -> str:
        """The URI without a secret in its user part (``s3://KEY:SECRET@bucket``), for messages and the database."""
        split = urlsplit(self.uri)
        if not self.remote or "@" not in split.netloc:
            return self.uri
        return urlunsplit(split._replace(netloc="***@" + split.netloc.rsplit("@", 1)[1]))

    def within(self, fs_path: str) -> Location:
        """The location of ``fs_path``, a path in this location's filesystem below it (what Ray Train returns)."""
        if not self.remote:
            return Location(fs_path)
        _, root = self.filesystem()
        if not fs_path.startswith(root):
            raise ValueError(f"{fs_path} is not below {self.redacted()}")
        return self.child(fs_path[len(root):])

    def __str__(self) -> str:
        return self.uri


SCHEME_HINT = ("give a local or shared path, or a URI pyarrow reads (s3://bucket/prefix, gs://bucket/prefix, "
               "abfs://container@account.dfs.core.windows.net/prefix), with credentials in the environment")


@dataclass(frozen=True)
class Copy:
    """A folder copied between storage and this process's disk: where it is here, and what the copy cost."""

    local: Path
    seconds: float  # 0.0 when nothing was copied (the location is local)
    bytes: int
    copied: bool


def fetch(location: str, into: Path | None = None) -> Copy:
    """A local folder with the location's files: the folder itself when local, else a fresh copy under ``into``
    (a new temporary folder by default) — the caller owns it."""
    where = Location.parse(location)
    if not where.remote:
        return Copy(Path(where.uri), 0.0, 0, copied=False)
    import pyarrow.fs

    fs, path = where.filesystem()
    local = Path(into or tempfile.mkdtemp(prefix="raylife-fetch-"))
    local.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        pyarrow.fs.copy_files(path, str(local), source_filesystem=fs,
                              destination_filesystem=pyarrow.fs.LocalFileSystem())
    except FileNotFoundError:
        shutil.rmtree(local, ignore_errors=True)
        raise StorageError(f"nothing at {where.redacted()} to copy") from None
    except OSError as exc:
        shutil.rmtree(local, ignore_errors=True)
        raise StorageError(f"cannot copy {where.redacted()} to this node: {_first_line(exc)}") from None
    seconds = time.perf_counter() - started
    size = sum(f.stat().st_size for f in local.rglob("*") if f.is_file())
    if not any(local.iterdir()):
        shutil.rmtree(local, ignore_errors=True)
        raise StorageError(f"nothing at {where.redacted()} to copy")
    return Copy(local, seconds, size, copied=True)


def upload(local: Path, location: str) -> Copy:
    """Copy a local folder to the location (replacing what was there); nothing to do when it is the same folder."""
    where = Location.parse(location)
    size = sum(f.stat().st_size for f in Path(local).rglob("*") if f.is_file())
    if not where.remote:
        if Path(where.uri) == Path(local).resolve():
            return Copy(Path(local), 0.0, size, copied=False)
        started = time.perf_counter()
        shutil.rmtree(where.uri, ignore_errors=True)
        shutil.copytree(local, where.uri)
        return Copy(Path(local), time.perf_counter() - started, size, copied=True)
    import pyarrow.fs

    fs, path = where.filesystem()
    started = time.perf_counter()
    try:
        if fs.get_file_info(path).type != pyarrow.fs.FileType.NotFound:
            fs.delete_dir_contents(path, missing_dir_ok=True)
        pyarrow.fs.copy_files(str(local), path, source_filesystem=pyarrow.fs.LocalFileSystem(),
                              destination_filesystem=fs)
    except OSError as exc:
        raise StorageError(f"cannot copy {local} up to {where.redacted()}: {_first_line(exc)}") from None
    return Copy(Path(local), time.perf_counter() - started, size, copied=True)


def check_writable(location: Location, where: str) -> None:
    """Write a small object at the location, read it back and remove it, within PROBE_TIMEOUT_S; a StorageError
    that names the URI (never its secret) and pyarrow's reason otherwise. Local paths are checked elsewhere."""
    if not location.remote:
        return
    import concurrent.futures

    probe = location.child(f".raylife-probe-{uuid.uuid4().hex}")

    def write_read_remove() -> None:
        fs, path = probe.filesystem()
        with fs.open_output_stream(path) as out:
            out.write(b"raylife storage check\n")
        with fs.open_input_stream(path) as back:
            back.read()
        fs.delete_file(path)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        pool.submit(write_read_remove).result(timeout=PROBE_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        raise StorageError(f"storage_path {location.redacted()} did not answer within {PROBE_TIMEOUT_S:.0f} s",
                           where=where, hint="check the endpoint and the network, or give a shared path") from None
    except StorageError as exc:
        raise StorageError(exc.what, where=where, hint=exc.hint) from None
    except Exception as exc:  # noqa: BLE001 - pyarrow's OSError carries the store's own reason
        raise StorageError(f"cannot write to storage_path {location.redacted()}: {_first_line(exc)}", where=where,
                           hint="check that the bucket exists and the credentials in the environment may write "
                                "there (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, …)"
                           ) from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
