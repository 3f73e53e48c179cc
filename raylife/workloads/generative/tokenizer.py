"""Tokenizers for decoders: raylife's byte-level one (built in, nothing to bring) or a ``tokenizer.json`` the user
brings (Hugging Face ``tokenizers``, the file every Hugging Face model folder ships).

Both answer the same three things: ``encode(text) -> ids``, ``decode(ids) -> text`` and ``vocab_size``, plus the id
that ends a document (``eos_id``), which packing puts between documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from raylife.errors import DataError


class Tokenizer(Protocol):
    vocab_size: int
    eos_id: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class ByteTokenizer:
    """UTF-8 bytes as ids 0–255 and one end-of-document id, 256: any text encodes, and decodes back exactly."""

    vocab_size = 257
    eos_id = 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


class FileTokenizer:
    """A ``tokenizer.json`` (Hugging Face ``tokenizers``); its end-of-document id is the first of ``eos_names`` that
    its vocabulary holds."""

    EOS_NAMES = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "[SEP]")

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        try:
            self._tok = HFTokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - the library raises plain Exceptions for every kind of bad file
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DataError(f"cannot read tokenizer {path}: {reason}", where="data.tokenizer",
                            hint="give a tokenizer.json written by Hugging Face tokenizers") from None
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        vocab = self._tok.get_vocab(with_added_tokens=True)
        found = [vocab[name] for name in self.EOS_NAMES if name in vocab]
        if not found:
            raise DataError(f"tokenizer {path} has no end-of-document token (one of {', '.join(self.EOS_NAMES)})",
                            where="data.tokenizer", hint="add one to the tokenizer's special tokens")
        self.eos_id = found[0]

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids)


def tokenizer_for(path: str | None) -> Tokenizer:
    """The user's tokenizer.json, or the byte-level one when none is named."""
    return ByteTokenizer() if path is None else FileTokenizer(path)


def check_vocabulary(tokenizer: Tokenizer, model_vocab: int, model: str) -> None:
    """A tokenizer whose ids the model's embedding cannot hold (or does not cover) is refused before anything runs."""
    if tokenizer.vocab_size != model_vocab:
        raise DataError(f"the tokenizer has {tokenizer.vocab_size:,} tokens, model '{model}' a vocabulary of "
                        f"{model_vocab:,}", where="data.tokenizer",
                        hint="use the tokenizer the model was made with, or set the model's vocabulary to match")
