"""Corpora for decoders: text the user brings (plain text, JSONL or Parquet with a text column), a generated corpus
with structure a model can learn, documents tokenised and packed into fixed-length sequences, and the unigram model
of the training split whose perplexity is the baseline a trained decoder must beat (the analogue of
``baseline_accuracy``).

Numpy and the standard library (Parquet through pyarrow, which Ray Data already brings); Ray Data reads the same
formats in the workers and applies ``pack`` batch by batch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from raylife.errors import DataError

FORMATS = ("text", "jsonl", "parquet")


def documents(path: str | Path, format: str, text_column: str = "text") -> Iterator[str]:
    """Every document of a corpus file, in order; an unreadable one is a DataError naming the file and its row.
    ``text``: one document per non-empty line; ``jsonl``: one object per line, its ``text_column`` a string;
    ``parquet``: the ``text_column`` of every row."""
    path = Path(path)
    if format not in FORMATS:
        raise DataError(f"unknown corpus format {format!r}", where="data.format", hint=f"use one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise DataError(f"no corpus file at {path}", where="data.path", hint="check the path (relative to the suite file)")
    if format == "parquet":
        yield from _parquet_texts(path, text_column)
        return
    with open(path, "rb") as lines:
        for row, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
                if format == "text":
                    if line.strip():
                        yield line
                    continue
                if not line.strip():
                    continue
                value = json.loads(line)
                text = value.get(text_column) if isinstance(value, dict) else None
                if not isinstance(text, str):
                    raise TypeError(f"no string {text_column!r} in the object")
            except (UnicodeDecodeError, ValueError, TypeError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise DataError(f"cannot read row {row} of {path}: {reason}", where="data.path",
                                hint="fix or remove the row") from None
            yield text


def _parquet_texts(path: Path, text_column: str) -> Iterator[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"cannot read {path} as parquet: {str(exc).splitlines()[0]}", where="data.path",
                        hint="check that the file is a Parquet file") from None
    names = table.schema_arrow.names
    if text_column not in names:
        raise DataError(f"{path} has no column {text_column!r} (columns: {', '.join(names)})",
                        where="data.options.text_column", hint="name the column that holds the text")
    row = 0
    for batch in table.iter_batches(columns=[text_column]):
        for value in batch.column(0).to_pylist():
            row += 1
            if not isinstance(value, str):
                raise DataError(f"cannot read row {row} of {path}: {text_column!r} is {type(value).__name__}, not text",
                                where="data.path", hint="fix or remove the row")
            yield value


def pack(token_lists: Iterable[list[int]], seq_len: int, eos_id: int) -> np.ndarray:
    """Documents joined end to end, each followed by ``eos_id``, cut into rows of ``seq_len + 1`` tokens (a row's
    inputs are its first ``seq_len``, its targets the last ``seq_len``); the tail shorter than a row is dropped."""
    stream: list[int] = []
    for ids in token_lists:
        stream.extend(ids)
        stream.append(eos_id)
    width = seq_len + 1
    rows = len(stream) // width
    return np.asarray(stream[: rows * width], dtype=np.int64).reshape(rows, width)


# -- a generated corpus -------------------------------------------------------------------------------------------
# Sentences of a small grammar whose words depend on each other (a noun decides its verb and its sound, an adjective
# its noun's class), so a decoder that learns the dependencies predicts far better than token frequencies do.
_NOUNS = {"cat": ("purrs", "meows"), "dog": ("barks", "growls"), "bird": ("sings", "chirps"),
          "cow": ("moos", "grazes"), "frog": ("croaks", "jumps"), "owl": ("hoots", "watches")}
_ADJECTIVES = {"cat": ("sleepy", "striped"), "dog": ("loyal", "muddy"), "bird": ("tiny", "bright"),
               "cow": ("brown", "calm"), "frog": ("green", "slimy"), "owl": ("wise", "silent")}
_PLACES = ("in the garden", "by the river", "on the hill", "at night", "near the barn", "under the tree")


def generated_documents(samples: int, seed: int = 0) -> list[str]:
    """``samples`` seeded documents of two to four sentences each."""
    rng = np.random.default_rng(seed)
    nouns = sorted(_NOUNS)
    docs = []
    for _ in range(samples):
        sentences = []
        for _ in range(int(rng.integers(2, 5))):
            noun = nouns[int(rng.integers(len(nouns)))]
            adjective = _ADJECTIVES[noun][int(rng.integers(2))]
            verb = _NOUNS[noun][int(rng.integers(2))]
            place = _PLACES[int(rng.integers(len(_PLACES)))]
            sentences.append(f"the {adjective} {noun} {verb} {place}.")
        docs.append(" ".join(sentences))
    return docs


# -- quality --------------------------------------------------------------------------------------------------------

def unigram_perplexity(train: np.ndarray, test: np.ndarray, vocab_size: int) -> float:
    """Perplexity on ``test``'s target tokens of the unigram model of ``train``'s (add-one smoothed): what knowing
    only how often each token occurs achieves. Rows as ``pack`` makes them; targets are each row's tokens after the
    first."""
    from raylife.measure.quality import unigram_perplexity as of_targets

    return of_targets(train[:, 1:], test[:, 1:], vocab_size)


def perplexity(mean_nll: float) -> float:
    """exp of the mean negative log-likelihood per target token (natural log), the figure LM papers report."""
    return float(math.exp(mean_nll))
