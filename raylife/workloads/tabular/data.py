"""Tabular data: numeric feature columns and a class label, standardised per column.

Built in: scikit-learn's bundled ``breast_cancer`` (569 real samples, 30 features, 2 classes) and ``wine``
(178 samples, 13 features, 3 classes). On disk: ``csv`` and ``parquet`` with a ``label_column``; every other
numeric column is a feature unless ``feature_columns`` names them. Loaded whole, or with ``stream = true`` (a file or
a folder of files) streamed through Ray Data to the training workers (``tabular.streamed``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from raylife.workloads.options import Column, Count
from raylife.workloads.base import DataFacts, Dataset, require


def _standardise(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    return ((x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(np.float32)


def _sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    return bunch.data, bunch.target.astype(np.int64)


def describe_breast_cancer() -> DataFacts:
    return DataFacts(input_shape=(30,), num_classes=2, dtype="float32",
                     source="sklearn.datasets.load_breast_cancer (569 real samples, 30 features)")


def load_breast_cancer() -> Dataset:
    x, y = _sklearn("breast_cancer")
    return Dataset(x=_standardise(x), y=y, facts=describe_breast_cancer())


def describe_wine() -> DataFacts:
    return DataFacts(input_shape=(13,), num_classes=3, dtype="float32", source="sklearn.datasets.load_wine (178 real samples, 13 features)")


def load_wine() -> Dataset:
    x, y = _sklearn("wine")
    return Dataset(x=_standardise(x), y=y, facts=describe_wine())


def _read_table(path: str, kind: str, columns: list[str] | None = None) -> Any:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    file = _checked_file(path, kind)
    try:
        if kind == "csv":
            options = pacsv.ConvertOptions(include_columns=columns) if columns else None
            return pacsv.read_csv(file, convert_options=options)
        return pq.read_table(file, columns=columns)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds; all mean "not a readable table"
        raise _data_error(f"cannot read {file} as {kind}: {str(exc).splitlines()[0]}", "check the file format") from None


def _data_error(what: str, hint: str) -> Exception:
    from raylife.errors import DataError

    return DataError(what, where="data.path", hint=hint)


def _schema(path: str, kind: str) -> list[tuple[str, str]]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if Path(path).is_dir():
        from raylife.workloads.tabular.streamed import _arrow_dataset

        return [(f.name, str(f.type)) for f in _arrow_dataset(kind, _files(path, kind)).schema]
    _checked_file(path, kind)
    if kind == "parquet":
        schema = pq.read_schema(path)
    else:
        schema = pacsv.open_csv(path).schema  # reads only the first block
    return [(f.name, str(f.type)) for f in schema]


def _checked_file(path: str, kind: str) -> Path:
    file = Path(path)
    require(file.exists(), f"data path does not exist: {file}", "data.path", "check the path (relative paths start at the suite file)")
    require(file.is_file(), f"data path is not a file: {file}", "data.path", f"point it at one .{kind} file")
    return file


NUMERIC = ("int", "uint", "float", "double", "decimal", "bool")


def _files(path: str, kind: str) -> tuple[str, ...]:
    """The files a streamed table reads: the file, or every ``*.{kind}`` under the folder."""
    from raylife.workloads.tabular.streamed import table_files

    root = Path(path)
    require(root.exists(), f"data path does not exist: {root}", "data.path", "check the path (relative paths start at the suite file)")
    files = table_files(path, kind)
    require(bool(files), f"{root} holds no .{kind} files", "data.path", f"point it at a .{kind} file or a folder of them")
    return files


def _columns(path: str, kind: str, label_column: str, feature_columns: list[str] | None) -> list[str]:
    schema = dict(_schema(path, kind))
    require(label_column in schema, f"{Path(path).name} has no label column '{label_column}' (columns: {', '.join(schema)})",
            "data.options.label_column", "name the column that holds the class")
    if feature_columns:
        missing = [c for c in feature_columns if c not in schema]
        require(not missing, f"{Path(path).name} has no column(s) {', '.join(missing)}", "data.options.feature_columns",
                "list existing columns")
        return list(feature_columns)
    # pandas writes a non-default index as a column: it numbers rows, it is no feature
    features = [c for c, t in schema.items() if c != label_column and t.startswith(NUMERIC)
                and not c.startswith("__index_level_")]
    require(bool(features), f"{Path(path).name} has no numeric feature columns besides '{label_column}'",
            "data.path", "tabular models need numeric features")
    return features


def _describe(kind: str, path: str, label_column: str, feature_columns: list[str] | None, max_rows: int | None,
              labels: list[Any] | None = None, stream: bool = False) -> DataFacts:
    require(stream or not Path(path).is_dir(), f"data path is a folder: {path}", "data.path",
            f"a folder of .{kind} files streams through Ray Data: set data.options.stream = true, or name one file")
    if stream:
        return _describe_streamed(kind, path, label_column, feature_columns, max_rows)
    features = _columns(path, kind, label_column, feature_columns)
    if labels is None:
        labels = _read_table(path, kind, [label_column]).column(label_column).to_pylist()[:max_rows]
    classes = sorted({str(v) for v in labels if v is not None and v != ""})  # "": an empty CSV field, no class
    require(len(classes) >= 2, f"label column '{label_column}' has {len(classes)} distinct value(s); need 2 or more classes",
            "data.options.label_column", "check the column")
    return DataFacts(input_shape=(len(features),), num_classes=len(classes), dtype="float32",
                     source=f"{kind} {path} ({len(labels)} rows, {len(features)} features, label '{label_column}')",
                     model_args={})


def _load(kind: str, path: str, label_column: str, feature_columns: list[str] | None, max_rows: int | None) -> Dataset:
    features = _columns(path, kind, label_column, feature_columns)
    table = _read_table(path, kind, [*features, label_column])  # read once; describe works on its label column
    raw_labels = table.column(label_column).to_pylist()[:max_rows]
    facts = _describe(kind, path, label_column, feature_columns, max_rows, labels=raw_labels)
    labels = [str(v) for v in raw_labels]
    index = {c: i for i, c in enumerate(sorted({v for v in labels if v not in ("None", "")}))}
    x = np.stack([np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=np.float64) for c in features], axis=1)[:max_rows]
    keep = np.array([v in index for v in labels]) & ~np.isnan(x).any(axis=1)  # rows with a label and every feature
    y = np.asarray([index.get(v, -1) for v in labels], dtype=np.int64)
    return Dataset(x=_standardise(x[keep]), y=y[keep], facts=facts)


def _describe_streamed(kind: str, path: str, label_column: str, feature_columns: list[str] | None,
                       max_rows: int | None) -> DataFacts:
    from raylife.workloads.tabular.streamed import label_classes

    require(max_rows is None, f"max_rows = {max_rows} with stream = true", "data.options.max_rows",
            "a streamed table is read whole: drop max_rows, or stream = false to load the first rows")
    files = _files(path, kind)
    features = _columns(path, kind, label_column, feature_columns)
    classes = label_classes(kind, files, label_column)
    require(len(classes) >= 2, f"label column '{label_column}' has {len(classes)} distinct value(s); need 2 or more classes",
            "data.options.label_column", "check the column")
    return DataFacts(input_shape=(len(features),), num_classes=len(classes), dtype="float32",
                     source=f"{kind} {path} ({len(files)} file{'s' if len(files) > 1 else ''} streamed through Ray Data, "
                            f"{len(features)} features, label '{label_column}')",
                     streamed=True, model_args={})


def _stream(kind: str, path: str, seed: int, label_column: str, feature_columns: list[str] | None,
            max_rows: int | None) -> Any:
    from raylife.workloads.tabular.streamed import label_classes, table_splits

    facts = _describe_streamed(kind, path, label_column, feature_columns, max_rows)
    files = _files(path, kind)
    features = tuple(_columns(path, kind, label_column, feature_columns))
    return table_splits(kind, files, features, label_column, label_classes(kind, files, label_column), facts, seed)


def describe_csv(path: str, label_column: Column = "label", feature_columns: list[Column] | None = None,
                 max_rows: Count | None = None, stream: bool = False) -> DataFacts:
    return _describe("csv", path, label_column, feature_columns, max_rows, stream=stream)


def load_csv(path: str, label_column: Column = "label", feature_columns: list[Column] | None = None,
             max_rows: Count | None = None, stream: bool = False) -> Dataset:
    return _load("csv", path, label_column, feature_columns, max_rows)


def stream_csv(path: str, seed: int, label_column: Column = "label", feature_columns: list[Column] | None = None,
               max_rows: Count | None = None, stream: bool = True) -> Any:
    return _stream("csv", path, seed, label_column, feature_columns, max_rows)


def describe_parquet(path: str, label_column: Column = "label", feature_columns: list[Column] | None = None,
                     max_rows: Count | None = None, stream: bool = False) -> DataFacts:
    return _describe("parquet", path, label_column, feature_columns, max_rows, stream=stream)


def load_parquet(path: str, label_column: Column = "label", feature_columns: list[Column] | None = None,
                 max_rows: Count | None = None, stream: bool = False) -> Dataset:
    return _load("parquet", path, label_column, feature_columns, max_rows)


def stream_parquet(path: str, seed: int, label_column: Column = "label", feature_columns: list[Column] | None = None,
                   max_rows: Count | None = None, stream: bool = True) -> Any:
    return _stream("parquet", path, seed, label_column, feature_columns, max_rows)
