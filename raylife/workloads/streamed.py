"""File data sets streamed through Ray Data: the splits are lists of files, and no process ever holds a split decoded.

``FileSplits`` answers what ``Splits`` answers (sizes, labels, facts, a few decoded rows with ``head``, batches of a
split with ``batches``) and adds ``dataset(name)``: the split as a Ray Data pipeline — read, decode, resize and
normalise in Ray Data's tasks — that Ray Train hands to every training worker as a streaming shard
(``get_dataset_shard``). The trial's actor reads the held-out splits the same way, batch by batch, to evaluate.

Splitting is by file, seeded and stratified like the in-memory data sets (``split_dataset`` on file indices), so every
process that lists the folder gets the same files in each split. Ray is imported only where a pipeline is built.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from raylife.workloads.base import DataFacts, Dataset, FactsView, split_dataset

# How many decoded rows ``head`` gives at most (requests, the round-trip sample): 64 MiB of float32 at most, the
# request set's own budget, so serving a huge held-out split never decodes it whole.
HEAD_BYTES = 64 * 2**20


BAD_FILE_POLICIES = ("fail", "skip")


@dataclass(frozen=True)
class BadFile:
    """A file of the data set that could not be decoded, and what the decoder said."""

    path: str
    reason: str


class UnreadableFile(Exception):
    """Raised inside a pipeline's decode step (``on_bad_file = "fail"``). What the trial reports is read from the
    ledger (``BadFiles``), never from this exception's text: Ray Data and Ray Train wrap it differently each time."""


class BadFiles:
    """The files a trial's pipelines could not decode, reported by the decode step itself (a Ray actor: the step runs
    in Ray Data's tasks, on any node). Ray is imported only when a ledger is started."""

    def __init__(self) -> None:
        self._files: dict[str, str] = {}

    def report(self, path: str, reason: str) -> None:
        self._files.setdefault(path, reason)

    def files(self) -> list[tuple[str, str]]:
        return sorted(self._files.items())

    @staticmethod
    def start() -> Any:
        import ray

        return ray.remote(num_cpus=0)(BadFiles).remote()


def decode_image(data: bytes, size: int, mode: str, channels: int) -> np.ndarray:
    """One encoded image → ``size`` x ``size`` x ``channels`` uint8 (PIL: mode, then a bilinear resize). ``load()``
    forces the whole decode, so a truncated file fails here, not later."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        pixels = np.asarray(image.convert(mode).resize((size, size), Image.BILINEAR))
    return pixels.reshape(size, size, channels)


@dataclass(frozen=True)
class ImageReader:
    """How one image becomes one input row: its bytes read by Ray Data (``read_binary_files``), decoded by raylife's
    own step (``decode_image``: PIL, resized to ``size`` x ``size``, ``channels`` 1 or 3), scaled to [0, 1] float32;
    the label is the index of its class folder's name. A file that does not decode is caught per file and named
    (``on_bad_file``: ``fail`` the trial, or ``skip`` it and count it)."""

    size: int
    channels: int
    classes: tuple[str, ...]  # class folder names, sorted: the label of a file is its folder's index here
    on_bad_file: str = "fail"

    @property
    def mode(self) -> str:
        return "RGB" if self.channels == 3 else "L"

    def dataset(self, paths: tuple[str, ...], ledger: Any = None, parallelism: int | None = None) -> Any:
        import ray.data

        files = ray.data.read_binary_files(list(paths), include_paths=True, file_extensions=None,
                                           override_num_blocks=parallelism)
        return files.map_batches(_decoded_rows, fn_kwargs={"reader": self, "ledger": ledger}, batch_format="numpy",
                                 zero_copy_batch=True)

    def decode(self, paths: tuple[str, ...]) -> tuple[np.ndarray, list[int]]:
        """Decode a few files here, exactly as the pipeline does, without Ray: the rows, and the indices of the paths
        they came from (a bad file is left out with ``skip``; with ``fail`` it is a DataError naming it)."""
        rows, kept = [], []
        for i, path in enumerate(paths):
            try:
                rows.append(decode_image(Path(path).read_bytes(), self.size, self.mode, self.channels))
            except Exception as exc:  # noqa: BLE001 - PIL raises OSError, ValueError, SyntaxError… for bad files
                if self.on_bad_file == "fail":
                    raise bad_file_error(BadFile(path, _reason(exc))) from None
                continue
            kept.append(i)
        x = (np.stack(rows).astype(np.float32) / 255.0) if rows else np.zeros((0, self.size, self.size, self.channels),
                                                                               np.float32)
        return x, kept

    def row_bytes(self) -> int:
        return self.size * self.size * self.channels * 4


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def bad_file_error(bad: BadFile) -> Any:
    from raylife.errors import DataError

    return DataError(f"cannot decode image {bad.path} ({bad.reason})", where="data.path",
                     hint='remove or replace the file, or set data.on_bad_file = "skip" to train on the rest')


def _decoded_rows(batch: Mapping[str, np.ndarray], reader: ImageReader, ledger: Any) -> dict[str, np.ndarray]:
    """Ray Data's batch of file bytes → the training rows: ``x`` float32 NHWC in [0, 1], ``y`` the class index. Each
    file is decoded on its own: one that fails is reported to the ledger by path, then fails the step or is left out."""
    index = {name: i for i, name in enumerate(reader.classes)}
    images, labels = [], []
    for data, path in zip(batch["bytes"], batch["path"]):
        try:
            images.append(decode_image(bytes(data), reader.size, reader.mode, reader.channels))
        except Exception as exc:  # noqa: BLE001 - PIL raises OSError, ValueError, SyntaxError… for bad files
            _report(ledger, BadFile(str(path), _reason(exc)))
            if reader.on_bad_file == "fail":
                raise UnreadableFile(str(path)) from None
            continue
        labels.append(index[Path(str(path)).parent.name])
    shape = (len(images), reader.size, reader.size, reader.channels)
    x = np.stack(images) if images else np.zeros(shape, np.uint8)
    return {"x": x.astype(np.float32) / np.float32(255.0), "y": np.asarray(labels, dtype=np.int64)}


def _report(ledger: Any, bad: BadFile) -> None:
    if ledger is None:  # no trial listens (a pipeline outside one): the step itself must say which file
        raise bad_file_error(bad)
    import ray

    ray.get(ledger.report.remote(bad.path, bad.reason))


class StreamedSplits(FactsView):
    """What every kind of splits streamed through Ray Data shares: no split is an array, the input shape comes from
    the facts, and ``batches`` reads a split through its pipeline (``dataset``, each kind's own)."""

    streamed = True

    def dataset(self, name: str) -> Any:
        raise NotImplementedError

    def __getitem__(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        raise TypeError(f"split '{name}' of {self.facts.source} is streamed: read it with batches() or head()")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.facts.input_shape)

    def batches(self, name: str, batch: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The split batch by batch, streamed through Ray Data (needs a running Ray)."""
        for rows in self.dataset(name).iter_batches(batch_size=batch, batch_format="numpy"):
            yield rows["x"], rows["y"]


@dataclass
class FileSplits(StreamedSplits):
    """Train/val/test/retrain splits of a folder of files, each a tuple of paths and their labels (see the module)."""

    files: dict[str, tuple[tuple[str, ...], np.ndarray]]
    facts: DataFacts
    reader: ImageReader
    ignored: tuple[str, ...] = ()  # files in the class folders that are not images (by suffix): listed, never decoded
    _ledger: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def split(cls, paths: list[str], labels: np.ndarray, facts: DataFacts, reader: ImageReader, seed: int,
              ignored: tuple[str, ...] = ()) -> FileSplits:
        by_index = split_dataset(Dataset(x=np.arange(len(paths)), y=labels, facts=facts), seed)
        files = {name: (tuple(paths[i] for i in index), y) for name, (index, y) in by_index.arrays.items()}
        return cls(files=files, facts=facts, reader=reader, ignored=ignored)

    def sizes(self) -> dict[str, int]:
        return {name: len(paths) for name, (paths, _) in self.files.items()}

    def labels(self, name: str) -> np.ndarray:
        return self.files[name][1]

    def head(self, name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """The split's first ``rows`` rows decoded (at most HEAD_BYTES of them)."""
        paths, labels = self.files[name]
        rows = min(rows, len(paths), max(1, HEAD_BYTES // self.reader.row_bytes()))
        x, kept = self.reader.decode(paths[:rows])
        return x, labels[:rows][kept]

    def dataset(self, name: str) -> Any:
        """The split as a Ray Data pipeline of rows ``x``, ``y`` (lazy: nothing is read until it is iterated); files
        that do not decode are reported to this splits' ledger."""
        if self._ledger is None:
            self._ledger = BadFiles.start()
        return self.reader.dataset(self.files[name][0], self._ledger)

    def bad_files(self) -> list[BadFile]:
        """Every file a pipeline of these splits could not decode so far, by path."""
        if self._ledger is None:
            return []
        import ray

        return [BadFile(path, reason) for path, reason in ray.get(self._ledger.files.remote())]

    def bad_file_error(self) -> Exception | None:
        """The first bad file as one DataError (``on_bad_file = "fail"``), or None when every file decoded."""
        bad = self.bad_files()
        return bad_file_error(bad[0]) if bad else None
