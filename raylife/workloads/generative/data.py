"""The language-modelling data sets a suite names: the generated corpus (built in) and the text files users bring
(plain text, JSONL, Parquet), tokenised (a ``tokenizer.json`` the user brings, or the byte-level one) and packed into
rows of ``seq_len + 1`` tokens: a row's inputs are its first ``seq_len`` tokens, its targets the ``seq_len`` after
the first (next-token prediction at every position).

``describe_*`` is cheap and runs on the driver before Ray starts (the file's first rows are read, so a bad row near
the top, a missing column or a tokenizer that cannot load is one ``Error:`` line); ``load_*`` runs in the workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from raylife.workloads.base import DataFacts, Dataset, require
from raylife.workloads.generative.corpus import documents, generated_documents, pack
from raylife.workloads.generative.tokenizer import Tokenizer, tokenizer_for
from raylife.workloads.options import Column, Count, Seed

# Tokens per row the model reads (its context in training); a row holds one more, the last target.
SeqLen = Annotated[int, Field(ge=2, le=131_072)]
Documents = Annotated[int, Field(ge=40, le=10_000_000)]
# Rows the five splits need at least (test 20%, val 10%, retrain 15%: one row each at 20 rows).
MIN_ROWS = 20
# The describe step reads this many documents of a user's file to check it (rows, column, tokenizer) before Ray starts.
PEEK_DOCUMENTS = 64


@dataclass(frozen=True)
class Packed:
    rows: np.ndarray  # (n, seq_len + 1) token ids
    tokenizer: Tokenizer


def _facts(seq_len: int, tokenizer: Tokenizer, source: str, synthetic: bool) -> DataFacts:
    return DataFacts(input_shape=(seq_len,), num_classes=tokenizer.vocab_size, dtype="int64", source=source,
                     synthetic=synthetic, targets="next_token")


def _dataset(packed: Packed, facts: DataFacts) -> Dataset:
    rows = packed.rows
    require(len(rows) >= MIN_ROWS, f"the corpus packs into {len(rows)} rows of {facts.input_shape[0] + 1} tokens; "
            f"the five splits need at least {MIN_ROWS}", "data.options.seq_len",
            "bring more text, or lower seq_len")
    return Dataset(x=np.ascontiguousarray(rows[:, :-1]), y=np.ascontiguousarray(rows[:, 1:]), facts=facts)


def _packed(texts: list[str], tokenizer: Tokenizer, seq_len: int) -> Packed:
    return Packed(pack((tokenizer.encode(t) for t in texts), seq_len, tokenizer.eos_id), tokenizer)


# -- the generated corpus ---------------------------------------------------------------------------------------------

def describe_stories(documents: Documents = 2000, seq_len: SeqLen = 64, seed: Seed = 0,
                     tokenizer: str | None = None) -> DataFacts:
    tok = tokenizer_for(tokenizer)
    return _facts(seq_len, tok, f"generated stories ({documents} documents, seed {seed}; each noun decides its verb and "
                  f"adjective)", synthetic=True)


def load_stories(documents: Documents = 2000, seq_len: SeqLen = 64, seed: Seed = 0,
                 tokenizer: str | None = None) -> Dataset:
    facts = describe_stories(documents, seq_len, seed, tokenizer)
    return _dataset(_packed(generated_documents(documents, seed), tokenizer_for(tokenizer), seq_len), facts)


# -- files users bring -----------------------------------------------------------------------------------------------

def _describe_file(fmt: str, path: str, seq_len: int, tokenizer: str | None, text_column: str) -> DataFacts:
    tok = tokenizer_for(tokenizer)
    peeked = 0
    for text in documents(path, fmt, text_column):  # the first rows: a bad row or column fails here, before Ray
        tok.encode(text)
        peeked += 1
        if peeked == PEEK_DOCUMENTS:
            break
    require(peeked > 0, f"{path} holds no documents", "data.path", "bring a file with text in it")
    return _facts(seq_len, tok, f"{fmt} corpus {path}", synthetic=False)


def _load_file(fmt: str, path: str, seq_len: int, tokenizer: str | None, text_column: str,
               max_documents: int | None) -> Dataset:
    facts = _describe_file(fmt, path, seq_len, tokenizer, text_column)
    texts = []
    for text in documents(path, fmt, text_column):
        texts.append(text)
        if max_documents is not None and len(texts) == max_documents:
            break
    return _dataset(_packed(texts, tokenizer_for(tokenizer), seq_len), facts)


def describe_text(path: str, seq_len: SeqLen = 128, tokenizer: str | None = None,
                  max_documents: Count | None = None) -> DataFacts:
    return _describe_file("text", path, seq_len, tokenizer, "text")


def load_text(path: str, seq_len: SeqLen = 128, tokenizer: str | None = None, max_documents: Count | None = None) -> Dataset:
    return _load_file("text", path, seq_len, tokenizer, "text", max_documents)


def describe_jsonl(path: str, seq_len: SeqLen = 128, tokenizer: str | None = None, text_column: Column = "text",
                   max_documents: Count | None = None) -> DataFacts:
    return _describe_file("jsonl", path, seq_len, tokenizer, text_column)


def load_jsonl(path: str, seq_len: SeqLen = 128, tokenizer: str | None = None, text_column: Column = "text",
               max_documents: Count | None = None) -> Dataset:
    return _load_file("jsonl", path, seq_len, tokenizer, text_column, max_documents)


def describe_parquet(path: str, seq_len: SeqLen = 128, tokenizer: str | None = None, text_column: Column = "text",
                     max_documents: Count | None = None) -> DataFacts:
    return _describe_file("parquet", path, seq_len, tokenizer, text_column)


def load_parquet(path: str, seq_len: SeqLen = 128, tokenizer: str | None = None, text_column: Column = "text",
                 max_documents: Count | None = None) -> Dataset:
    return _load_file("parquet", path, seq_len, tokenizer, text_column, max_documents)


def random_tokens(shape: list[int] | None = None, classes: Annotated[int, Field(ge=2, le=1_000_000)] = 257,
                  samples: Annotated[int, Field(ge=4, le=10_000_000)] = 256) -> DataFacts:
    """Random token ids for cost runs (``dataset = "random"``): ``shape = [seq_len]``, ``classes`` the vocabulary;
    no quality is measured on them."""
    seq_len = int((shape or [64])[0])
    return DataFacts(input_shape=(seq_len,), num_classes=int(classes), dtype="int64", synthetic=True,
                     measures_quality=False, source=f"random token ids ({seq_len} per row, vocabulary {classes})",
                     targets="next_token")

