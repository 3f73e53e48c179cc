"""Image folders as streamed file splits, without Ray: the maker's files, the split by file, the plan's checks, and
how a corrupt image is named. (Ray Data's side: tests/ray/test_streamed_files.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from raylife.cli import app
from raylife.errors import ClusterError
from raylife.plan import plan_trials
from raylife.runner.cluster import ClusterInfo, check_fits
from raylife.suite.load import parse_suite
from raylife.workloads.vision.data import load_imagefolder, stream_imagefolder
from raylife.workloads.vision.make_images import decoded_size, write_image_folder


def test_the_maker_writes_a_seeded_folder_of_every_class(tmp_path):
    made = write_image_folder(tmp_path / "a", classes=3, per_class=4, size=24, seed=7)
    assert (made.classes, made.files) == (3, 12) and made.bytes > 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["class_0", "class_1", "class_2"]
    write_image_folder(tmp_path / "b", classes=3, per_class=4, size=24, seed=7)
    same = [(p.read_bytes() == (tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes())
            for p in (tmp_path / "a").rglob("*.jpg")]
    assert len(same) == 12 and all(same)
    assert decoded_size(12, 24) == 12 * 24 * 24 * 3 * 4


def test_the_maker_classes_differ_more_than_images_of_one_class(tmp_path):
    """Learnable: an image is nearer its own class's mean than another class's (what a model can pick up)."""
    write_image_folder(tmp_path / "f", classes=4, per_class=20, size=32, seed=1)
    data = load_imagefolder(str(tmp_path / "f"), size=32)
    means = np.stack([data.x[data.y == c].mean(axis=0) for c in range(4)])
    nearest = np.argmin(((data.x[:, None] - means[None]) ** 2).sum(axis=(2, 3, 4)), axis=1)
    assert (nearest == data.y).mean() > 0.9


def test_make_images_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("keep me")
    result = CliRunner().invoke(app, ["make-images", str(tmp_path / "full"), "--classes", "2", "--per-class", "1"])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {tmp_path / 'full'} exists and is not an empty folder (PATH); "
                             "name a new folder: nothing is overwritten\n")
    assert (tmp_path / "full" / "x.txt").read_text() == "keep me"
    result = CliRunner().invoke(app, ["make-images", str(tmp_path / "new"), "--classes", "2", "--per-class", "3",
                                      "--size", "16"])
    assert result.exit_code == 0, result.output
    assert "6 images in 2 class folders" in result.output and 'format = "imagefolder"' in result.output


def test_the_splits_are_by_file_seeded_stratified_and_never_decoded(tmp_path):
    write_image_folder(tmp_path / "f", classes=2, per_class=20, size=16)
    splits = stream_imagefolder(str(tmp_path / "f"), seed=3, size=16)
    again = stream_imagefolder(str(tmp_path / "f"), seed=3, size=16)
    assert splits.streamed and all(splits.files[n][0] == again.files[n][0] for n in splits.files)
    assert splits.sizes() == {"test": 8, "val": 4, "retrain": 6, "train": 22}
    every = [p for n in splits.files for p in splits.files[n][0]]
    assert len(every) == len(set(every)) == 40
    for name, (paths, labels) in splits.files.items():
        assert [int(p.split("class_")[1][0]) for p in paths] == labels.tolist()  # a file's label is its folder
        counts = np.bincount(labels, minlength=2)
        assert counts[0] == counts[1]  # stratified: as many of each class in every split
    with pytest.raises(TypeError, match="is streamed: read it with batches"):
        splits["train"]
    x, y = splits.head("val", 3)
    assert x.shape == (3, 16, 16, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.tolist() == splits.labels("val")[:3].tolist()
    assert splits.input_shape == (16, 16, 3) and splits.num_classes == 2


def _trial(tmp_path, train: str = ""):
    write_image_folder(tmp_path / "f", classes=2, per_class=3, size=8)
    text = (f'name = "s"\nworkload = "vision"\n[data]\nformat = "imagefolder"\npath = "{tmp_path / "f"}"\n'
            f'[[models]]\nname = "cnn_small"\nframeworks = ["torch"]\n[train]\n{train}')
    [trial] = plan_trials(parse_suite(text, "s.toml"), "s.toml")
    return trial


def test_a_streamed_trial_keeps_a_cpu_free_for_ray_data(tmp_path):
    trial = _trial(tmp_path, "cpus_per_worker = 2\n")
    assert trial.streamed
    with pytest.raises(ClusterError) as info:
        check_fits([trial], ClusterInfo(cpus=2, gpus=0), "s.toml")
    assert str(info.value) == (
        "trial cnn_small/torch/w1 streams its data through Ray Data, which needs a CPU beside the training workers' 2; "
        "the cluster has 2 (s.toml, train.num_workers / train.cpus_per_worker); lower them so that at least one CPU "
        "stays free, or use more CPUs (--num-cpus)")
    check_fits([trial], ClusterInfo(cpus=3, gpus=0), "s.toml")


def bad_folder(tmp_path):
    """A learnable folder with one truncated JPEG and a stray text file in a class folder."""
    write_image_folder(tmp_path / "im", classes=2, per_class=6, size=16, seed=2)
    bad = tmp_path / "im" / "class_1" / "000003.jpg"
    bad.write_bytes(bad.read_bytes()[:200])
    (tmp_path / "im" / "class_0" / "README.txt").write_text("not an image")
    return tmp_path / "im", bad


def test_a_bad_image_is_named_by_raylifes_own_decode_and_a_stray_file_is_listed_not_decoded(tmp_path):
    from raylife.errors import DataError

    folder, bad = bad_folder(tmp_path)
    splits = stream_imagefolder(str(folder), seed=0, size=16)
    assert splits.ignored == (str((folder / "class_0" / "README.txt").resolve()),)
    assert sum(splits.sizes().values()) == 12  # images only
    paths = tuple(sorted(p for name in splits.files for p in splits.files[name][0]))
    with pytest.raises(DataError, match=f"^cannot decode image {bad.resolve()} \\(OSError: "):
        splits.reader.decode(paths)
    skipping = stream_imagefolder(str(folder), seed=0, size=16, on_bad_file="skip")
    x, kept = skipping.reader.decode(paths)
    assert len(x) == len(kept) == 11 and paths.index(str(bad.resolve())) not in kept
    with pytest.raises(DataError, match="cannot decode image .*000003.jpg"):
        load_imagefolder(str(folder), size=16)
    assert len(load_imagefolder(str(folder), size=16, on_bad_file="skip").y) == 11


def test_on_bad_file_is_a_data_key_of_file_formats_only(write_suite):
    folder_suite = write_suite("""
        name = "t"
        workload = "vision"
        [data]
        format = "imagefolder"
        path = "im"
        on_bad_file = "skip"
        [[models]]
        name = "cnn_small"
    """)
    write_image_folder(folder_suite.parent / "im", classes=2, per_class=4, size=8, seed=0)
    [trial, *_] = plan_trials(parse_suite(folder_suite.read_text()), str(folder_suite))
    assert trial.data_options["on_bad_file"] == "skip"
    digits = write_suite("""
        name = "t"
        workload = "vision"
        [data]
        on_bad_file = "skip"
        [[models]]
        name = "cnn_small"
    """, "digits.toml")
    with pytest.raises(Exception, match="data.on_bad_file applies to files decoded one by one"):
        plan_trials(parse_suite(digits.read_text()), str(digits))
    wrong = write_suite(folder_suite.read_text().replace('"skip"', '"ignore"'), "wrong.toml")
    with pytest.raises(Exception, match="on_bad_file"):
        plan_trials(parse_suite(wrong.read_text()), str(wrong))
