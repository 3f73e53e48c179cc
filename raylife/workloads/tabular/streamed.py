"""CSV and Parquet streamed through Ray Data (``options.stream = true``): no process holds the table's features —
numeric columns, standardised (the tabular workload), or one text column, tokenised (the text workload).

A table has no files to split by (one big file is the common case), and Ray Data gives a row no stable index, so a row's
split is a function of its content: a seeded 64-bit hash of its feature values (as float64) and its label (as text)
— pandas' ``hash_pandas_object``, the same in every process, block and order — mapped to [0, 1) and cut at
``SPLIT_FRACTIONS``. Identical rows always land in the same split (no leakage between train and test); the fractions
hold within sampling error (they are not stratified, unlike the in-memory splits).

``TableSplits`` answers what ``Splits`` answers. Building it is one streamed pass over the label and feature columns
(pyarrow batches, never the whole table): each split's labels, and each feature's mean and standard deviation, with
which Ray Data's ``map_batches`` standardises the rows exactly as the in-memory path does over the whole data. Rows
without a label or with a missing feature are dropped, as in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from raylife.workloads.base import SPLIT_FRACTIONS, DataFacts
from raylife.workloads.streamed import StreamedSplits

SPLITS = tuple(SPLIT_FRACTIONS) + ("train",)  # test, val, retrain, then train takes the rest
_EDGES = np.cumsum([SPLIT_FRACTIONS[name] for name in SPLIT_FRACTIONS])
HEAD_BYTES = 64 * 2**20  # decoded rows ``head`` gives at most: the request set's own budget
SCAN_ROWS = 65_536  # rows per pyarrow batch in the process-local passes


@dataclass(frozen=True)
class TableReader:
    """How the table's rows become input rows: which files and columns, the label values, the standardisation."""

    kind: str  # csv | parquet
    paths: tuple[str, ...]
    features: tuple[str, ...]
    label: str
    classes: tuple[str, ...]  # label values as text, sorted: a row's class is its label's index here
    mean: tuple[float, ...]
    std: tuple[float, ...]
    seed: int
    # a text table: ``features`` is the one text column, tokenised to ``seq_len`` ids with this vocabulary
    vocabulary: tuple[str, ...] | None = None
    seq_len: int = 0

    @property
    def text(self) -> bool:
        return self.vocabulary is not None

    def split_of(self, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Each row's split (an index into SPLITS) from a seeded hash of its content."""
        import pandas as pd

        content = pd.DataFrame({f"f{i}": x[:, i] for i in range(x.shape[1])} | {"label": labels})
        hashed = pd.util.hash_pandas_object(content, index=False, hash_key=f"raylife{self.seed:09d}"[-16:]).to_numpy()
        unit = (hashed >> np.uint64(11)).astype(np.float64) / float(2**53)
        return np.searchsorted(_EDGES, unit, side="right")

    def columns(self, table: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(features as float64 with NaN for missing — a text table: its texts, None for missing —, labels as text
        with None for missing, rows to keep)."""
        labels = _as(table.column(self.label), "string")
        labels[labels == ""] = None  # an empty CSV field is a missing label, not a class
        if self.text:
            x = _as(table.column(self.features[0]), "string").reshape(-1, 1)
            x[x == ""] = None  # an empty CSV field: no text, as a missing one in Parquet
            keep = np.not_equal(x[:, 0], None) & np.isin(labels, self.classes)
        else:
            x = np.column_stack([_as(table.column(c), "float64") for c in self.features])
            keep = ~np.isnan(x).any(axis=1) & np.isin(labels, self.classes)
        return x, labels, keep

    def rows(self, table: Any, split: str) -> dict[str, np.ndarray]:
        """The rows of ``split`` in an Arrow table: ``x`` standardised float32, ``y`` the class index."""
        x, labels, keep = self.columns(table)
        keep &= self.split_of(x, labels) == SPLITS.index(split)
        index = {name: i for i, name in enumerate(self.classes)}
        y = np.fromiter((index[v] for v in labels[keep]), dtype=np.int64, count=int(keep.sum()))
        if self.text:
            from raylife.workloads.text.tokenizer import WordTokenizer

            return {"x": WordTokenizer(list(self.vocabulary)).encode(x[keep, 0], self.seq_len), "y": y}
        x = (x[keep] - np.asarray(self.mean)) / np.asarray(self.std)
        return {"x": x.astype(np.float32), "y": y}

    def tables(self, batch_rows: int = SCAN_ROWS) -> Iterator[Any]:
        """The table's label and feature columns, batch by batch, read here by pyarrow (no Ray)."""
        import pyarrow as pa

        for batch in _arrow_dataset(self.kind, self.paths).to_batches(columns=[*self.features, self.label],
                                                                       batch_size=batch_rows):
            yield pa.Table.from_batches([batch])

    def dataset(self, split: str) -> Any:
        """``split`` as a Ray Data pipeline: read, hash to its split, standardise (nothing read until iterated)."""
        import ray.data

        columns = [*self.features, self.label]
        if self.kind == "parquet":
            table = ray.data.read_parquet(list(self.paths), columns=columns)
        else:
            import pyarrow.csv as pacsv

            table = ray.data.read_csv(list(self.paths), convert_options=pacsv.ConvertOptions(include_columns=columns))
        return table.map_batches(_split_rows, fn_kwargs={"reader": self, "split": split}, batch_format="pyarrow")


def _split_rows(table: Any, reader: TableReader, split: str) -> dict[str, np.ndarray]:
    return reader.rows(table, split)


def _as(column: Any, type_name: str) -> np.ndarray:
    """An Arrow column cast to float64 (missing: NaN) or string (missing: None), as numpy: one conversion for every
    process and block, so a label is the same text whichever type a CSV block inferred for it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(column, getattr(pa, type_name)()).to_numpy(zero_copy_only=False)


def label_classes(kind: str, paths: tuple[str, ...], label: str) -> tuple[str, ...]:
    """The label column's distinct values as text (sorted), read column-only by pyarrow."""
    import pyarrow.compute as pc

    values = pc.unique(pc.cast(_arrow_dataset(kind, paths).to_table(columns=[label]).column(label), "string"))
    return tuple(sorted(v for v in values.to_pylist() if v))  # None and "" (an empty CSV field) are missing


def _arrow_dataset(kind: str, paths: tuple[str, ...]) -> Any:
    import pyarrow.dataset as pads

    return pads.dataset(list(paths), format=kind)


@dataclass
class TableSplits(StreamedSplits):
    """Train/val/test/retrain rows of a table streamed through Ray Data (see the module)."""

    reader: TableReader
    facts: DataFacts
    split_labels: dict[str, np.ndarray]

    def sizes(self) -> dict[str, int]:
        return {name: len(y) for name, y in self.split_labels.items()}

    def labels(self, name: str) -> np.ndarray:
        return self.split_labels[name]

    def head(self, name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """The split's first ``rows`` rows in the table's order (at most HEAD_BYTES of them), read here."""
        width = self.reader.seq_len * 8 if self.reader.text else 4 * len(self.reader.features)
        rows = min(rows, max(1, HEAD_BYTES // width))
        xs, ys, got = [], [], 0
        for table in self.reader.tables():
            part = self.reader.rows(table, name)
            xs.append(part["x"]), ys.append(part["y"])
            got += len(part["y"])
            if got >= rows:
                break
        x = np.concatenate(xs) if xs else np.zeros((0, *self.input_shape), np.float32)
        y = np.concatenate(ys) if ys else np.zeros(0, np.int64)
        return x[:rows], y[:rows]

    def dataset(self, name: str) -> Any:
        return self.reader.dataset(name)


def table_files(path: str, kind: str) -> tuple[str, ...]:
    """One file, or every ``*.{kind}`` file under a folder (sorted: the same order in every process)."""
    root = Path(path)
    if root.is_dir():
        return tuple(str(p.resolve()) for p in sorted(root.rglob(f"*.{kind}")) if p.is_file())
    return (str(root.resolve()),)


def table_splits(kind: str, paths: tuple[str, ...], features: tuple[str, ...], label: str, classes: tuple[str, ...],
                 facts: DataFacts, seed: int, vocab_size: int | None = None, seq_len: int = 0) -> TableSplits:
    """The table's streamed splits: one pass over it per process (see ``_scan``). With ``vocab_size``, ``features``
    is one text column, tokenised to ``seq_len`` ids with a vocabulary counted over the whole table."""
    split_labels, mean, std, vocabulary = _scan(kind, paths, features, label, classes, seed, vocab_size)
    reader = TableReader(kind, paths, features, label, classes, mean, std, seed, vocabulary, seq_len)
    return TableSplits(reader=reader, facts=facts, split_labels=split_labels)


@lru_cache(maxsize=8)  # a trial's actor loads the data in several stages: one pass per process
def _scan(kind: str, paths: tuple[str, ...], features: tuple[str, ...], label: str, classes: tuple[str, ...],
          seed: int, vocab_size: int | None = None
          ) -> tuple[dict[str, np.ndarray], tuple[float, ...], tuple[float, ...], tuple[str, ...] | None]:
    """One streamed pass over the table: (each split's labels, each feature's mean, its standard deviation, the
    vocabulary of a text table)."""
    from collections import Counter

    from raylife.workloads.text.tokenizer import vocabulary, words

    text = vocab_size is not None
    probe = TableReader(kind, paths, features, label, classes, (0.0,) * len(features), (1.0,) * len(features), seed,
                        () if text else None)
    index = {name: i for i, name in enumerate(classes)}
    per_split: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    total, total_sq, count, counts = np.zeros(len(features)), np.zeros(len(features)), 0, Counter()
    for table in probe.tables():
        x, labels, keep = probe.columns(table)
        if text:  # the vocabulary comes from every text, never the labels: as the in-memory load fits it
            counts.update(w for t in x[keep, 0] for w in words(t))
        else:
            total += x[keep].sum(axis=0)
            total_sq += np.square(x[keep]).sum(axis=0)
        count += int(keep.sum())
        split = probe.split_of(x, labels)
        for i, name in enumerate(SPLITS):
            chosen = keep & (split == i)
            per_split[name].append(np.fromiter((index[v] for v in labels[chosen]), dtype=np.int64,
                                               count=int(chosen.sum())))
    split_labels = {name: np.concatenate(parts) if parts else np.zeros(0, np.int64) for name, parts in per_split.items()}
    if text:
        return split_labels, probe.mean, probe.std, tuple(vocabulary(counts, vocab_size))
    mean = total / max(1, count)
    std = np.sqrt(np.maximum(total_sq / max(1, count) - np.square(mean), 0.0))
    return split_labels, tuple(mean.tolist()), tuple(np.where(std > 0, std, 1.0).tolist()), None
