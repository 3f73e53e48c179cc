"""Text classification data, tokenised to fixed-length id sequences.

Built in: ``sentiment``, GENERATED and seeded (no real text corpus ships with the installed packages):
reviews of two or three clauses such as "the plot was good but the acting was not great". The label is the
sentiment of the clause after "but" (or of the only clause), and "not"/"never" flip a clause. So word order
and negation decide the label: counting positive and negative words is not enough.
On disk: ``textfolder`` (PATH/<class>/*.txt, e.g. aclImdb/train with classes = ["neg", "pos"]), ``csv`` and
``parquet`` (a text column and a label column; with ``stream = true`` a file or folder streamed through Ray Data and
tokenised there, ``tabular.streamed``). The vocabulary is built from the data set's texts (never its labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np

from pydantic import Field

from raylife.workloads.options import Column, Count, Length, Seed, Vocab
from raylife.workloads.base import DataFacts, Dataset, require
from raylife.workloads.text.tokenizer import WordTokenizer

SUBJECTS = ["the plot", "the acting", "the music", "the story", "the ending", "the food", "the service", "the room",
            "the camera", "the battery", "the design", "the price", "this book", "the movie", "the staff"]
POSITIVE = ["good", "great", "excellent", "wonderful", "superb", "enjoyable", "brilliant", "pleasant", "fantastic", "solid"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "poor", "dull", "horrible", "weak", "disappointing", "mediocre"]
VERBS = ["was", "is", "seemed", "felt"]
INTENSIFIERS = ["", "", "really", "very", "quite", "truly"]
NEGATIONS = ["not", "never"]


def _clause(rng: np.random.Generator, positive: bool) -> str:
    negate = rng.random() < 0.35
    word_positive = positive != negate  # "not bad" is positive: the word's polarity flips under negation
    adjective = rng.choice(POSITIVE if word_positive else NEGATIVE)
    parts = [rng.choice(SUBJECTS), rng.choice(VERBS)]
    if negate:
        parts.append(rng.choice(NEGATIONS))
    parts += [rng.choice(INTENSIFIERS), adjective]
    return " ".join(p for p in parts if p)


def generate_sentiment(samples: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(samples):
        label = int(rng.integers(0, 2))
        if rng.random() < 0.6:  # "A but B": B decides, A usually says the opposite
            first = _clause(rng, positive=bool(label) if rng.random() < 0.3 else not label)
            text = f"{first} but {_clause(rng, positive=bool(label))}"
        else:
            text = _clause(rng, positive=bool(label))
        if rng.random() < 0.3:
            text += " and " + rng.choice(["i watched it twice", "we went on a sunday", "it was long", "the seats were red"])
        texts.append(text)
        labels.append(label)
    return texts, np.asarray(labels, dtype=np.int64)


def describe_sentiment(samples: Annotated[int, Field(ge=100, le=10_000_000)] = 4000, seq_len: Length = 24, vocab_size: Vocab = 256,
                       seed: Seed = 11) -> DataFacts:
    require(samples >= 100, f"samples = {samples} is too few", "data.options.samples", "use 100 or more")
    return DataFacts(
        input_shape=(seq_len,), num_classes=2, dtype="int64", synthetic=True,
        source=f"generated sentiment reviews ({samples}, seed {seed}; labels depend on word order and negation)",
        model_args={"vocab_size": vocab_size},
    )


def load_sentiment(samples: Annotated[int, Field(ge=100, le=10_000_000)] = 4000, seq_len: Length = 24, vocab_size: Vocab = 256,
                   seed: Seed = 11) -> Dataset:
    facts = describe_sentiment(samples, seq_len, vocab_size, seed)
    texts, labels = generate_sentiment(samples, seed)
    tokenizer = WordTokenizer.fit(texts, vocab_size)
    return Dataset(x=tokenizer.encode(texts, seq_len), y=labels, facts=facts)


def _text_classes(path: str, classes: list[str] | None) -> list[Path]:
    root = Path(path)
    require(root.is_dir(), f"data path is not a directory: {root}", "data.path", "textfolder wants PATH/<class>/*.txt")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes:
        missing = [c for c in classes if not (root / c).is_dir()]
        require(not missing, f"{root} has no class folder(s) {', '.join(missing)}", "data.options.classes", "list existing folders")
        folders = [root / c for c in classes]
    require(len(folders) >= 2, f"{root} has {len(folders)} class folder(s); textfolder needs at least 2", "data.path",
            "lay texts out as PATH/<class>/<file>.txt")
    for folder in folders:
        require(any(folder.glob("*.txt")), f"class folder {folder} has no .txt files", "data.path", "add texts or remove the folder")
    return folders


def describe_textfolder(path: str, classes: list[Column] | None = None, seq_len: Length = 128, vocab_size: Vocab = 5000,
                        max_per_class: Count | None = None) -> DataFacts:
    folders = _text_classes(path, classes)
    return DataFacts(input_shape=(seq_len,), num_classes=len(folders), dtype="int64",
                     source=f"textfolder {path} (classes {', '.join(f.name for f in folders)})",
                     model_args={"vocab_size": vocab_size})


def load_textfolder(path: str, classes: list[Column] | None = None, seq_len: Length = 128, vocab_size: Vocab = 5000,
                    max_per_class: Count | None = None) -> Dataset:
    facts = describe_textfolder(path, classes, seq_len, vocab_size, max_per_class)
    texts, labels = [], []
    for label, folder in enumerate(_text_classes(path, classes)):
        for file in sorted(folder.glob("*.txt"))[:max_per_class]:
            texts.append(file.read_text(encoding="utf-8", errors="replace"))
            labels.append(label)
    tokenizer = WordTokenizer.fit(texts, vocab_size)
    return Dataset(x=tokenizer.encode(texts, seq_len), y=np.asarray(labels, dtype=np.int64), facts=facts)


def _text_columns(kind: str, path: str, text_column: str, label_column: str):  # noqa: ANN202 - a pyarrow Table
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    file = Path(path)
    require(not file.is_dir(), f"data path is a folder: {file}", "data.path",
            f"a folder of .{kind} files streams through Ray Data: set data.options.stream = true, or name one file")
    require(file.is_file(), f"data path is not a file: {file}", "data.path", f"point it at a .{kind} file")
    names = pacsv.open_csv(file).schema.names if kind == "csv" else pq.read_schema(file).names
    _require_columns(file.name, names, text_column, label_column)
    if kind == "csv":
        return pacsv.read_csv(file, convert_options=pacsv.ConvertOptions(include_columns=[text_column, label_column]))
    return pq.read_table(file, columns=[text_column, label_column])


def _require_columns(name: str, names: list[str], text_column: str, label_column: str) -> None:
    for column, option in ((text_column, "text_column"), (label_column, "label_column")):
        require(column in names, f"{name} has no column '{column}' (columns: {', '.join(names)})", f"data.options.{option}",
                f"set {option}")


def _describe_table(kind: str, path: str, text_column: str, label_column: str, seq_len: int, vocab_size: int,
                    max_rows: int | None, stream: bool) -> DataFacts:
    if stream:
        from raylife.workloads.tabular.data import _files
        from raylife.workloads.tabular.streamed import _arrow_dataset, label_classes

        require(max_rows is None, f"max_rows = {max_rows} with stream = true", "data.options.max_rows",
                "a streamed table is read whole: drop max_rows, or stream = false to load the first rows")
        files = _files(path, kind)
        _require_columns(Path(path).name, _arrow_dataset(kind, files).schema.names, text_column, label_column)
        classes = label_classes(kind, files, label_column)
    else:
        table = _text_columns(kind, path, text_column, label_column)
        classes = sorted({str(v) for v in table.column(label_column).to_pylist()[:max_rows] if v is not None and v != ""})
    require(len(classes) >= 2, f"label column '{label_column}' has {len(classes)} distinct value(s)", "data.options.label_column",
            "check the column")
    how = " streamed through Ray Data" if stream else ""
    return DataFacts(input_shape=(seq_len,), num_classes=len(classes), dtype="int64", streamed=stream,
                     source=f"{kind} {path}{how} (text '{text_column}', label '{label_column}')",
                     model_args={"vocab_size": vocab_size})


def _load_table(kind: str, path: str, text_column: str, label_column: str, seq_len: int, vocab_size: int,
                max_rows: int | None) -> Dataset:
    facts = _describe_table(kind, path, text_column, label_column, seq_len, vocab_size, max_rows, False)
    table = _text_columns(kind, path, text_column, label_column)
    rows = [(str(t), str(v)) for t, v in zip(table.column(text_column).to_pylist()[:max_rows],
                                             table.column(label_column).to_pylist()[:max_rows])
            if t is not None and t != "" and v is not None and v != ""]  # "": an empty CSV field
    index = {c: i for i, c in enumerate(sorted({v for _, v in rows}))}
    texts = [t for t, _ in rows]
    tokenizer = WordTokenizer.fit(texts, vocab_size)
    return Dataset(x=tokenizer.encode(texts, seq_len), y=np.asarray([index[v] for _, v in rows], dtype=np.int64),
                   facts=facts)


def _stream_table(kind: str, path: str, seed: int, text_column: str, label_column: str, seq_len: int, vocab_size: int,
                  max_rows: int | None) -> Any:
    from raylife.workloads.tabular.data import _files
    from raylife.workloads.tabular.streamed import label_classes, table_splits

    facts = _describe_table(kind, path, text_column, label_column, seq_len, vocab_size, max_rows, True)
    files = _files(path, kind)
    return table_splits(kind, files, (text_column,), label_column, label_classes(kind, files, label_column), facts, seed,
                        vocab_size=vocab_size, seq_len=seq_len)


def describe_csv(path: str, text_column: Column = "text", label_column: Column = "label", seq_len: Length = 128,
                 vocab_size: Vocab = 5000, max_rows: Count | None = None, stream: bool = False) -> DataFacts:
    return _describe_table("csv", path, text_column, label_column, seq_len, vocab_size, max_rows, stream)


def load_csv(path: str, text_column: Column = "text", label_column: Column = "label", seq_len: Length = 128,
             vocab_size: Vocab = 5000, max_rows: Count | None = None, stream: bool = False) -> Dataset:
    return _load_table("csv", path, text_column, label_column, seq_len, vocab_size, max_rows)


def stream_csv(path: str, seed: int, text_column: Column = "text", label_column: Column = "label", seq_len: Length = 128,
               vocab_size: Vocab = 5000, max_rows: Count | None = None, stream: bool = True) -> Any:
    return _stream_table("csv", path, seed, text_column, label_column, seq_len, vocab_size, max_rows)


def describe_parquet(path: str, text_column: Column = "text", label_column: Column = "label", seq_len: Length = 128,
                     vocab_size: Vocab = 5000, max_rows: Count | None = None, stream: bool = False) -> DataFacts:
    return _describe_table("parquet", path, text_column, label_column, seq_len, vocab_size, max_rows, stream)


def load_parquet(path: str, text_column: Column = "text", label_column: Column = "label", seq_len: Length = 128,
                 vocab_size: Vocab = 5000, max_rows: Count | None = None, stream: bool = False) -> Dataset:
    return _load_table("parquet", path, text_column, label_column, seq_len, vocab_size, max_rows)


def stream_parquet(path: str, seed: int, text_column: Column = "text", label_column: Column = "label",
                   seq_len: Length = 128, vocab_size: Vocab = 5000, max_rows: Count | None = None,
                   stream: bool = True) -> Any:
    return _stream_table("parquet", path, seed, text_column, label_column, seq_len, vocab_size, max_rows)
