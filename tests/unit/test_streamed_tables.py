"""CSV and Parquet streamed through Ray Data (``stream = true``): splits by a seeded content hash, standardised exactly
as the whole-table load, a folder of files read as one table, and bad options refused before anything runs. The
Ray Data pipeline itself: tests/ray/test_streamed_files.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raylife.errors import RaylifeError
from raylife.plan import plan_trials
from raylife.suite.load import parse_suite
from raylife.workloads.tabular.data import load_parquet, stream_csv, stream_parquet


def write_table(folder, rows: int = 600, seed: int = 0, parts: int = 1) -> pd.DataFrame:
    """A learnable table (label: the sign of two features' sum), with one missing feature and one missing label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    frame = pd.DataFrame({f"c{i}": x[:, i] for i in range(4)} | {"label": np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")})
    frame.loc[3, "c2"] = np.nan
    frame.loc[7, "label"] = None
    folder.mkdir(parents=True, exist_ok=True)
    for i, rows_of_part in enumerate(np.array_split(np.arange(rows), parts)):
        part = frame.iloc[rows_of_part]
        part.to_parquet(folder / f"part-{i}.parquet")
        part.to_csv(folder / f"part-{i}.csv", index=False)
    return frame


def test_a_streamed_table_splits_by_content_and_standardises_like_the_whole_load(tmp_path):
    write_table(tmp_path)
    splits = stream_parquet(str(tmp_path / "part-0.parquet"), seed=3)
    whole = load_parquet(str(tmp_path / "part-0.parquet"))
    sizes = splits.sizes()
    assert sum(sizes.values()) == len(whole.y) == 598  # the rows with a missing feature or label are dropped
    assert abs(sizes["test"] / 598 - 0.2) < 0.06 and abs(sizes["train"] / 598 - 0.55) < 0.06
    rows = {name: splits.head(name, 10_000) for name in sizes}
    assert {name: len(y) for name, (_, y) in rows.items()} == sizes
    assert all(np.array_equal(np.sort(splits.labels(name)), np.sort(y)) for name, (_, y) in rows.items())
    x = np.concatenate([x for x, _ in rows.values()])
    assert np.allclose(np.sort(x, axis=0), np.sort(whole.x, axis=0), atol=1e-6)  # the whole table's mean and std
    assert splits.facts.streamed and splits.num_classes == 2 and splits.input_shape == (4,)
    with pytest.raises(TypeError, match="streamed"):
        splits["train"]
    # the same rows in CSV fall in the same splits; another seed splits differently
    csv = stream_csv(str(tmp_path / "part-0.csv"), seed=3)
    assert csv.sizes() == sizes and np.array_equal(np.sort(csv.head("test", 10_000)[0], axis=0),
                                                   np.sort(rows["test"][0], axis=0))
    assert stream_parquet(str(tmp_path / "part-0.parquet"), seed=4).sizes() != sizes


def test_identical_rows_share_a_split_and_a_folder_is_one_table(tmp_path):
    frame = write_table(tmp_path / "one", rows=300)
    doubled = pd.concat([frame, frame])
    (tmp_path / "two").mkdir()
    doubled.iloc[:300].to_parquet(tmp_path / "two" / "a.parquet")
    doubled.iloc[300:].to_parquet(tmp_path / "two" / "b.parquet")
    one = stream_parquet(str(tmp_path / "one" / "part-0.parquet"), seed=1)
    two = stream_parquet(str(tmp_path / "two"), seed=1)
    assert two.sizes() == {name: 2 * n for name, n in one.sizes().items()}  # every copy went where its twin went
    assert "2 files streamed" in two.facts.source


def test_bad_streamed_table_options_fail_in_one_line(tmp_path):
    write_table(tmp_path, parts=2)
    suite = ('name = "t"\nworkload = "tabular"\n[data]\nformat = "parquet"\npath = "{path}"\noptions = {options}\n'
             '[[models]]\nname = "mlp"\nframeworks = "torch"\n')

    def error(path: str, options: str) -> str:
        with pytest.raises(RaylifeError) as info:
            plan_trials(parse_suite(suite.format(path=path, options=options), "s.toml"), "s.toml", base_dir=tmp_path)
        return str(info.value)

    assert error(".", "{ }").startswith(f"data path is a folder: {tmp_path}")
    assert "set data.options.stream = true" in error(".", "{ }")
    assert error(".", "{ stream = true, max_rows = 10 }").startswith("max_rows = 10 with stream = true")
    assert "has no label column 'kind' (columns: c0, c1, c2, c3, label" in error(".", '{ stream = true, label_column = "kind" }')
    (tmp_path / "empty").mkdir()
    assert error("empty", "{ stream = true }").startswith(f"{tmp_path / 'empty'} holds no .parquet files")
    [trial] = plan_trials(parse_suite(suite.format(path=".", options="{ stream = true }"), "s.toml"), "s.toml",
                          base_dir=tmp_path)
    assert trial.streamed and trial.data.load().sizes()["train"] > 300


def write_texts(folder, rows: int = 400, seed: int = 0, parts: int = 1) -> pd.DataFrame:
    """Reviews whose label is whether "good" or "bad" is in them (one text missing, one label empty)."""
    rng = np.random.default_rng(seed)
    filler = ["the", "plot", "was", "quite", "film", "really", "music", "and"]
    texts, labels = [], []
    for _ in range(rows):
        good = bool(rng.integers(2))
        words = list(rng.choice(filler, size=int(rng.integers(3, 9)))) + ["good" if good else "bad"]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append("pos" if good else "neg")
    frame = pd.DataFrame({"review": texts, "label": labels})
    frame.loc[2, "review"] = None
    frame.loc[5, "label"] = ""
    folder.mkdir(parents=True, exist_ok=True)
    for i, rows_of_part in enumerate(np.array_split(np.arange(rows), parts)):
        part = frame.iloc[rows_of_part]
        part.to_parquet(folder / f"part-{i}.parquet", index=False)
        part.to_csv(folder / f"part-{i}.csv", index=False)
    return frame


def test_a_streamed_text_table_is_tokenised_like_the_whole_load(tmp_path):
    from raylife.workloads.text.data import load_parquet as load_texts
    from raylife.workloads.text.data import stream_csv as stream_text_csv
    from raylife.workloads.text.data import stream_parquet as stream_texts

    write_texts(tmp_path)
    options = {"text_column": "review", "seq_len": 12, "vocab_size": 20}
    splits = stream_texts(str(tmp_path / "part-0.parquet"), seed=1, **options)
    whole = load_texts(str(tmp_path / "part-0.parquet"), **options)
    assert sum(splits.sizes().values()) == len(whole.y) == 398  # the missing text and the empty label dropped
    x = np.concatenate([splits.head(name, 10_000)[0] for name in splits.sizes()])
    assert x.dtype == np.int64 and x.shape == (398, 12) and splits.facts.model_args == {"vocab_size": 20}
    assert sorted(map(tuple, x.tolist())) == sorted(map(tuple, whole.x.tolist()))  # one vocabulary, the same ids
    assert splits.num_classes == 2 and splits.facts.streamed and splits.input_shape == (12,)
    assert stream_text_csv(str(tmp_path / "part-0.csv"), seed=1, **options).sizes() == splits.sizes()
