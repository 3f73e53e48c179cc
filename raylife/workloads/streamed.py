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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from raylife.workloads.base import DataFacts, Dataset, FactsView, split_dataset

# How many decoded rows ``head`` gives at most (requests, the round-trip sample): 64 MiB of float32 at most, the
# request set's own budget, so serving a huge held-out split never decodes it whole.
HEAD_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ImageReader:
    """How one image becomes one input row: decoded by PIL (Ray Data's ``read_images``), resized to ``size`` x ``size``,
    ``channels`` 1 or 3, scaled to [0, 1] float32; the label is the index of its class folder's name."""

    size: int
    channels: int
    classes: tuple[str, ...]  # class folder names, sorted: the label of a file is its folder's index here

    @property
    def mode(self) -> str:
        return "RGB" if self.channels == 3 else "L"

    def dataset(self, paths: tuple[str, ...], parallelism: int | None = None) -> Any:
        import ray.data

        images = ray.data.read_images(
            list(paths), size=(self.size, self.size), mode=self.mode, include_paths=True, file_extensions=None,
            override_num_blocks=parallelism,
        )
        return images.map_batches(_rows, fn_kwargs={"classes": self.classes, "channels": self.channels},
                                  batch_format="numpy", zero_copy_batch=True)

    def decode(self, paths: tuple[str, ...]) -> np.ndarray:
        """Decode a few files here, exactly as the pipeline does (PIL's resize, same mode), without Ray."""
        from PIL import Image

        rows = []
        for path in paths:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert(self.mode).resize((self.size, self.size), Image.BILINEAR))
            rows.append(pixels.reshape(self.size, self.size, self.channels))
        return (np.stack(rows).astype(np.float32) / 255.0) if rows else np.zeros((0, self.size, self.size, self.channels),
                                                                                 np.float32)

    def row_bytes(self) -> int:
        return self.size * self.size * self.channels * 4


def _rows(batch: Mapping[str, np.ndarray], classes: tuple[str, ...], channels: int) -> dict[str, np.ndarray]:
    """Ray Data's image batch → the training rows: ``x`` float32 NHWC in [0, 1], ``y`` the class index."""
    images = np.asarray(batch["image"])
    if images.ndim == 3:  # mode "L" decodes to H x W
        images = images[..., np.newaxis]
    index = {name: i for i, name in enumerate(classes)}
    labels = np.fromiter((index[Path(str(p)).parent.name] for p in batch["path"]), dtype=np.int64, count=len(images))
    return {"x": images.astype(np.float32) / np.float32(255.0), "y": labels}


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

    @classmethod
    def split(cls, paths: list[str], labels: np.ndarray, facts: DataFacts, reader: ImageReader, seed: int) -> FileSplits:
        by_index = split_dataset(Dataset(x=np.arange(len(paths)), y=labels, facts=facts), seed)
        files = {name: (tuple(paths[i] for i in index), y) for name, (index, y) in by_index.arrays.items()}
        return cls(files=files, facts=facts, reader=reader)

    def sizes(self) -> dict[str, int]:
        return {name: len(paths) for name, (paths, _) in self.files.items()}

    def labels(self, name: str) -> np.ndarray:
        return self.files[name][1]

    def head(self, name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """The split's first ``rows`` rows decoded (at most HEAD_BYTES of them)."""
        paths, labels = self.files[name]
        rows = min(rows, len(paths), max(1, HEAD_BYTES // self.reader.row_bytes()))
        return self.reader.decode(paths[:rows]), labels[:rows]

    def dataset(self, name: str) -> Any:
        """The split as a Ray Data pipeline of rows ``x``, ``y`` (lazy: nothing is read until it is iterated)."""
        return self.reader.dataset(self.files[name][0])
