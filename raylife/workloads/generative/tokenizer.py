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


def write_byte_tokenizer(folder: str | Path) -> Path:
    """The byte-level tokenizer as a Hugging Face tokenizer folder (``tokenizer.json`` + ``tokenizer_config.json``):
    the same 257 ids, for tools that load a tokenizer by path (LLM benchmark clients that count tokens, transformers'
    ``AutoTokenizer``). Byte b is id b (GPT-2's byte-to-character table names it), the end of a document 256."""
    import json

    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, pre_tokenizers
    from tokenizers.models import BPE

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    characters = _bytes_to_unicode()
    tok = HFTokenizer(BPE(vocab={characters[b]: b for b in range(256)} | {"<|endoftext|>": 256}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|endoftext|>"}))
    return folder


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table of a printable character for every byte (byte-level BPE's alphabet)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table
