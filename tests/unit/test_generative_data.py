"""Decoders' data (raylife/workloads/generative): tokenizers, corpus files read row by row with errors that name the
row, packing, the generated corpus and the unigram baseline. No framework, no Ray."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raylife.errors import DataError
from raylife.workloads.generative.corpus import documents, generated_documents, pack, perplexity, unigram_perplexity
from raylife.workloads.generative.tokenizer import ByteTokenizer, FileTokenizer, check_vocabulary, tokenizer_for


@settings(max_examples=50, deadline=None)
@given(st.text())
def test_the_byte_tokenizer_decodes_any_text_back_exactly(text):
    tok = ByteTokenizer()
    ids = tok.encode(text)
    assert all(0 <= i < 256 for i in ids) and tok.decode(ids) == text


def _word_tokenizer(path):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {"[UNK]": 0, "<|endoftext|>": 1, **{w: i + 2 for i, w in enumerate(["the", "cat", "purrs", "."])}}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    tok.save(str(path))
    return path


def test_a_tokenizer_json_encodes_decodes_and_names_its_end_of_document(tmp_path):
    tok = tokenizer_for(str(_word_tokenizer(tmp_path / "tokenizer.json")))
    assert isinstance(tok, FileTokenizer) and tok.vocab_size == 6 and tok.eos_id == 1
    assert tok.encode("the cat purrs .") == [2, 3, 4, 5] and tok.decode([2, 3]) == "the cat"
    check_vocabulary(tok, 6, "gpt2")
    with pytest.raises(DataError, match=r"the tokenizer has 6 tokens, model 'gpt2' a vocabulary of 50,257"):
        check_vocabulary(tok, 50_257, "gpt2")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match=r"cannot read tokenizer .*bad\.json"):
        tokenizer_for(str(tmp_path / "bad.json"))


def test_corpus_files_read_row_by_row_and_a_bad_row_is_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = tmp_path / "c.txt"
    text.write_text("first doc\n\nsecond doc\n")
    assert list(documents(text, "text")) == ["first doc", "second doc"]
    good = tmp_path / "c.jsonl"
    good.write_text("\n".join(json.dumps({"text": t, "id": i}) for i, t in enumerate(["a b", "c d"])) + "\n")
    assert list(documents(good, "jsonl")) == ["a b", "c d"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": "fine"}\n{"text": "cut off\n')
    with pytest.raises(DataError, match=r"cannot read row 3 of .*bad\.jsonl: Unterminated string"):
        list(documents(bad, "jsonl"))
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"text": "fine"}\n{"body": "x"}\n')
    with pytest.raises(DataError, match=r"row 2 of .*wrong\.jsonl: no string 'text' in the object"):
        list(documents(wrong, "jsonl"))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"fine\n\xff\xfe broken\n")
    with pytest.raises(DataError, match=r"row 2 of .*binary\.txt: 'utf-8' codec can't decode"):
        list(documents(binary, "text"))
    table = tmp_path / "c.parquet"
    pq.write_table(pa.table({"body": ["x y", None]}), table)
    assert next(documents(table, "parquet", "body")) == "x y"
    with pytest.raises(DataError, match=r"row 2 of .*c\.parquet: 'body' is NoneType, not text"):
        list(documents(table, "parquet", "body"))
    with pytest.raises(DataError, match=r"has no column 'text' \(columns: body\)"):
        list(documents(table, "parquet"))


def test_packing_joins_documents_with_their_end_and_drops_the_short_tail():
    rows = pack([[1, 2, 3], [4, 5], [6]], seq_len=3, eos_id=0)
    assert rows.tolist() == [[1, 2, 3, 0], [4, 5, 0, 6]]  # the last [0] is shorter than a row: dropped


def test_the_generated_corpus_has_structure_beyond_token_frequencies():
    tok = ByteTokenizer()
    docs = generated_documents(400, seed=0)
    assert docs == generated_documents(400, seed=0) and docs != generated_documents(400, seed=1)
    rows = pack((tok.encode(d) for d in docs), seq_len=64, eos_id=tok.eos_id)
    train, test = rows[: len(rows) * 4 // 5], rows[len(rows) * 4 // 5:]
    unigram = unigram_perplexity(train, test, tok.vocab_size)
    # a bigram model of the same tokens (add-one smoothed) already predicts far better: there is order to learn
    pairs = np.ones((tok.vocab_size, tok.vocab_size))
    np.add.at(pairs, (train[:, :-1].ravel(), train[:, 1:].ravel()), 1)
    log_p = np.log(pairs / pairs.sum(axis=1, keepdims=True))
    bigram = perplexity(-log_p[test[:, :-1].ravel(), test[:, 1:].ravel()].mean())
    assert 1 < bigram < 0.5 * unigram, (bigram, unigram)
    assert unigram < tok.vocab_size  # and frequencies alone beat a uniform guess


def test_unigram_perplexity_by_hand():
    train = np.array([[0, 1, 1, 2]])  # targets 1, 1, 2 → counts + 1: [1, 3, 2] of 6
    test = np.array([[0, 1, 2]])  # targets 1, 2
    expected = np.exp(-(np.log(3 / 6) + np.log(2 / 6)) / 2)
    assert unigram_perplexity(train, test, 3) == pytest.approx(expected)


def test_the_byte_tokenizer_as_a_hugging_face_folder_gives_the_same_ids(tmp_path):
    from tokenizers import Tokenizer

    from raylife.workloads.generative.tokenizer import write_byte_tokenizer

    folder = write_byte_tokenizer(tmp_path / "tok")
    hf = Tokenizer.from_file(str(folder / "tokenizer.json"))
    text = "the sleepy cat — purrs ünder 3 trees\n"
    assert hf.encode(text).ids == ByteTokenizer().encode(text) and hf.decode(hf.encode(text).ids) == text
    loaded = FileTokenizer(folder / "tokenizer.json")
    assert loaded.vocab_size == 257 and loaded.eos_id == 256
