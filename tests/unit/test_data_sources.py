"""Every data source on small real files the tests write, and the one-line errors for bad ones."""

from __future__ import annotations

import pickle
import wave

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raylife.errors import DataError
from raylife.workloads import WORKLOADS


def facts_and_data(workload: str, fmt: str, **options):
    w = WORKLOADS.get(workload)
    facts = w.facts(None, fmt, options)
    data = w.sources[fmt].dataset(options)
    return facts, data


def data_error(workload: str, fmt: str, **options) -> str:
    with pytest.raises(DataError) as info:
        WORKLOADS.get(workload).facts(None, fmt, options)
    return str(info.value)


# -- vision ---------------------------------------------------------------------------------------

def write_images(root, classes=("cat", "dog"), per_class=3):
    from PIL import Image

    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((10, 12, 3), 40 * c + i, dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_imagefolder(tmp_path):
    write_images(tmp_path)
    facts, data = facts_and_data("vision", "imagefolder", path=str(tmp_path), size=16)
    assert facts.input_shape == (16, 16, 3) and facts.num_classes == 2
    assert data.x.shape == (6, 16, 16, 3) and data.x.dtype == np.float32
    assert data.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.x[4, 0, 0, 0] == pytest.approx((40 + 1) / 255)  # class 1, image 1


def test_imagefolder_errors(tmp_path):
    assert data_error("vision", "imagefolder", path=str(tmp_path / "nope")).startswith(f"data path does not exist: {tmp_path}/nope")
    (tmp_path / "only").mkdir()
    assert "has 1 class folder(s); imagefolder needs one folder per class, at least 2" in data_error(
        "vision", "imagefolder", path=str(tmp_path))
    (tmp_path / "empty").mkdir()
    assert f"class folder {tmp_path}/empty has no images" in data_error("vision", "imagefolder", path=str(tmp_path))


def test_cifar10_batches(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("data_batch_1", "test_batch"):
        raw = rng.integers(0, 256, size=(5, 3072), dtype=np.uint8)
        with open(tmp_path / name, "wb") as handle:
            pickle.dump({b"data": raw, b"labels": list(range(5))}, handle)
    facts, data = facts_and_data("vision", "cifar10", path=str(tmp_path))
    assert facts.input_shape == (32, 32, 3) and data.x.shape == (10, 32, 32, 3)
    with open(tmp_path / "data_batch_1", "rb") as handle:
        first = pickle.load(handle)[b"data"][0]
    assert data.x[0, 0, 0, 1] == pytest.approx(first[1024] / 255)  # channel-major rows → HWC: green of pixel (0, 0)
    (tmp_path / "empty").mkdir()
    assert "holds none of the CIFAR-10 python batches" in data_error("vision", "cifar10", path=str(tmp_path / "empty"))


def test_digits_resized_for_standard_architectures():
    facts = WORKLOADS.get("vision").facts("digits", None, {"size": 32, "channels": 3})
    assert facts.input_shape == (32, 32, 3)
    data = WORKLOADS.get("vision").sources["digits"].dataset({"size": 32, "channels": 3})
    assert data.x.shape == (1797, 32, 32, 3) and 0 <= data.x.min() and data.x.max() <= 1


# -- tabular --------------------------------------------------------------------------------------

def test_tabular_csv_and_parquet(tmp_path):
    rows = {"f1": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "f2": [0, 1, 0, 1, 0, 1], "name": list("abcdef"), "sick": ["y", "n"] * 3}
    (tmp_path / "t.csv").write_text("f1,f2,name,sick\n" + "\n".join(
        f"{a},{b},{c},{d}" for a, b, c, d in zip(*rows.values())) + "\n")
    pq.write_table(pa.table(rows), tmp_path / "t.parquet")
    for fmt in ("csv", "parquet"):
        facts, data = facts_and_data("tabular", fmt, path=str(tmp_path / f"t.{fmt}"), label_column="sick")
        assert facts.input_shape == (2,) and facts.num_classes == 2  # the text column "name" is not a feature
        assert data.x.shape == (6, 2) and abs(data.x.mean()) < 1e-6  # standardised
        assert data.y.tolist() == [1, 0, 1, 0, 1, 0]  # classes sorted: n=0, y=1


def test_tabular_missing_label_column(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    assert data_error("tabular", "csv", path=str(tmp_path / "t.csv"), label_column="label") == (
        "t.csv has no label column 'label' (columns: a, b) (data.options.label_column); name the column that holds the class"
    )


# -- text -----------------------------------------------------------------------------------------

def test_textfolder_and_text_csv(tmp_path):
    for label, texts in {"neg": ["bad film", "awful plot"], "pos": ["good film", "great plot", "fine"]}.items():
        (tmp_path / "docs" / label).mkdir(parents=True)
        for i, text in enumerate(texts):
            (tmp_path / "docs" / label / f"{i}.txt").write_text(text)
    facts, data = facts_and_data("text", "textfolder", path=str(tmp_path / "docs"), seq_len=4, vocab_size=20)
    assert facts.input_shape == (4,) and facts.model_args == {"vocab_size": 20}
    assert data.x.shape == (5, 4) and data.x.dtype == np.int64 and data.y.tolist() == [0, 0, 1, 1, 1]
    assert data.x[0, 2] == 0  # padded
    (tmp_path / "t.csv").write_text('text,label\n"a good one",pos\n"a bad one",neg\n')
    facts, data = facts_and_data("text", "csv", path=str(tmp_path / "t.csv"), seq_len=3)
    assert data.y.tolist() == [1, 0] and data.x[0].tolist() != data.x[1].tolist()


def test_tokenizer_is_deterministic():
    from raylife.workloads.text.tokenizer import UNKNOWN, WordTokenizer

    tokenizer = WordTokenizer.fit(["b a a", "c b a"], vocab_size=4)
    assert tokenizer.encode(["a b c zzz"], seq_len=5).tolist() == [[2, 3, UNKNOWN, UNKNOWN, 0]]  # a (3x), b (2x) kept


def test_generated_sentiment_needs_word_order():
    from raylife.workloads.text.data import generate_sentiment

    texts, labels = generate_sentiment(400, seed=1)
    assert texts == generate_sentiment(400, seed=1)[0]
    assert 0.4 < labels.mean() < 0.6
    assert any(" but " in t for t in texts) and any(" not " in t for t in texts)


# -- audio ----------------------------------------------------------------------------------------

def write_wav(file, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(file), "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        clip.writeframes((samples * 32767).astype("<i2").tobytes())


def test_wavfolder_resamples_and_pads(tmp_path):
    t = np.arange(8000) / 16000  # 0.5 s at 16 kHz
    for label, freq in {"no": 300, "yes": 900}.items():
        (tmp_path / label).mkdir()
        write_wav(tmp_path / label / "a.wav", 0.5 * np.sin(2 * np.pi * freq * t), 16000)
    (tmp_path / "_background_noise_").mkdir()  # Speech Commands' noise folder is not a class
    facts, data = facts_and_data("audio", "wavfolder", path=str(tmp_path), sample_rate=8000, duration_s=1.0)
    assert facts.num_classes == 2 and data.x.shape == (2, 8000)
    assert np.abs(data.x[0, :4000]).max() == pytest.approx(0.5, abs=0.01)
    assert np.abs(data.x[0, 4000:]).max() == 0  # 0.5 s of audio, padded to 1 s


def test_wavfolder_errors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert f"class folder {tmp_path}/a has no .wav files" in data_error("audio", "wavfolder", path=str(tmp_path))


def test_generated_keywords_are_seeded():
    load = WORKLOADS.get("audio").sources["keywords"].dataset
    a, b = load({"samples": 40}), load({"samples": 40})
    np.testing.assert_array_equal(a.x, b.x)
    assert a.x.shape == (40, 8000) and a.facts.synthetic


# -- recommendation -------------------------------------------------------------------------------

def test_ratings_csv(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n7,100,5,0\n7,200,2,0\n9,100,4.5,0\n")
    facts, data = facts_and_data("recommendation", "ratings", path=str(tmp_path / "ratings.csv"))
    assert facts.model_args == {"num_users": 2, "num_items": 2}
    assert data.x.tolist() == [[0, 0], [0, 1], [1, 0]] and data.y.tolist() == [1, 0, 1]
    assert "has no column(s) item" in data_error("recommendation", "ratings", path=str(tmp_path / "ratings.csv"), item_column="item")
    assert "every rating in" in data_error("recommendation", "ratings", path=str(tmp_path / "ratings.csv"), threshold=1.0)


# -- random inputs --------------------------------------------------------------------------------

def test_random_inputs_measure_no_quality():
    vision = WORKLOADS.get("vision")
    facts = vision.facts("random", None, {"shape": [16, 16, 3], "samples": 100})
    assert not facts.measures_quality and facts.synthetic
    splits = vision.load_splits("random", 0, {"shape": [16, 16, 3], "samples": 100})
    assert splits["train"][0].shape[1:] == (16, 16, 3)
    ids = WORKLOADS.get("text").load_splits("random", 0, {"samples": 100, "high": 50})
    assert ids["train"][0].dtype == np.int64 and ids["train"][0][:].max() < 50
